//! `--metrics ADDR` of `kvs fleet`, `kvs consume` and `kvs serve`: Prometheus text at
//! `http://ADDR/metrics`, served by `metrics-exporter-prometheus` from what the library
//! crates record through the `metrics` facade.

use std::net::SocketAddr;

use anyhow::Context;

/// Starts the exporter (within the current tokio runtime). A second call fails: there is
/// one recorder per process.
pub fn serve(addr: SocketAddr) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "serving metrics beyond loopback");
    }
    metrics_exporter_prometheus::PrometheusBuilder::new()
        .with_http_listener(addr)
        .install()
        .with_context(|| format!("serving metrics on {addr}"))?;
    eprintln!("metrics: http://{addr}/metrics");
    Ok(())
}
