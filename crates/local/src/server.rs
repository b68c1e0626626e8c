//! The connections: accepting them under a cap, their TLS handshake when the server
//! speaks HTTPS ([`Config::tls`]), serving each with hyper's HTTP/1 server under a header
//! read timeout and an idle timeout, and stopping them all on shutdown. Also the server's
//! certificate ([`Tls`]): made at start, or the one kept in the data directory.
//!
//! What a request does is the router's business (`api`); this module only decides which
//! connections are served and for how long. The limits are [`Config`]'s
//! `max_connections`, `header_read_timeout` and `connection_idle_timeout`; a TLS handshake
//! holds a slot and must end within `header_read_timeout`.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::api::stopped;
use crate::{Config, Error};

/// Pause after a failed accept (out of file descriptors, usually) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The names the certificate is made for: a loopback server's.
const CERTIFICATE_NAMES: [&str; 3] = ["127.0.0.1", "localhost", "::1"];
/// Where a data directory keeps the certificate and its key.
const CERTIFICATE_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";

/// The server's certificate, as clients need it.
#[derive(Debug, Clone)]
pub(crate) struct Certificate {
    /// The PEM of the certificate: what clients trust.
    pub pem: String,
    /// The file holding it, when a data directory keeps it.
    pub file: Option<PathBuf>,
}

/// What serving HTTPS takes: the acceptor and the certificate it presents.
pub(crate) struct Tls {
    pub acceptor: TlsAcceptor,
    pub certificate: Certificate,
}

impl Tls {
    /// The certificate and key kept in `data_dir` if both are there and load, else a new
    /// self-signed pair (written there when there is a data directory).
    pub(crate) fn new(data_dir: Option<&Path>) -> Result<Self, Error> {
        let Some(dir) = data_dir else {
            let (cert, key) = self_signed()?;
            return Self::from_pem(cert, key, None);
        };
        let file = Some(dir.join(CERTIFICATE_FILE));
        match read_pair(dir).map_err(Error::from).and_then(|pair| match pair {
            Some((cert, key)) => Self::from_pem(cert, key, file.clone()).map(Some),
            None => Ok(None),
        }) {
            Ok(Some(kept)) => return Ok(kept),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "the kept certificate cannot be used: making a new one");
            }
        }
        let (cert, key) = self_signed()?;
        // The key first: a certificate on disk always has its key beside it.
        write_file(dir, KEY_FILE, key.as_bytes(), true)?;
        write_file(dir, CERTIFICATE_FILE, cert.as_bytes(), false)?;
        Self::from_pem(cert, key, file)
    }

    /// The acceptor presenting the certificate `cert_pem` signed for by `key_pem`.
    fn from_pem(cert_pem: String, key_pem: String, file: Option<PathBuf>) -> Result<Self, Error> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>()?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut server = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain, key)?;
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            acceptor: TlsAcceptor::from(Arc::new(server)),
            certificate: Certificate { pem: cert_pem, file },
        })
    }
}

/// A new self-signed certificate for [`CERTIFICATE_NAMES`] and its key, as PEM.
fn self_signed() -> Result<(String, String), Error> {
    let names: Vec<String> = CERTIFICATE_NAMES.iter().map(|n| (*n).to_owned()).collect();
    let mut params = rcgen::CertificateParams::new(names)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "kvs-local");
    let key = rcgen::KeyPair::generate()?;
    let cert = params.self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// The certificate and key PEMs kept in `dir`; `None` when either file is missing.
fn read_pair(dir: &Path) -> io::Result<Option<(String, String)>> {
    let read = |name: &str| match std::fs::read_to_string(dir.join(name)) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    Ok(read(CERTIFICATE_FILE)?.zip(read(KEY_FILE)?))
}

/// Writes `dir/name` whole (a temporary file renamed), readable by its owner only when
/// `private`.
fn write_file(dir: &Path, name: &str, bytes: &[u8], private: bool) -> Result<(), Error> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    Ok(())
}

/// Serves `router` on `listener` until `shutdown` turns true, then waits for the open
/// connections to end (their responses watch the same signal). With `tls`, each
/// connection first completes a TLS handshake.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    tls: Option<TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cap = config.max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(cap));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_read_timeout);
    let handshake_timeout = config.header_read_timeout;
    // A GetMedia response waiting at the live edge moves no byte for up to `idle_timeout`:
    // it must not be cut for that.
    let idle_timeout = config.connection_idle_timeout.max(config.idle_timeout.saturating_mul(2));
    loop {
        // Wait for a free slot first: past the cap, connections wait in the backlog.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = stopped(&mut shutdown) => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            _ = stopped(&mut shutdown) => break,
        };
        // Fragments are written as they come: no Nagle delay between small writes.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        // Activity is counted on the TCP side, under TLS: the handshake and TLS records
        // are bytes moving too.
        let io = Tracked::new(tcp);
        let served = Served {
            http: http.clone(),
            router: router.clone(),
            peer,
            last: io.last.clone(),
            idle_timeout,
            shutdown: shutdown.clone(),
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            // The slot is held from the accept to the end, handshake included.
            let _permit = permit;
            match tls {
                None => served.run(io).await,
                Some(acceptor) => {
                    let mut shutdown = served.shutdown.clone();
                    // The handshake counts as the first request's header read: a client
                    // that connects and never handshakes gives its slot back as one that
                    // never sends its headers does.
                    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(io));
                    let stream = tokio::select! {
                        done = handshake => match done {
                            Ok(Ok(stream)) => stream,
                            Ok(Err(e)) => {
                                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!(%peer, "TLS handshake too slow: closed");
                                return;
                            }
                        },
                        _ = stopped(&mut shutdown) => return,
                    };
                    served.run(stream).await;
                }
            }
        });
    }
    // Every connection holds a slot until it ends: having them all back means all ended.
    let _ = slots.acquire_many(cap as u32).await;
}

/// One accepted connection, to serve over plain TCP or TLS.
struct Served {
    http: http1::Builder,
    router: Router,
    peer: SocketAddr,
    last: Activity,
    idle_timeout: Duration,
    shutdown: watch::Receiver<bool>,
}

impl Served {
    /// Serves HTTP/1 on `io` until the connection ends, goes idle for too long, or the
    /// server stops (then gracefully: the response in flight ends first).
    async fn run<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Served { http, router, peer, last, idle_timeout, mut shutdown } = self;
        let connection = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(router));
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            let idle_until = last.deadline(idle_timeout);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = tokio::time::sleep_until(idle_until) => {
                    if last.deadline(idle_timeout) <= Instant::now() {
                        tracing::debug!(%peer, "connection idle too long: closed");
                        return;
                    }
                }
                _ = stopped(&mut shutdown), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When a connection last moved a byte, in ms since it opened.
#[derive(Debug, Clone)]
struct Activity {
    opened: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.opened.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// When the connection is idle for `timeout` if nothing moves until then.
    fn deadline(&self, timeout: Duration) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + timeout
    }
}

/// A TCP stream that records when bytes last moved either way.
struct Tracked {
    tcp: TcpStream,
    last: Activity,
}

impl Tracked {
    fn new(tcp: TcpStream) -> Self {
        Self { tcp, last: Activity { opened: Instant::now(), last_ms: Arc::new(AtomicU64::new(0)) } }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.last.touch();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.last.touch();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.last.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
