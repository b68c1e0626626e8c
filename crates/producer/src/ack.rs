//! PutMedia acknowledgements: [`AckParser`] turns the response body (newline-separated JSON,
//! in chunks cut anywhere) into [`Ack`]s. Sans-IO; what an ack means for the fragments in
//! flight belongs to the [`UploadBuffer`](crate::UploadBuffer).

use bytes::Bytes;
use serde_json::Value;

use crate::Error;

/// Longest acknowledgement line accepted: real ones are under 200 bytes.
const MAX_LINE: usize = 64 << 10;

/// What an acknowledgement says happened (`EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AckEvent {
    /// KVS started receiving the fragment.
    Buffering,
    /// KVS received the whole fragment.
    Received,
    /// KVS persisted the fragment: it may leave the buffer.
    Persisted,
    /// KVS could not take the fragment (see [`Ack::error_id`]).
    Error,
    /// The connection is alive but KVS receives no data.
    Idle,
}

/// One acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ack {
    /// The event.
    pub event: AckEvent,
    /// `FragmentTimecode`: the Cluster Timecode of the fragment (absent on IDLE).
    pub timecode: Option<i64>,
    /// `FragmentNumber` KVS gave the fragment.
    pub fragment_number: Option<String>,
    /// `ErrorId` of an ERROR (4000-4012, 4500-4506, 5000, 5001).
    pub error_id: Option<u32>,
    /// `ErrorCode` of an ERROR, e.g. `INVALID_MKV_DATA`.
    pub error_code: Option<String>,
}

impl Ack {
    /// Whether another connection may succeed where this ERROR happened: stream read
    /// errors, the connection-duration limit, internal and storage errors. Others (a
    /// fragment too large or too long, bad MKV, a deleted stream, KMS) come back the same.
    pub fn is_retryable_error(&self) -> bool {
        matches!(self.error_id, None | Some(4000 | 4003 | 5000 | 5001))
    }
}

/// Splits a PutMedia response body into acknowledgements. Feed chunks as they come;
/// each returns the acks its complete lines hold.
///
/// ```
/// use kvs_producer::{AckEvent, AckParser};
/// let mut p = AckParser::default();
/// assert!(p.feed(b"{\"EventType\":\"PERSI").is_empty());
/// let acks = p.feed(b"STED\",\"FragmentTimecode\":1597730826769,\"FragmentNumber\":\"9134\"}\n");
/// let ack = acks[0].as_ref().unwrap();
/// assert_eq!((ack.event, ack.timecode), (AckEvent::Persisted, Some(1597730826769)));
/// ```
#[derive(Debug, Default)]
pub struct AckParser {
    line: Vec<u8>,
}

impl AckParser {
    /// Adds a chunk of the body; returns the acks (or unreadable lines) it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<Result<Ack, Error>> {
        let mut out = Vec::new();
        let mut rest = chunk;
        while let Some(end) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..end]);
            rest = &rest[end + 1..];
            let line = std::mem::take(&mut self.line);
            if let Some(ack) = parse_line(&line) {
                out.push(ack);
            }
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE {
            self.line.clear();
            out.push(Err(Error::BadAck(format!("a line over {MAX_LINE} bytes"))));
        }
        out
    }

    /// The end of the body: a last line without a newline is still read.
    pub fn finish(&mut self) -> Option<Result<Ack, Error>> {
        let line = std::mem::take(&mut self.line);
        parse_line(&line)
    }
}

