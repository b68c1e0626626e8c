//! The web page of `kvs serve`: its files come from the binary (hls.js and its licence
//! included, nothing from elsewhere), and the stream list it polls.

use bytes::Bytes;
use hyper::Method;
use kvs_local::{Config, Credentials, LocalKvs};
use kvs_streaming::page::PAGE_TOKEN_HEADER;

use crate::fetch::{Got, get, join, send};
use crate::util::{KEY_ID, SECRET, camera_mkv, config, control, start};

#[tokio::test]
async fn the_page_ships_its_player_and_lists_the_streams() {
    let kvs = start().await;
    let base = kvs.endpoint_url();
    // No signatures checked, no token: the page is the endpoint's root.
    assert_eq!(kvs.page_url(), format!("{base}/"));
    for path in ["/", "/?stream=cam"] {
        let page = get(&format!("{base}{path}")).await;
        assert_eq!((page.status, page.content_type.as_str()), (200, "text/html; charset=utf-8"));
        let html = page.text();
        assert!(html.contains(r#"<script src="/vendor/hls.min.js"></script>"#), "{html}");
        assert!(html.contains(r#"<script src="/app.js"></script>"#));
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"), "{html}");
    }
    let hls = get(&format!("{base}/vendor/hls.min.js")).await;
    assert_eq!((hls.status, hls.content_type.as_str()), (200, "text/javascript; charset=utf-8"));
    assert!(hls.body.len() > 100_000);
    let licence = get(&format!("{base}/vendor/hls.js.LICENSE")).await;
    assert!(licence.text().contains("Apache License"));
    let app = get(&format!("{base}/app.js")).await.text();
    // `/?stream=NAME` opens that stream's player at once, muted.
    assert!(app.contains(r#"new URLSearchParams(location.search).get("stream")"#));
    assert!(app.contains("video.muted = true"));
    // The page sends its token in the header the server reads it from.
    assert!(app.contains(&format!(r#"{{ "{PAGE_TOKEN_HEADER}": PAGE_TOKEN }}"#)), "{app}");
    assert!(!app.contains("http://") && !app.contains("https://"));
    assert_eq!(get(&format!("{base}/style.css")).await.status, 200);

    kvs.create_stream("cam").unwrap();
    kvs.create_stream("idle").unwrap();
    kvs.ingest_mkv("cam", camera_mkv(4)).unwrap();
    let list = get(&format!("{base}/api/streams")).await;
    assert_eq!((list.status, list.content_type.as_str()), (200, "application/json"));
    let list: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    let streams = list["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 2);
    assert_eq!(streams[0]["name"], "cam");
    assert_eq!(streams[0]["fragments"], 4);
    assert!(streams[0]["last_fragment_ms"].as_u64().unwrap() > 1_700_000_000_000);
    // The camera's producer times are from 2023: the lag is large and known to be positive.
    assert!(streams[0]["lag_ms"].as_u64().unwrap() > 0);
    assert!(streams[0]["fragments_per_second"].as_f64().unwrap() == 0.4);
    assert!(streams[0]["ingest_bytes_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(streams[1]["name"], "idle");
    assert_eq!(streams[1]["fragments"], 0);
    assert!(streams[1]["last_fragment_ms"].is_null() && streams[1]["lag_ms"].is_null());

    // Anything else is still AWS's unknown operation.
    let other = get(&format!("{base}/nope")).await;
    assert_eq!((other.status, other.error_type.as_deref()), (404, Some("UnknownOperationException")));
    kvs.shutdown().await;
}

/// The page's stream list, with this token.
async fn list_streams(base: &str, token: Option<&str>) -> Got {
    let headers: Vec<_> = token.map(|token| (PAGE_TOKEN_HEADER, token)).into_iter().collect();
    send(Method::GET, &format!("{base}/api/streams"), &headers, Bytes::new()).await
}

/// A JSON POST as the page makes it: no signature, its token when it has one.
async fn post_as_page(base: &str, operation: &str, token: Option<&str>, body: serde_json::Value) -> Got {
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(token.map(|token| (PAGE_TOKEN_HEADER, token)));
    send(Method::POST, &format!("{base}/{operation}"), &headers, Bytes::from(body.to_string())).await
}

#[tokio::test]
async fn with_credentials_the_page_reads_with_its_token_and_nothing_else_does() {
    let kvs = LocalKvs::start(Config { credentials: Some(Credentials::new(KEY_ID, SECRET)), ..config() })
        .await
        .unwrap();
    let base = kvs.endpoint_url();
    kvs.create_stream("cam").unwrap();
    kvs.ingest_mkv("cam", camera_mkv(3)).unwrap();
    let page_url = kvs.page_url();
    let token = page_url.strip_prefix(&format!("{base}/?token=")).expect("the page address carries a token");
    assert_eq!(token.len(), 48);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    let wrong = "0".repeat(48);

    // The files hold no data: anyone gets them.
    assert_eq!(get(&page_url).await.status, 200);
    assert_eq!(get(&format!("{base}/app.js")).await.status, 200);

    // The stream list wants the token.
    let list = |token| list_streams(&base, token);
    for refused in [list(None).await, list(Some(&wrong)).await, list(Some(&token[1..])).await] {
        assert_eq!(
            (refused.status, refused.error_type.as_deref()),
            (403, Some("UnrecognizedClientException"))
        );
        assert!(refused.text().contains("the address `kvs serve` printed"), "{}", refused.text());
    }
    let listed = list(Some(token)).await;
    assert_eq!(listed.status, 200);
    let listed: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(
        (listed["streams"][0]["name"].as_str(), listed["streams"][0]["fragments"].as_u64()),
        (Some("cam"), Some(3))
    );

    // The page's reads: unsigned, refused without the token or with a wrong one.
    let session = serde_json::json!({ "StreamName": "cam", "PlaybackMode": "LIVE" });
    let unsigned = post_as_page(&base, "getHLSStreamingSessionURL", None, session.clone()).await;
    assert_eq!(
        (unsigned.status, unsigned.error_type.as_deref()),
        (403, Some("MissingAuthenticationTokenException"))
    );
    let guessed = post_as_page(&base, "getHLSStreamingSessionURL", Some(&wrong), session.clone()).await;
    assert_eq!((guessed.status, guessed.error_type.as_deref()), (403, Some("UnrecognizedClientException")));
    let answer = post_as_page(&base, "getHLSStreamingSessionURL", Some(token), session).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let url: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let master_url = url["HLSStreamingSessionURL"].as_str().unwrap();
    let master = get(master_url).await;
    assert_eq!(master.status, 200);
    let media_url = join(master_url, master.text().lines().find(|l| !l.starts_with('#')).unwrap());
    let media = get(&media_url).await.text();
    assert_eq!(media.lines().filter(|l| l.starts_with("#EXTINF")).count(), 3, "{media}");

    let fragments =
        post_as_page(&base, "listFragments", Some(token), serde_json::json!({ "StreamName": "cam" })).await;
    let fragments: serde_json::Value = serde_json::from_slice(&fragments.body).unwrap();
    assert_eq!(fragments["Fragments"].as_array().map(Vec::len), Some(3));

    // Writes and deletes are never the page's: the token does not stand in for them.
    for (operation, body) in [
        ("deleteStream", serde_json::json!({ "StreamName": "cam" })),
        ("createStream", serde_json::json!({ "StreamName": "other" })),
        ("getDataEndpoint", serde_json::json!({ "StreamName": "cam", "APIName": "PUT_MEDIA" })),
    ] {
        let refused = post_as_page(&base, operation, Some(token), body).await;
        assert_eq!(
            (refused.status, refused.error_type.as_deref()),
            (401, Some("NotAuthorizedException")),
            "{operation}"
        );
    }
    // A signed client sees the stream whole and nothing created.
    let described = control(&kvs).list_streams().send().await.unwrap();
    let names: Vec<_> = described.stream_info_list().iter().filter_map(|s| s.stream_name()).collect();
    assert_eq!(names, ["cam"]);
    kvs.shutdown().await;
}
