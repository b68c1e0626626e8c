//! The PutMedia connection: an HTTP/1.1 chunked POST to `{data endpoint}/putMedia`, signed
//! with SigV4 as the AWS producer SDKs sign it, whose body is fed fragment by fragment
//! while its response streams acknowledgements back.
//!
//! HTTPS goes through rustls with ring: the platform's roots (AWS), plus any CA given
//! (`--ca-file`, `AWS_CA_BUNDLE`, `SSL_CERT_FILE`: a local server's own certificate),
//! checked by `kvs_consumer::tls` as the control plane's client checks it. What to send
//! and when to reconnect belong to the driver.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tracing::debug;

use crate::{Ack, AckParser, Error};

/// The service name KVS signs with.
const SERVICE: &str = "kinesisvideo";
/// The payload hash PutMedia is signed with, stated in `x-amz-content-sha256`: the body
/// streams for as long as the camera films, so it cannot be hashed before it is sent.
/// (The C producer SDK signs the SHA-256 of an empty body instead, without the header;
/// the local server asks for this spelling, which states what was signed.)
const PAYLOAD_HASH: &str = "UNSIGNED-PAYLOAD";
/// Body chunks queued towards the socket: a little slack, so memory stays in the buffer.
const BODY_QUEUE: usize = 4;
/// Largest error body read.
const MAX_ERROR_BODY: usize = 64 << 10;

/// The body type of PutMedia requests.
type Body = BoxBody<Bytes, Infallible>;

/// What a connection reports to the driver.
#[derive(Debug)]
pub(crate) enum Event {
    /// An acknowledgement.
    Ack(Ack),
    /// The connection failed or ended: `retry` says whether a new one may do better.
    Closed { retry: bool, why: String, fatal: Option<Error> },
}

/// An HTTP(S) client for PutMedia; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct PutClient {
    client: Client<HttpsConnector<HttpConnector>, Body>,
}

impl PutClient {
    /// A client trusting the platform's roots and, when given, the certificates of a PEM.
    pub(crate) fn new(extra_ca_pem: Option<&[u8]>) -> Result<Self, Error> {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            debug!(%error, "a platform certificate could not be loaded");
        }
        let (added, _) = roots.add_parsable_certificates(native.certs);
        debug!(added, "platform roots");
        if let Some(pem) = extra_ca_pem {
            // The consumer's check, so that both clients take and refuse the same files.
            let certificates = kvs_consumer::tls::ca_certificates(pem)
                .map_err(|e| Error::Config(format!("CA file: {e}")))?;
            for cert in certificates {
                roots.add(cert).map_err(|e| Error::Config(format!("CA file: {e}")))?;
            }
        }
        let tls =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| Error::Config(format!("TLS: {e}")))?
                .with_root_certificates(roots)
                .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // One request per connection: PutMedia holds its connection for its whole life.
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(connector);
        Ok(Self { client })
    }

    /// Opens a PutMedia request and returns the sender of its body and the receiver of its
    /// events. The response is read on a task of its own.
    pub(crate) fn open(
        &self,
        target: &Target,
        credentials: &Credentials,
        now: SystemTime,
    ) -> Result<(mpsc::Sender<Bytes>, mpsc::Receiver<Event>), Error> {
        let (body_tx, body_rx) = mpsc::channel::<Bytes>(BODY_QUEUE);
        let stream = futures_util::stream::unfold(body_rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (Ok::<_, Infallible>(Frame::data(chunk)), rx))
        });
        let body: Body = StreamBody::new(stream).boxed();
        let request = signed_request(target, credentials, now, body)?;
        let (event_tx, event_rx) = mpsc::channel(64);
        let client = self.client.clone();
        tokio::spawn(async move {
            let closed = match client.request(request).await {
                Ok(response) => read_response(response, &event_tx).await,
                Err(e) => match kvs_consumer::tls::untrusted_certificate(&e) {
                    Some(why) => Event::Closed {
                        retry: false,
                        why: format!("PutMedia: {why}"),
                        fatal: Some(Error::Config(format!("PutMedia: {why}"))),
                    },
                    None => {
                        Event::Closed { retry: true, why: format!("PutMedia: {}", chain(&e)), fatal: None }
                    }
                },
            };
            let _ = event_tx.send(closed).await;
        });
        Ok((body_tx, event_rx))
    }
}

/// Where and as whom to put.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The data endpoint (`https://...` or `http://127.0.0.1:...`), without a trailing `/`.
    pub endpoint: String,
    /// Stream name, or ARN when it starts with `arn:`.
    pub stream: String,
    /// Region to sign for.
    pub region: String,
    /// `x-amzn-producer-start-timestamp`, in ms since the epoch.
    pub producer_start_ms: i64,
}

