//! The connections: accepting them under a cap, serving each with hyper's HTTP/1 server
//! under a header read timeout and an idle timeout, and stopping them all on shutdown.
//!
//! What a request does is the router's business (`api`); this module only decides which
//! connections are served and for how long. The limits are [`Config`]'s
//! `max_connections`, `header_read_timeout` and `connection_idle_timeout`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use crate::Config;
use crate::api::stopped;

/// Pause after a failed accept (out of file descriptors, usually) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` until `shutdown` turns true, then waits for the open
/// connections to end (their responses watch the same signal).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    mut shutdown: watch::Receiver<bool>,
) {
    let cap = config.max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(cap));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(config.header_read_timeout);
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
        let io = Tracked::new(tcp);
        let last = io.last.clone();
        let connection = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(router.clone()));
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let _permit = permit;
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
        });
    }
    // Every connection holds a slot until it ends: having them all back means all ended.
    let _ = slots.acquire_many(cap as u32).await;
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
