use kvs_streaming::{
    ContainerFormat, DashSessionRequest, DiscontinuityMode, Error, HlsSessionRequest, PlaybackMode, Protocol,
    StreamRef, TimestampSource,
};

use crate::common::{NOW, hls, secs};

fn hls_error(json: &str) -> Error {
    serde_json::from_str::<HlsSessionRequest>(json).unwrap().validate(NOW).unwrap_err()
}

fn dash_error(json: &str) -> Error {
    serde_json::from_str::<DashSessionRequest>(json).unwrap().validate(NOW).unwrap_err()
}

fn parameter(error: Error) -> &'static str {
    assert_eq!(error.error_type(), "InvalidArgumentException");
    assert_eq!(error.status(), 400);
    match error {
        Error::InvalidArgument { parameter, .. } => parameter,
        other => panic!("not InvalidArgument: {other:?}"),
    }
}

#[test]
fn hls_defaults_are_aws_defaults() {
    let spec = hls(r#"{"StreamName":"cam"}"#);
    assert_eq!(spec.stream, StreamRef::Name("cam".into()));
    assert_eq!(spec.mode, PlaybackMode::Live);
    assert_eq!(spec.source, TimestampSource::Server);
    assert_eq!(spec.range, None);
    assert_eq!(spec.expires_secs, 300);
    assert_eq!(spec.max_results, 5);
    assert_eq!(
        spec.protocol,
        Protocol::Hls {
            container: ContainerFormat::FragmentedMp4,
            discontinuity: DiscontinuityMode::Always,
            display_timestamp: false
        }
    );
}

#[test]
fn discontinuity_mode_defaults_to_never_with_producer_timestamps() {
    let spec =
        hls(r#"{"StreamName":"cam","HLSFragmentSelector":{"FragmentSelectorType":"PRODUCER_TIMESTAMP"}}"#);
    assert!(matches!(spec.protocol, Protocol::Hls { discontinuity: DiscontinuityMode::Never, .. }));
}

#[test]
fn max_results_default_to_1000_on_demand_and_5_in_live_replay() {
    let range = format!(
        r#"{{"StartTimestamp":{},"EndTimestamp":{}}}"#,
        secs(NOW.minus(60_000)),
        secs(NOW.minus(1_000))
    );
    let on_demand = hls(&format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{range}}}}}"#
    ));
    assert_eq!(on_demand.max_results, 1000);
    let replay = hls(&format!(
        r#"{{"StreamName":"cam","PlaybackMode":"LIVE_REPLAY","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{range}}}}}"#
    ));
    assert_eq!(replay.max_results, 5);
    let range = replay.range.unwrap();
    assert_eq!((range.start, range.end), (NOW.minus(60_000), Some(NOW.minus(1_000))));
}

