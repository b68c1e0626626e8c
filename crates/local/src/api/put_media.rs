//! PutMedia: a producer's MKV body, cut into fragments as it arrives, each stored and
//! acknowledged (BUFFERING when its Cluster starts to arrive, RECEIVED, PERSISTED), IDLE
//! acknowledgements while nothing arrives, and at most one ERROR, after which the upload
//! ends, as AWS's PutMedia does.
//!
//! A body signed with `UNSIGNED-PAYLOAD` streams: fragments are stored as they complete.
//! A body whose SHA-256 is signed (stated in `x-amz-content-sha256`, or hashed into the
//! signature when that header is absent) is read whole, up to
//! [`Config::put_media_buffer`](crate::Config::put_media_buffer), and checked before
//! anything is stored: a mismatch is refused with `InvalidSignatureException` and
//! nothing is kept.

use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Uri};
use bytes::Bytes;
use futures_util::{Stream as _, StreamExt};
use kvs_mkv::FragmentNumber;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::errors::{ApiError, PutMediaErrorId};
use super::{
    ApiResult, BODY_CHANNEL, Shared, StreamRef, authenticate, faults, millis, stopped, streamed_response,
};
use crate::auth::{Payload, UNSIGNED_PAYLOAD};
use crate::ingest::{Ingested, Ingester, TimecodeType};
use crate::store::{ConnectionSlot, DataApi, Refusal, Stream, now_ms};

/// How long, and how many bytes, a body is still read (and dropped) after an ERROR:
/// closing a socket with unread bytes resets it, and the reset can destroy the ERROR
/// acknowledgement before the producer reads it.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);
const LINGER_BYTES: usize = 8 << 20;

/// What an upload reads: the body as it comes, or the whole of it, read to be checked.
type Chunks = Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, axum::Error>> + Send>>;

pub(super) async fn put_media(shared: Arc<Shared>, uri: &Uri, headers: HeaderMap, body: Body) -> ApiResult {
    let hash = headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok());
    let chunks: Chunks = if shared.config.credentials.is_none() || hash == Some(UNSIGNED_PAYLOAD) {
        authenticate(&shared, &Method::POST, uri, &headers, Payload::Unsigned)?;
        Box::pin(body.into_data_stream())
    } else {
        let limit = shared.config.put_media_buffer;
        let whole = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ApiError::invalid(format!(
                "a PutMedia body whose hash is signed is read whole, and this one is unreadable or \
                 over {limit} bytes: sign it with UNSIGNED-PAYLOAD to stream it"
            ))
        })?;
        authenticate(&shared, &Method::POST, uri, &headers, Payload::Bytes(&whole))?;
        Box::pin(futures_util::stream::iter([Ok(whole)]))
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let reference =
        StreamRef { stream_name: header("x-amzn-stream-name"), stream_arn: header("x-amzn-stream-arn") };
    let stream = reference.resolve(&shared.store)?;
    let timecode_type = match header("x-amzn-fragment-timecode-type").as_deref() {
        None | Some("ABSOLUTE") => TimecodeType::Absolute,
        Some("RELATIVE") => TimecodeType::Relative,
        Some(other) => {
            return Err(ApiError::invalid(format!("x-amzn-fragment-timecode-type {other:?} is not valid")));
        }
    };
    // A negative start is refused by the first fragment's acknowledgement (4007).
    let start_ms = match header("x-amzn-producer-start-timestamp") {
        Some(text) => {
            millis(text.parse::<f64>().map_err(|_| ApiError::invalid("x-amzn-producer-start-timestamp"))?)?
        }
        None => now_ms(),
    };
    faults(&stream, Refusal::PutMedia).await?;
    let slot = stream.admit(DataApi::PutMedia, shared.config.put_media_tps, u32::MAX).map_err(|with| {
        ApiError::new(with.error(), format!("{} for stream {}", with.error_type(), stream.info.name))
    })?;
    let ingester = Ingester::for_put_media(timecode_type, start_ms, shared.config.put_media_buffer);
    let (tx, rx) = mpsc::channel(BODY_CHANNEL);
    tokio::spawn(Upload { shared, stream, ingester, tx, timecode: 0, stored: 0 }.run(chunks, slot));
    Ok(streamed_response(rx, "application/json"))
}

/// One acknowledgement line.
fn ack(event: &str, timecode: i64, number: Option<&FragmentNumber>) -> Bytes {
    let mut value = json!({ "EventType": event, "FragmentTimecode": timecode });
    if let Some(number) = number {
        value["FragmentNumber"] = json!(number.as_str());
    }
    Bytes::from(format!("{value}\n"))
}

fn error_ack(timecode: i64, error: PutMediaErrorId) -> Bytes {
    let value = json!({
        "EventType": "ERROR",
        "FragmentTimecode": timecode,
        "ErrorId": error.id(),
        "ErrorCode": error.name(),
    });
    Bytes::from(format!("{value}\n"))
}

