use kvs_streaming::{Error, FragmentKey, SessionTable, UnixMillis};

use crate::common::{NOW, dash, hls, numbers, open, secs, session, stream};

fn on_demand(start: UnixMillis, end: UnixMillis, extra: &str) -> String {
    format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{},"EndTimestamp":{}}}}}{extra}}}"#,
        secs(start),
        secs(end)
    )
}

fn live_replay(start: UnixMillis, end: Option<UnixMillis>) -> String {
    let end = end.map_or(String::new(), |e| format!(r#","EndTimestamp":{}"#, secs(e)));
    format!(
        r#"{{"StreamName":"cam","PlaybackMode":"LIVE_REPLAY","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{}{end}}}}}}}"#,
        secs(start)
    )
}

#[test]
fn tokens_are_distinct_192_bit_hex() {
    let mut table = SessionTable::default();
    let fragments = stream(3, 2_000, NOW);
    let a = open(&mut table, hls(r#"{"StreamName":"cam"}"#), &fragments);
    let b = open(&mut table, hls(r#"{"StreamName":"cam"}"#), &fragments);
    assert_ne!(a, b);
    assert_eq!(a.as_str().len(), 48);
    assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(table.len(), 2);
}

#[test]
fn unknown_token_is_not_authorized() {
    let mut table = SessionTable::default();
    let error = table.get_mut("00ff", NOW).unwrap_err();
    assert_eq!(error, Error::UnknownSession);
    assert_eq!((error.error_type(), error.status()), ("NotAuthorizedException", 401));
}

#[test]
fn session_expires_exactly_after_expires_seconds() {
    let mut table = SessionTable::default();
    let token = open(&mut table, hls(r#"{"StreamName":"cam","Expires":600}"#), &stream(3, 2_000, NOW));
    assert!(table.get_mut(token.as_str(), NOW.plus(599_999)).is_ok());
    assert_eq!(table.get_mut(token.as_str(), NOW.plus(600_000)).unwrap_err(), Error::SessionExpired);
    assert_eq!(
        table.get_mut(token.as_str(), NOW.plus(600_000)).unwrap_err().error_type(),
        "NotAuthorizedException"
    );
}

#[test]
fn expired_sessions_are_forgotten_when_the_table_is_full() {
    let mut table = SessionTable::with_limit(2);
    let fragments = stream(3, 2_000, NOW);
    open(&mut table, hls(r#"{"StreamName":"cam"}"#), &fragments);
    open(&mut table, hls(r#"{"StreamName":"cam"}"#), &fragments);
    let error = table.create("cam", hls(r#"{"StreamName":"cam"}"#), &fragments, NOW).unwrap_err();
    assert_eq!(error, Error::TooManySessions { limit: 2 });
    assert_eq!(error.error_type(), "ClientLimitExceededException");
    // 300 s later both have expired: room again.
    let later = NOW.plus(300_000);
    let fresh = stream(3, 2_000, later);
    assert!(table.create("cam", hls(r#"{"StreamName":"cam"}"#), &fresh, later).is_ok());
    assert_eq!(table.len(), 1);
}

#[test]
fn live_needs_a_fragment_in_the_last_30_seconds() {
    let mut table = SessionTable::default();
    // The newest server timestamp is the end - 2 s + 0.5 s: now - 30.001 s, then now - 30 s.
    let stale = stream(3, 2_000, NOW.minus(28_501));
    let error = table.create("cam", hls(r#"{"StreamName":"cam"}"#), &stale, NOW).unwrap_err();
    assert!(matches!(error, Error::ResourceNotFound(_)));
    assert_eq!((error.error_type(), error.status()), ("ResourceNotFoundException", 404));
    let fresh = stream(3, 2_000, NOW.minus(28_500));
    assert!(table.create("cam", hls(r#"{"StreamName":"cam"}"#), &fresh, NOW).is_ok());
}

#[test]
fn ranged_sessions_need_a_fragment_in_the_range() {
    let mut table = SessionTable::default();
    let fragments = stream(10, 1_000, NOW.minus(100_000));
    let error =
        table.create("cam", hls(&on_demand(NOW.minus(50_000), NOW, "")), &fragments, NOW).unwrap_err();
    assert!(matches!(error, Error::ResourceNotFound(_)));
}

#[test]
fn live_shows_the_last_five_then_slides() {
    let mut table = SessionTable::default();
    let fragments = stream(12, 1_000, NOW);
    let token = open(&mut table, hls(r#"{"StreamName":"cam"}"#), &fragments);
    let window = session(&mut table, &token, NOW).window(&fragments, NOW);
    assert_eq!(numbers(window.entries.iter().map(|e| &e.fragment)), ["1007", "1008", "1009", "1010", "1011"]);
    assert_eq!(window.entries.iter().map(|e| e.sequence).collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
    assert_eq!(window.media_sequence, 0);
    assert!(!window.complete);

    // Two more ingested: the window slides by two, numbering holds.
    let later = NOW.plus(2_000);
    let grown = stream(14, 1_000, later);
    let window = session(&mut table, &token, later).window(&grown, later);
    assert_eq!(numbers(window.entries.iter().map(|e| &e.fragment)), ["1009", "1010", "1011", "1012", "1013"]);
    assert_eq!(window.media_sequence, 2);
    // DiscontinuityMode defaults to ALWAYS with server timestamps: one per fragment.
    assert_eq!(window.discontinuity_sequence, 2);
    assert_eq!(window.entries[0].media_time_ms, 2_000);
}

#[test]
fn live_never_adds_a_fragment_older_than_the_newest_shown() {
    let mut table = SessionTable::default();
    let mut fragments = stream(6, 1_000, NOW);
    let late = fragments.remove(3); // 1003 arrives after 1005
    let token =
        open(&mut table, hls(r#"{"StreamName":"cam","MaxMediaPlaylistFragmentResults":10}"#), &fragments);
    session(&mut table, &token, NOW).window(&fragments, NOW);
    fragments.push(late);
    let window = session(&mut table, &token, NOW).window(&fragments, NOW);
    assert_eq!(numbers(window.entries.iter().map(|e| &e.fragment)), ["1000", "1001", "1002", "1004", "1005"]);
}

#[test]
fn on_demand_shows_the_range_up_to_the_maximum_once() {
    let mut table = SessionTable::default();
    let fragments = stream(20, 1_000, NOW.minus(1_000)); // server ts: now-20.5 s .. now-1.5 s
    let start = fragments[4].server;
    let end = fragments[15].server;
    let token = open(&mut table, hls(&on_demand(start, end, "")), &fragments);
    let window = session(&mut table, &token, NOW).window(&fragments, NOW);
    assert_eq!(window.entries.len(), 12);
    assert_eq!(window.entries[0].fragment.fragment_number, "1004");
    assert_eq!(window.entries[11].fragment.fragment_number, "1015");
    assert!(window.complete);

    let capped =
        open(&mut table, hls(&on_demand(start, end, r#","MaxMediaPlaylistFragmentResults":3"#)), &fragments);
    let window = session(&mut table, &capped, NOW).window(&fragments, NOW);
    assert_eq!(numbers(window.entries.iter().map(|e| &e.fragment)), ["1004", "1005", "1006"]);
}

#[test]
fn live_replay_releases_at_playback_pace() {
    let mut table = SessionTable::default();
    let fragments = stream(20, 2_000, NOW.minus(1_000));
    let start = fragments[2].server;
    let token = open(&mut table, hls(&live_replay(start, None)), &fragments);
    let seen = |table: &mut SessionTable, now: UnixMillis| {
        let w = session(table, &token, now).window(&fragments, now);
        (w.media_sequence, numbers(w.entries.iter().map(|e| &e.fragment)), w.complete)
    };
    assert_eq!(seen(&mut table, NOW), (0, numbers(&fragments[2..7]), false));
    // One fragment (2 s) played: one more released, the window slides.
    assert_eq!(seen(&mut table, NOW.plus(1_999)).0, 0);
    assert_eq!(seen(&mut table, NOW.plus(2_000)), (1, numbers(&fragments[3..8]), false));
    assert_eq!(seen(&mut table, NOW.plus(10_000)), (5, numbers(&fragments[7..12]), false));
}

#[test]
fn live_replay_with_an_end_completes() {
    let mut table = SessionTable::default();
    let fragments = stream(20, 2_000, NOW.minus(1_000));
    let token =
        open(&mut table, hls(&live_replay(fragments[2].server, Some(fragments[8].server))), &fragments);
    let later = NOW.plus(60_000);
    let window = session(&mut table, &token, later).window(&fragments, later);
    assert!(window.complete);
    assert_eq!(window.media_sequence, 2);
    assert_eq!(numbers(window.entries.iter().map(|e| &e.fragment)), numbers(&fragments[4..9]));
}

#[test]
fn producer_timestamps_dedupe_to_the_largest_fragment_number() {
    let mut table = SessionTable::default();
    let mut fragments = stream(4, 1_000, NOW.minus(1_000));
    let mut duplicate = fragments[1].clone();
    duplicate.fragment_number = "2000".into();
    duplicate.server = NOW.minus(100);
    fragments.push(duplicate);
    let json = format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{{"FragmentSelectorType":"PRODUCER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{},"EndTimestamp":{}}}}}}}"#,
        secs(fragments[0].producer),
        secs(fragments[3].producer)
    );
    let token = open(&mut table, hls(&json), &fragments);
    let window = session(&mut table, &token, NOW).window(&fragments, NOW);
    assert_eq!(numbers(window.entries.iter().map(|e| &e.fragment)), ["1000", "2000", "1002", "1003"]);
}

#[test]
fn on_discontinuity_marks_gaps_above_50_ms_only() {
    let mut table = SessionTable::default();
    let mut fragments = stream(5, 1_000, NOW.minus(1_000));
    fragments[2].server = fragments[2].server.plus(50); // 50 ms late: no discontinuity
    fragments[3].server = fragments[3].server.plus(51 + 50); // 51 ms after 1002's end
    fragments[4].server = fragments[4].server.plus(51 + 50); // right after 1003
    let json = format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","DiscontinuityMode":"ON_DISCONTINUITY","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{},"EndTimestamp":{}}}}}}}"#,
        secs(fragments[0].server),
        secs(fragments[4].server)
    );
    let token = open(&mut table, hls(&json), &fragments);
    let window = session(&mut table, &token, NOW).window(&fragments, NOW);
    assert_eq!(
        window.entries.iter().map(|e| e.discontinuity).collect::<Vec<_>>(),
        [false, false, false, true, false]
    );
}

#[test]
fn resolve_serves_only_fragments_of_the_session() {
    let mut table = SessionTable::default();
    let fragments = stream(12, 1_000, NOW);
    let token = open(&mut table, dash(r#"{"StreamName":"cam"}"#), &fragments);
    let session = session(&mut table, &token, NOW);
    let by_sequence = session.resolve(&fragments, FragmentKey::Sequence(2), NOW).unwrap();
    assert_eq!(by_sequence.fragment.fragment_number, "1009");
    assert_eq!(by_sequence.media_time_ms, 2_000);
    let by_number = session.resolve(&fragments, FragmentKey::Number("1011"), NOW).unwrap();
    assert_eq!(by_number.sequence, 4);
    let outside = session.resolve(&fragments, FragmentKey::Number("1000"), NOW).unwrap_err();
    assert_eq!(outside.error_type(), "ResourceNotFoundException");
    assert!(session.resolve(&fragments, FragmentKey::Sequence(5), NOW).is_err());
}