/// The PutMedia request with its SigV4 headers. Never logs the credentials.
fn signed_request(
    target: &Target,
    credentials: &Credentials,
    now: SystemTime,
    body: Body,
) -> Result<http::Request<Body>, Error> {
    let uri: http::Uri = format!("{}/putMedia", target.endpoint.trim_end_matches('/'))
        .parse()
        .map_err(|e| Error::Config(format!("data endpoint {:?}: {e}", target.endpoint)))?;
    let host = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
    let start = format!("{}.{:03}", target.producer_start_ms / 1000, target.producer_start_ms % 1000);
    let stream_header =
        if target.stream.starts_with("arn:") { "x-amzn-stream-arn" } else { "x-amzn-stream-name" };
    let headers: Vec<(&str, String)> = vec![
        ("host", host),
        (stream_header, target.stream.clone()),
        ("x-amzn-fragment-timecode-type", "ABSOLUTE".into()),
        ("x-amzn-producer-start-timestamp", start),
        ("x-amzn-fragment-acknowledgment-required", "1".into()),
        ("x-amz-content-sha256", PAYLOAD_HASH.into()),
        ("content-type", "application/octet-stream".into()),
    ];
    let mut request = http::Request::post(uri.clone());
    for (name, value) in &headers {
        request = request.header(*name, value);
    }
    let mut request = request.body(body).map_err(|e| Error::Config(format!("PutMedia request: {e}")))?;
    let identity = credentials.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&target.region)
        .name(SERVICE)
        .time(now)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| Error::Config(format!("signing: {e}")))?
        .into();
    let signable = SignableRequest::new(
        "POST",
        uri.to_string(),
        headers.iter().map(|(k, v)| (*k, v.as_str())),
        SignableBody::Precomputed(PAYLOAD_HASH.into()),
    )
    .map_err(|e| Error::Config(format!("signing: {e}")))?;
    let (instructions, _) =
        sign(signable, &params).map_err(|e| Error::Config(format!("signing: {e}")))?.into_parts();
    instructions.apply_to_request_http1x(&mut request);
    // Kept out of any debug output of the request.
    for name in ["authorization", "x-amz-security-token"] {
        if let Some(value) = request.headers_mut().get_mut(name) {
            value.set_sensitive(true);
        }
    }
    Ok(request)
}

/// Reads a PutMedia response to its end, sending each ack; returns how it closed.
async fn read_response(
    response: http::Response<hyper::body::Incoming>,
    events: &mpsc::Sender<Event>,
) -> Event {
    let status = response.status();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(|t| t.split(':').next().unwrap_or_default().to_owned());
    let mut body = response.into_body();
    if !status.is_success() {
        let mut text = Vec::new();
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                text.extend_from_slice(
                    &data[..data.len().min(MAX_ERROR_BODY - text.len().min(MAX_ERROR_BODY))],
                );
            }
        }
        let message = serde_json::from_slice::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("Message").or(v.get("message")).and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&text).chars().take(300).collect());
        let code = error_type.unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
        return classify(status.as_u16(), code, message);
    }
    let mut parser = AckParser::default();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                let Some(data) = frame.data_ref() else { continue };
                for ack in parser.feed(data) {
                    match ack {
                        Ok(ack) => {
                            if events.send(Event::Ack(ack)).await.is_err() {
                                return Event::Closed { retry: true, why: "closed".into(), fatal: None };
                            }
                        }
                        Err(e) => debug!(error = %e, "unreadable ack skipped"),
                    }
                }
            }
            Some(Err(e)) => {
                return Event::Closed { retry: true, why: format!("acks: {}", chain(&e)), fatal: None };
            }
            None => {
                if let Some(Ok(ack)) = parser.finish() {
                    let _ = events.send(Event::Ack(ack)).await;
                }
                return Event::Closed { retry: true, why: "the response ended".into(), fatal: None };
            }
        }
    }
}

/// Sorts an HTTP error answer: throttling and server errors are retried.
fn classify(status: u16, code: String, message: String) -> Event {
    let retry = status >= 500
        || status == 429
        || matches!(
            code.as_str(),
            "ClientLimitExceededException" | "ConnectionLimitExceededException" | "ThrottlingException"
        );
    let why = format!("PutMedia: {code}: {message}");
    let fatal = (!retry).then_some(Error::Service { operation: "PutMedia", code, message });
    Event::Closed { retry, why, fatal }
}

/// An error and its causes on one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_carry_the_kvs_headers_and_a_sigv4_signature() {
        let target = Target {
            endpoint: "http://127.0.0.1:4567/".into(),
            stream: "cam".into(),
            region: "us-west-2".into(),
            producer_start_ms: 1_700_000_000_123,
        };
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("token".into()), None, "test");
        let body: Body = http_body_util::Empty::new().map_err(|never| match never {}).boxed();
        let r = signed_request(&target, &creds, SystemTime::UNIX_EPOCH, body).unwrap();
        assert_eq!(r.uri(), "http://127.0.0.1:4567/putMedia");
        let h = |name: &str| r.headers().get(name).unwrap().to_str().unwrap().to_owned();
        assert_eq!(h("x-amzn-stream-name"), "cam");
        assert_eq!(h("x-amzn-fragment-timecode-type"), "ABSOLUTE");
        assert_eq!(h("x-amzn-producer-start-timestamp"), "1700000000.123");
        assert_eq!(h("x-amz-security-token"), "token");
        let auth = h("authorization");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/19700101/us-west-2/kinesisvideo/"));
        assert!(auth.contains("x-amzn-stream-name") && !auth.contains("secret"), "{auth}");
        assert!(r.headers().get("authorization").unwrap().is_sensitive());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        assert!(matches!(PutClient::new(Some(b"not a pem")), Err(Error::Config(_))));
    }

    #[test]
    fn http_errors_are_sorted() {
        let retry = |status, code: &str| match classify(status, code.into(), "m".into()) {
            Event::Closed { retry, .. } => retry,
            Event::Ack(_) => unreachable!(),
        };
        assert!(retry(400, "ClientLimitExceededException") && retry(503, "HTTP 503"));
        assert!(!retry(404, "ResourceNotFoundException") && !retry(401, "NotAuthorizedException"));
    }
}
