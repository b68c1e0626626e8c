use std::time::Duration;

use kvs_local::{Config, LocalKvs};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::util::{closed_by_server, config, control};

#[tokio::test]
async fn half_sent_headers_are_closed_and_calls_get_through_a_full_cap() {
    let kvs = LocalKvs::start(Config {
        header_read_timeout: Duration::from_millis(300),
        max_connections: 8,
        ..config()
    })
    .await
    .unwrap();
    kvs.create_stream("s").unwrap();
    // Slowloris: as many connections as the cap, each stuck in its request line.
    let mut stuck = Vec::new();
    for _ in 0..8 {
        let mut tcp = TcpStream::connect(kvs.local_addr()).await.unwrap();
        tcp.write_all(b"POST /describeStream HT").await.unwrap();
        stuck.push(tcp);
    }
    // The cap is full: the call waits in the backlog until the timeout frees a slot.
    let call = control(&kvs).describe_stream().stream_name("s").send();
    let out = tokio::time::timeout(Duration::from_secs(60), call).await.expect("the call was answered");
    assert_eq!(out.unwrap().stream_info().unwrap().stream_name(), Some("s"));
    for tcp in &mut stuck {
        closed_by_server(tcp).await;
    }
    // And after.
    control(&kvs).describe_stream().stream_name("s").send().await.unwrap();
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_request_whose_body_stops_coming_is_closed() {
    let kvs = LocalKvs::start(Config { connection_idle_timeout: Duration::from_millis(300), ..config() })
        .await
        .unwrap();
    // Headers complete, then 1 byte of the 100 promised, then nothing.
    let mut tcp = TcpStream::connect(kvs.local_addr()).await.unwrap();
    tcp.write_all(b"POST /describeStream HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{").await.unwrap();
    closed_by_server(&mut tcp).await;
    kvs.shutdown().await;
}
