use kvs_streaming::{
    Error, FragmentRef, PlayerRequest, SessionTable, asset, page::STREAMS_PATH, session_url,
};

use crate::common::{NOW, dash, hls, open, session, stream};

#[test]
fn every_player_path_parses() {
    let cases = [
        (
            "/hls/v1/getHLSMasterPlaylist.m3u8",
            "SessionToken=t",
            PlayerRequest::HlsMasterPlaylist { token: "t".into() },
        ),
        (
            "/hls/v1/getHLSMediaPlaylist.m3u8",
            "SessionToken=t&TrackNumber=2",
            PlayerRequest::HlsMediaPlaylist { token: "t".into(), track: 2 },
        ),
        (
            "/hls/v1/getHLSMediaPlaylist.m3u8",
            "SessionToken=t",
            PlayerRequest::HlsMediaPlaylist { token: "t".into(), track: 1 },
        ),
        (
            "/hls/v1/getMP4InitFragment.mp4",
            "SessionToken=t&TrackNumber=1",
            PlayerRequest::Mp4InitFragment { token: "t".into(), track: 1 },
        ),
        (
            "/dash/v1/getMP4MediaFragment.mp4",
            "SequenceNumber=7&SessionToken=t&TrackNumber=1",
            PlayerRequest::Mp4MediaFragment {
                token: "t".into(),
                track: 1,
                fragment: FragmentRef::Sequence(7),
            },
        ),
        (
            "/hls/v1/getTSFragment.ts",
            "FragmentNumber=42&SessionToken=t",
            PlayerRequest::TsFragment { token: "t".into(), fragment: FragmentRef::Number("42".into()) },
        ),
        ("/dash/v1/getDASHManifest.mpd", "SessionToken=t", PlayerRequest::DashManifest { token: "t".into() }),
    ];
    for (path, query, expected) in cases {
        assert_eq!(PlayerRequest::parse(path, query).unwrap(), Some(expected), "{path}?{query}");
    }
    assert_eq!(PlayerRequest::parse("/dash/v1/getHLSMasterPlaylist.m3u8", "SessionToken=t").unwrap(), None);
    assert_eq!(PlayerRequest::parse("/getMedia", "").unwrap(), None);
}

#[test]
fn malformed_player_queries_are_invalid_arguments() {
    let parameter = |path: &str, query: &str| match PlayerRequest::parse(path, query).unwrap_err() {
        Error::InvalidArgument { parameter, .. } => parameter,
        other => panic!("{other:?}"),
    };
    assert_eq!(parameter("/hls/v1/getHLSMasterPlaylist.m3u8", ""), "SessionToken");
    assert_eq!(parameter("/hls/v1/getHLSMasterPlaylist.m3u8", "SessionToken="), "SessionToken");
    assert_eq!(parameter("/hls/v1/getMP4MediaFragment.mp4", "SessionToken=t"), "FragmentNumber");
    assert_eq!(
        parameter("/hls/v1/getMP4MediaFragment.mp4", "SessionToken=t&FragmentNumber=1a"),
        "FragmentNumber"
    );
    assert_eq!(
        parameter("/hls/v1/getMP4MediaFragment.mp4", "SessionToken=t&FragmentNumber=1&TrackNumber=x"),
        "TrackNumber"
    );
}

#[test]
fn requests_must_fit_their_session() {
    let mut table = SessionTable::default();
    let fragments = stream(3, 1_000, NOW);
    let ts = open(&mut table, hls(r#"{"StreamName":"cam","ContainerFormat":"MPEG_TS"}"#), &fragments);
    let ts_session = session(&mut table, &ts, NOW);
    let mp4 = PlayerRequest::parse("/hls/v1/getMP4InitFragment.mp4", &format!("SessionToken={ts}"))
        .unwrap()
        .unwrap();
    assert_eq!(mp4.check(ts_session).unwrap_err().error_type(), "InvalidArgumentException");
    let segment =
        PlayerRequest::parse("/hls/v1/getTSFragment.ts", &format!("SessionToken={ts}&FragmentNumber=1"))
            .unwrap()
            .unwrap();
    assert!(segment.check(ts_session).is_ok());

    let dash_token = open(&mut table, dash(r#"{"StreamName":"cam"}"#), &fragments);
    let dash_session = session(&mut table, &dash_token, NOW);
    let playlist =
        PlayerRequest::parse("/hls/v1/getHLSMasterPlaylist.m3u8", &format!("SessionToken={dash_token}"))
            .unwrap()
            .unwrap();
    assert!(playlist.check(dash_session).is_err());
    assert_eq!(
        session_url("http://127.0.0.1:4567", dash_session),
        format!("http://127.0.0.1:4567/dash/v1/getDASHManifest.mpd?SessionToken={dash_token}")
    );
}

#[test]
fn session_responses_serialize_as_aws() {
    let hls = kvs_streaming::HlsSessionResponse { url: "u".into() };
    assert_eq!(serde_json::to_string(&hls).unwrap(), r#"{"HLSStreamingSessionURL":"u"}"#);
    let dash = kvs_streaming::DashSessionResponse { url: "u".into() };
    assert_eq!(serde_json::to_string(&dash).unwrap(), r#"{"DASHStreamingSessionURL":"u"}"#);
}

#[test]
fn the_page_and_its_vendored_player_ship_in_the_binary() {
    let page = std::str::from_utf8(asset("/").unwrap().bytes).unwrap();
    assert!(page.contains(r#"src="/vendor/hls.min.js""#) && page.contains(r#"src="/app.js""#));
    let app = std::str::from_utf8(asset("/app.js").unwrap().bytes).unwrap();
    for call in [STREAMS_PATH, "/getHLSStreamingSessionURL", "/getImages", "/listFragments"] {
        assert!(app.contains(call), "app.js does not call {call}");
    }
    let license = std::str::from_utf8(asset("/vendor/hls.js.LICENSE").unwrap().bytes).unwrap();
    assert!(license.contains("Apache License"));
    assert!(asset("/vendor/hls.min.js").unwrap().bytes.len() > 100_000);
    assert_eq!(asset("/style.css").unwrap().content_type, "text/css; charset=utf-8");
}