/// An upload in progress: the ingester and where acknowledgements go.
struct Upload {
    shared: Arc<Shared>,
    stream: Arc<Stream>,
    ingester: Ingester,
    tx: mpsc::Sender<Bytes>,
    /// Cluster Timecode of the fragment being received (from its BUFFERING, which always
    /// comes first), for the acknowledgements that follow.
    timecode: i64,
    /// Fragments stored, for [`Faults::put_media_error_after`](crate::Faults).
    stored: u64,
}

/// Whether an upload goes on.
enum Flow {
    Continue,
    End,
}

impl Upload {
    async fn run(self, mut chunks: Chunks, slot: ConnectionSlot) {
        let _slot = slot;
        let shutdown = self.shared.shutdown.clone();
        self.receive(&mut chunks).await;
        if *shutdown.borrow() {
            return;
        }
        // The response ends here (the sender is gone); the rest of the body is read and
        // dropped for a moment, so that the producer gets the last acknowledgement.
        let drain = async {
            let mut left = LINGER_BYTES;
            while let Some(Ok(chunk)) = chunks.next().await {
                left = match left.checked_sub(chunk.len()) {
                    Some(left) => left,
                    None => break,
                };
            }
        };
        let _ = tokio::time::timeout(LINGER, drain).await;
    }

    /// Reads the body and acknowledges it until it ends, fails, idles out or the server
    /// stops.
    async fn receive(mut self, chunks: &mut Chunks) {
        let config = &self.shared.config;
        let (idle_ack, idle_timeout) = (config.put_media_idle_ack, config.put_media_idle_timeout);
        let mut shutdown = self.shared.shutdown.clone();
        let mut last_data = Instant::now();
        let mut last_event = last_data;
        loop {
            let idle = tokio::time::sleep_until((last_event + idle_ack).min(last_data + idle_timeout));
            let results = tokio::select! {
                chunk = chunks.next() => match chunk {
                    Some(Ok(chunk)) => {
                        last_data = Instant::now();
                        last_event = last_data;
                        self.ingester.feed(chunk)
                    }
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "PutMedia body ended with an error");
                        let _ = self.tx.send(error_ack(self.timecode, PutMediaErrorId::StreamReadError)).await;
                        return;
                    }
                    None => {
                        let results = self.ingester.finish();
                        self.acknowledge(results).await;
                        return;
                    }
                },
                _ = idle => {
                    let now = Instant::now();
                    if now >= last_data + idle_timeout {
                        tracing::debug!(stream = self.stream.info.name, "PutMedia idle too long: ended");
                        return;
                    }
                    last_event = now;
                    if self.tx.send(Bytes::from_static(b"{\"EventType\":\"IDLE\"}\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
                _ = stopped(&mut shutdown) => return,
            };
            if let Flow::End = self.acknowledge(results).await {
                return;
            }
            // A body already read whole has no more to come: do not wait for idle acks.
            if chunks.size_hint() == (0, Some(0)) {
                let results = self.ingester.finish();
                self.acknowledge(results).await;
                return;
            }
        }
    }

    /// Stores and acknowledges what the ingester handed out.
    async fn acknowledge(&mut self, results: Vec<Result<Ingested, crate::Error>>) -> Flow {
        for result in results {
            let acks = match result {
                Ok(Ingested::Buffering { timecode_ms }) => {
                    self.timecode = timecode_ms;
                    vec![ack("BUFFERING", timecode_ms, None)]
                }
                // Acknowledged with the Cluster Timecode its BUFFERING gave.
                Ok(Ingested::Fragment(new)) => {
                    let faults = self.stream.faults();
                    if let Some(latency) = faults.latency {
                        tokio::time::sleep(latency).await;
                    }
                    match faults.put_media_error_after {
                        Some((after, error)) if self.stored >= after => {
                            let _ = self.tx.send(error_ack(self.timecode, error)).await;
                            return Flow::End;
                        }
                        _ => {}
                    }
                    if self.stream.is_deleted() {
                        let _ =
                            self.tx.send(error_ack(self.timecode, PutMediaErrorId::StreamNotActive)).await;
                        return Flow::End;
                    }
                    match self.shared.store.append(&self.stream, new) {
                        Ok(f) => {
                            self.stored += 1;
                            vec![
                                ack("RECEIVED", self.timecode, Some(&f.number)),
                                ack("PERSISTED", self.timecode, Some(&f.number)),
                            ]
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "could not store a fragment");
                            let _ =
                                self.tx.send(error_ack(self.timecode, PutMediaErrorId::ArchivalError)).await;
                            return Flow::End;
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "PutMedia refused");
                    let _ = self.tx.send(error_ack(self.timecode, e.put_media_error())).await;
                    return Flow::End;
                }
            };
            for a in acks {
                if self.tx.send(a).await.is_err() {
                    return Flow::End;
                }
            }
        }
        Flow::Continue
    }
}