#[test]
fn expires_must_be_within_300_and_43200_seconds() {
    assert_eq!(parameter(hls_error(r#"{"StreamName":"cam","Expires":299}"#)), "Expires");
    assert_eq!(parameter(hls_error(r#"{"StreamName":"cam","Expires":43201}"#)), "Expires");
    assert_eq!(hls(r#"{"StreamName":"cam","Expires":300}"#).expires_secs, 300);
    assert_eq!(hls(r#"{"StreamName":"cam","Expires":43200}"#).expires_secs, 43200);
}

#[test]
fn max_results_must_be_within_1_and_5000() {
    assert_eq!(
        parameter(hls_error(r#"{"StreamName":"cam","MaxMediaPlaylistFragmentResults":0}"#)),
        "MaxMediaPlaylistFragmentResults"
    );
    assert_eq!(
        parameter(hls_error(r#"{"StreamName":"cam","MaxMediaPlaylistFragmentResults":5001}"#)),
        "MaxMediaPlaylistFragmentResults"
    );
    assert_eq!(hls(r#"{"StreamName":"cam","MaxMediaPlaylistFragmentResults":5000}"#).max_results, 5000);
    assert_eq!(
        parameter(dash_error(r#"{"StreamName":"cam","MaxManifestFragmentResults":0}"#)),
        "MaxManifestFragmentResults"
    );
}

#[test]
fn unknown_enumeration_values_are_invalid_arguments() {
    assert_eq!(parameter(hls_error(r#"{"StreamName":"cam","PlaybackMode":"REPLAY"}"#)), "PlaybackMode");
    assert_eq!(parameter(hls_error(r#"{"StreamName":"cam","ContainerFormat":"MP4"}"#)), "ContainerFormat");
    assert_eq!(
        parameter(hls_error(r#"{"StreamName":"cam","DiscontinuityMode":"SOMETIMES"}"#)),
        "DiscontinuityMode"
    );
    assert_eq!(
        parameter(hls_error(r#"{"StreamName":"cam","DisplayFragmentTimestamp":"YES"}"#)),
        "DisplayFragmentTimestamp"
    );
    assert_eq!(
        parameter(dash_error(r#"{"StreamName":"cam","DisplayFragmentNumber":"YES"}"#)),
        "DisplayFragmentNumber"
    );
    assert_eq!(
        parameter(hls_error(r#"{"StreamName":"cam","HLSFragmentSelector":{"FragmentSelectorType":"NOW"}}"#)),
        "FragmentSelectorType"
    );
}

#[test]
fn a_stream_name_or_arn_is_required_but_not_both() {
    assert_eq!(parameter(hls_error(r#"{}"#)), "StreamName");
    assert_eq!(
        parameter(hls_error(
            r#"{"StreamName":"cam","StreamARN":"arn:aws:kinesisvideo:us-west-2:1:stream/cam/1"}"#
        )),
        "StreamName"
    );
    assert_eq!(parameter(hls_error(r#"{"StreamName":"bad name"}"#)), "StreamName");
    assert_eq!(parameter(hls_error(r#"{"StreamARN":"cam"}"#)), "StreamARN");
    let arn = "arn:aws:kinesisvideo:us-west-2:123456789012:stream/cam/1";
    assert_eq!(hls(&format!(r#"{{"StreamARN":"{arn}"}}"#)).stream, StreamRef::Arn(arn.into()));
}

#[test]
fn live_refuses_a_timestamp_range() {
    let json = format!(
        r#"{{"StreamName":"cam","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{}}}}}}}"#,
        secs(NOW.minus(10_000))
    );
    assert_eq!(parameter(hls_error(&json)), "TimestampRange");
}

#[test]
fn ranged_modes_require_selector_type_range_and_start() {
    assert_eq!(
        parameter(hls_error(r#"{"StreamName":"cam","PlaybackMode":"ON_DEMAND"}"#)),
        "HLSFragmentSelector"
    );
    assert_eq!(
        parameter(dash_error(r#"{"StreamName":"cam","PlaybackMode":"LIVE_REPLAY"}"#)),
        "DASHFragmentSelector"
    );
    assert_eq!(
        parameter(hls_error(
            r#"{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{"TimestampRange":{"StartTimestamp":1}}}"#
        )),
        "FragmentSelectorType"
    );
    assert_eq!(
        parameter(hls_error(
            r#"{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{"FragmentSelectorType":"SERVER_TIMESTAMP"}}"#
        )),
        "TimestampRange"
    );
    assert_eq!(
        parameter(hls_error(
            r#"{"StreamName":"cam","PlaybackMode":"LIVE_REPLAY","HLSFragmentSelector":{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{"EndTimestamp":1}}}"#
        )),
        "StartTimestamp"
    );
}

#[test]
fn end_timestamp_rules() {
    let on_demand = |start: f64, end: Option<f64>, selector: &str| {
        let end = end.map_or(String::new(), |e| format!(r#","EndTimestamp":{e}"#));
        hls_error(&format!(
            r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{{"FragmentSelectorType":"{selector}","TimestampRange":{{"StartTimestamp":{start}{end}}}}}}}"#
        ))
    };
    let start = secs(NOW.minus(100 * 3600 * 1000));
    // Required for ON_DEMAND.
    assert_eq!(parameter(on_demand(start, None, "SERVER_TIMESTAMP")), "EndTimestamp");
    // Later than the start.
    assert_eq!(parameter(on_demand(start, Some(start), "SERVER_TIMESTAMP")), "EndTimestamp");
    // Within 24 h of it.
    assert_eq!(parameter(on_demand(start, Some(start + 86_400.001), "SERVER_TIMESTAMP")), "EndTimestamp");
    // In the past with server timestamps, but not with producer ones.
    let future = secs(NOW.plus(1_000));
    assert_eq!(
        parameter(on_demand(secs(NOW.minus(1_000)), Some(future), "SERVER_TIMESTAMP")),
        "EndTimestamp"
    );
    let spec = hls(&format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","HLSFragmentSelector":{{"FragmentSelectorType":"PRODUCER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{},"EndTimestamp":{future}}}}}}}"#,
        secs(NOW.minus(1_000))
    ));
    assert_eq!(spec.range.unwrap().end, Some(NOW.plus(1_000)));
    // Not a timestamp at all.
    assert_eq!(parameter(on_demand(-1.0, Some(1.0), "SERVER_TIMESTAMP")), "StartTimestamp");
}

#[test]
fn live_replay_may_omit_the_end() {
    let spec = hls(&format!(
        r#"{{"StreamName":"cam","PlaybackMode":"LIVE_REPLAY","HLSFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{}}}}}}}"#,
        secs(NOW.minus(60_000))
    ));
    assert_eq!(spec.range.unwrap().end, None);
}