/// One line: `None` for a blank one.
fn parse_line(line: &[u8]) -> Option<Result<Ack, Error>> {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let bad = || Error::BadAck(text.chars().take(200).collect());
    let Ok(value) = serde_json::from_str::<Value>(text) else { return Some(Err(bad())) };
    // The API reference shows the fields wrapped in "Acknowledgement"; the service sends
    // them bare. Both are read.
    let value = value.get("Acknowledgement").unwrap_or(&value);
    let event = match value.get("EventType").and_then(Value::as_str) {
        Some(e) if e.eq_ignore_ascii_case("BUFFERING") => AckEvent::Buffering,
        Some(e) if e.eq_ignore_ascii_case("RECEIVED") => AckEvent::Received,
        Some(e) if e.eq_ignore_ascii_case("PERSISTED") => AckEvent::Persisted,
        Some(e) if e.eq_ignore_ascii_case("ERROR") => AckEvent::Error,
        Some(e) if e.eq_ignore_ascii_case("IDLE") => AckEvent::Idle,
        _ => return Some(Err(bad())),
    };
    let number_or_text = |key: &str| match value.get(key) {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    Some(Ok(Ack {
        event,
        timecode: number_or_text("FragmentTimecode").and_then(|t| t.parse().ok()),
        fragment_number: number_or_text("FragmentNumber"),
        error_id: number_or_text("ErrorId").and_then(|t| t.parse().ok()),
        error_code: number_or_text("ErrorCode"),
    }))
}

/// A whole body's acks at once, for tests and small tools.
pub fn parse_acks(body: &Bytes) -> Vec<Result<Ack, Error>> {
    let mut parser = AckParser::default();
    let mut acks = parser.feed(body);
    acks.extend(parser.finish());
    acks
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = concat!(
        "{\"EventType\":\"BUFFERING\",\"FragmentTimecode\":1000}\n",
        "{\"EventType\":\"RECEIVED\",\"FragmentTimecode\":1000,\"FragmentNumber\":\"9134\"}\n",
        "\n",
        "{\"EventType\":\"PERSISTED\",\"FragmentTimecode\":1000,\"FragmentNumber\":\"9134\"}\n",
        "{\"EventType\":\"IDLE\"}\n",
        "{\"EventType\":\"ERROR\",\"FragmentTimecode\":3000,",
        "\"ErrorId\":4006,\"ErrorCode\":\"INVALID_MKV_DATA\"}\n",
        "{\"Acknowledgement\":{\"EventType\":\"ERROR\",\"FragmentTimecode\":4000,\"ErrorId\":\"5000\"}}",
    );

    #[test]
    fn any_chunking_reads_the_same_acks() {
        let whole: Vec<String> = parse_acks(&Bytes::from(BODY)).iter().map(|a| format!("{a:?}")).collect();
        assert_eq!(whole.len(), 6);
        for size in 1..BODY.len() {
            let mut p = AckParser::default();
            let mut got: Vec<String> = Vec::new();
            for chunk in BODY.as_bytes().chunks(size) {
                got.extend(p.feed(chunk).iter().map(|a| format!("{a:?}")));
            }
            got.extend(p.finish().iter().map(|a| format!("{a:?}")));
            assert_eq!(got, whole, "{size}");
        }
    }

    #[test]
    fn fields_are_read() {
        let acks: Vec<Ack> = parse_acks(&Bytes::from(BODY)).into_iter().map(Result::unwrap).collect();
        assert_eq!(acks[2].event, AckEvent::Persisted);
        assert_eq!(acks[2].fragment_number.as_deref(), Some("9134"));
        assert_eq!((acks[3].event, acks[3].timecode), (AckEvent::Idle, None));
        assert_eq!((acks[4].error_id, acks[4].error_code.as_deref()), (Some(4006), Some("INVALID_MKV_DATA")));
        assert!(!acks[4].is_retryable_error());
        assert_eq!((acks[5].timecode, acks[5].error_id), (Some(4000), Some(5000)));
        assert!(acks[5].is_retryable_error());
    }

    #[test]
    fn garbage_lines_are_errors_and_do_not_stop_the_parser() {
        let acks = parse_acks(&Bytes::from("not json\n{\"EventType\":\"NEW\"}\n{\"EventType\":\"IDLE\"}\n"));
        assert!(matches!(acks[0], Err(Error::BadAck(_))));
        assert!(matches!(acks[1], Err(Error::BadAck(_))));
        assert!(matches!(acks[2], Ok(Ack { event: AckEvent::Idle, .. })));
        let mut p = AckParser::default();
        assert!(matches!(p.feed(&vec![b'x'; MAX_LINE + 1])[..], [Err(Error::BadAck(_))]));
    }
}
