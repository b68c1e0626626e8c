use kvs_streaming::{
    DashSessionRequest, FragmentInfo, HlsSessionRequest, Session, SessionSpec, SessionTable, SessionToken,
    UnixMillis,
};

/// The clock of the tests: 2023-11-14T22:13:20Z.
pub const NOW: UnixMillis = UnixMillis(1_700_000_000_000);

/// `count` fragments of `duration_ms`, back to back, the last ending at `end`; fragment
/// numbers 1000, 1001...; server timestamps 500 ms after producer ones.
pub fn stream(count: u64, duration_ms: u64, end: UnixMillis) -> Vec<FragmentInfo> {
    (0..count)
        .map(|i| {
            let producer = end.minus((count - i) * duration_ms);
            FragmentInfo {
                fragment_number: (1000 + i).to_string(),
                producer,
                server: producer.plus(500),
                duration_ms,
            }
        })
        .collect()
}

pub fn numbers(fragments: impl IntoIterator<Item = impl std::borrow::Borrow<FragmentInfo>>) -> Vec<String> {
    fragments.into_iter().map(|f| f.borrow().fragment_number.clone()).collect()
}

pub fn hls(json: &str) -> SessionSpec {
    serde_json::from_str::<HlsSessionRequest>(json).unwrap().validate(NOW).unwrap()
}

pub fn dash(json: &str) -> SessionSpec {
    serde_json::from_str::<DashSessionRequest>(json).unwrap().validate(NOW).unwrap()
}

pub fn open(table: &mut SessionTable, spec: SessionSpec, fragments: &[FragmentInfo]) -> SessionToken {
    table.create("cam", spec, fragments, NOW).unwrap()
}

pub fn session<'a>(table: &'a mut SessionTable, token: &SessionToken, now: UnixMillis) -> &'a mut Session {
    table.get_mut(token.as_str(), now).unwrap()
}

/// Epoch seconds of `t`, as a request body carries them.
pub fn secs(t: UnixMillis) -> f64 {
    t.0 as f64 / 1000.0
}
