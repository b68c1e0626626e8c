//! Plain HTTP GETs, as a player or a browser makes them (no SDK, no signature), and
//! relative URL resolution as players do it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// A GET's answer.
#[derive(Debug)]
pub struct Got {
    pub status: u16,
    pub content_type: String,
    pub error_type: Option<String>,
    pub body: Bytes,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
}

/// GET `url`, read whole.
pub async fn get(url: &str) -> Got {
    send(Method::GET, url, &[], Bytes::new()).await
}

/// A request with these headers and body, as a browser's `fetch` makes it: no signature.
pub async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Bytes) -> Got {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut request = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(Full::new(body)).unwrap()).await.unwrap();
    let header = |name: &str| response.headers().get(name).map(|v| v.to_str().unwrap().to_owned());
    let status = response.status().as_u16();
    let content_type = header("content-type").unwrap_or_default();
    let error_type = header("x-amzn-errortype").map(|t| t.split(':').next().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Got { status, content_type, error_type, body }
}

/// `relative` resolved against the directory of `base` (what players do with playlist URIs).
pub fn join(base: &str, relative: &str) -> String {
    if relative.contains("://") {
        return relative.to_owned();
    }
    let path_end = base.find('?').unwrap_or(base.len());
    let dir = &base[..base[..path_end].rfind('/').unwrap() + 1];
    format!("{dir}{relative}")
}
