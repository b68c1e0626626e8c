//! The web page of `kvs serve`: its files come from the binary (hls.js and its licence
//! included, nothing from elsewhere), and the stream list it polls.

use crate::fetch::get;
use crate::util::{camera_mkv, start};

#[tokio::test]
async fn the_page_ships_its_player_and_lists_the_streams() {
    let kvs = start().await;
    let base = kvs.endpoint_url();
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
