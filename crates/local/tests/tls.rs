//! `Config::tls`: HTTPS through the official SDK client trusting the server's own
//! certificate, the handshake held to the header read timeout under the connection cap,
//! and the certificate kept in the data directory across a restart.

use std::time::Duration;

use aws_sdk_kinesisvideo::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use kvs_local::{Config, LocalKvs};
use tokio::net::TcpStream;

use crate::util::{closed_by_server, config};

/// A control-plane client over rustls that trusts `kvs`'s certificate only.
fn control(kvs: &LocalKvs) -> aws_sdk_kinesisvideo::Client {
    let pem = kvs.certificate_pem().expect("a TLS server has a certificate");
    let trust = TrustStore::empty().with_pem_certificate(pem.as_bytes());
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(TlsContext::builder().with_trust_store(trust).build().unwrap())
        .build_https();
    let config = aws_sdk_kinesisvideo::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTLS", "secret", None, None, "tests"))
        .endpoint_url(kvs.endpoint_url())
        .http_client(http)
        .retry_config(aws_sdk_kinesisvideo::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_kinesisvideo::Client::from_conf(config)
}

#[tokio::test]
async fn a_client_that_never_handshakes_gives_its_slot_back() {
    let kvs = LocalKvs::start(Config {
        tls: true,
        header_read_timeout: Duration::from_millis(300),
        max_connections: 1,
        ..config()
    })
    .await
    .unwrap();
    assert_eq!(kvs.endpoint_url(), format!("https://{}", kvs.local_addr()));
    assert!(kvs.certificate_pem().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(kvs.certificate_file(), None, "in memory, the PEM is only handed out");
    kvs.create_stream("s").unwrap();
    // The one slot, taken by a connection that sends nothing.
    let mut silent = TcpStream::connect(kvs.local_addr()).await.unwrap();
    // The call waits in the backlog until the handshake timeout frees the slot.
    let call = control(&kvs).describe_stream().stream_name("s").send();
    let out = tokio::time::timeout(Duration::from_secs(60), call).await.expect("the call was answered");
    assert_eq!(out.unwrap().stream_info().unwrap().stream_name(), Some("s"));
    closed_by_server(&mut silent).await;
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_data_dir_keeps_the_certificate_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let with_dir = tls_in(dir.path());
    let kvs = LocalKvs::start(with_dir.clone()).await.unwrap();
    let pem = kvs.certificate_pem().unwrap().to_owned();
    let file = dir.path().join("cert.pem");
    assert_eq!(kvs.certificate_file(), Some(file.as_path()));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), pem);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("key.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is its owner's only");
    }
    control(&kvs).create_stream().stream_name("kept").send().await.unwrap();
    let addr = kvs.local_addr();
    let trusting_the_first = control(&kvs);
    kvs.shutdown().await;

    let again = LocalKvs::start(Config { addr, ..with_dir }).await.unwrap();
    assert_eq!(again.certificate_pem(), Some(pem.as_str()), "the same certificate");
    // A client made for the first server goes on with the second.
    let out = trusting_the_first.describe_stream().stream_name("kept").send().await.unwrap();
    assert_eq!(out.stream_info().unwrap().stream_name(), Some("kept"));
    again.shutdown().await;

    // A kept certificate that does not load is replaced, not served broken.
    std::fs::write(&file, "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n").unwrap();
    let renewed = LocalKvs::start(tls_in(dir.path())).await.unwrap();
    let new_pem = renewed.certificate_pem().unwrap().to_owned();
    assert_ne!(new_pem, pem);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), new_pem);
    control(&renewed).describe_stream().stream_name("kept").send().await.unwrap();
    renewed.shutdown().await;
}

/// A TLS server keeping its store and certificate in `dir`.
fn tls_in(dir: &std::path::Path) -> Config {
    Config { tls: true, data_dir: Some(dir.to_owned()), ..config() }
}
