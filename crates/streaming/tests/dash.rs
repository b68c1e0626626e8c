use kvs_streaming::{SessionTable, TrackInfo, dash as manifests};

use crate::common::{NOW, dash, open, secs, session, stream};

const MPD_NS: &str = "urn:mpeg:dash:schema:mpd:2011";

fn segments<'a>(doc: &'a roxmltree::Document<'a>) -> Vec<roxmltree::Node<'a, 'a>> {
    doc.descendants().filter(|n| n.has_tag_name((MPD_NS, "S"))).collect()
}

#[test]
fn live_manifest_is_dynamic_with_a_gap_free_timeline() {
    let mut table = SessionTable::default();
    let mut fragments = stream(12, 2_000, NOW);
    fragments[9].duration_ms = 1_900;
    let token = open(
        &mut table,
        dash(r#"{"StreamName":"cam","DisplayFragmentNumber":"ALWAYS","DisplayFragmentTimestamp":"ALWAYS"}"#),
        &fragments,
    );
    let session = session(&mut table, &token, NOW);
    let window = session.window(&fragments, NOW);
    let text = manifests::manifest(session, &window, &[TrackInfo::video(1)], NOW);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mpd = doc.root_element();
    assert!(mpd.has_tag_name((MPD_NS, "MPD")));
    assert_eq!(mpd.attribute("type"), Some("dynamic"));
    assert_eq!(mpd.attribute("availabilityStartTime"), Some("2023-11-14T22:13:10.500Z"));
    assert_eq!(mpd.attribute("publishTime"), Some("2023-11-14T22:13:20.000Z"));

    let template = doc.descendants().find(|n| n.has_tag_name((MPD_NS, "SegmentTemplate"))).unwrap();
    assert_eq!(template.attribute("timescale"), Some("1000"));
    assert_eq!(template.attribute("startNumber"), Some("0"));
    assert_eq!(
        template.attribute("initialization"),
        Some(format!("getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=1").as_str())
    );
    assert_eq!(
        template.attribute("media"),
        Some(
            format!("getMP4MediaFragment.mp4?SequenceNumber=$Number$&SessionToken={token}&TrackNumber=1")
                .as_str()
        )
    );

    let s = segments(&doc);
    assert_eq!(s.len(), 5);
    let times: Vec<(&str, &str)> =
        s.iter().map(|n| (n.attribute("t").unwrap(), n.attribute("d").unwrap())).collect();
    assert_eq!(
        times,
        [("0", "2000"), ("2000", "2000"), ("4000", "1900"), ("5900", "2000"), ("7900", "2000")]
    );
    let kvs = manifests::KVS_NAMESPACE;
    assert_eq!(s[0].attribute((kvs, "fn")), Some("1007"));
    assert_eq!(s[0].attribute((kvs, "ts")), Some(fragments[7].server.0.to_string().as_str()));
}

#[test]
fn live_manifest_slides_with_start_number() {
    let mut table = SessionTable::default();
    let fragments = stream(12, 1_000, NOW);
    let token = open(&mut table, dash(r#"{"StreamName":"cam","MaxManifestFragmentResults":4}"#), &fragments);
    session(&mut table, &token, NOW).window(&fragments, NOW);
    let later = NOW.plus(3_000);
    let grown = stream(15, 1_000, later);
    let session = session(&mut table, &token, later);
    let window = session.window(&grown, later);
    let text = manifests::manifest(session, &window, &[], later);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let template = doc.descendants().find(|n| n.has_tag_name((MPD_NS, "SegmentTemplate"))).unwrap();
    assert_eq!(template.attribute("startNumber"), Some("3"));
    let s = segments(&doc);
    assert_eq!(s.len(), 4);
    assert_eq!(s[0].attribute("t"), Some("3000"));
    // Without DisplayFragment*, no kvs: attributes.
    assert!(s.iter().all(|n| n.attributes().len() == 2));
}

#[test]
fn on_demand_manifest_is_static_with_its_duration() {
    let mut table = SessionTable::default();
    let fragments = stream(30, 1_500, NOW.minus(1_000));
    let json = format!(
        r#"{{"StreamName":"cam","PlaybackMode":"ON_DEMAND","DASHFragmentSelector":{{"FragmentSelectorType":"SERVER_TIMESTAMP","TimestampRange":{{"StartTimestamp":{},"EndTimestamp":{}}}}}}}"#,
        secs(fragments[0].server),
        secs(fragments[29].server)
    );
    let token = open(&mut table, dash(&json), &fragments);
    let session = session(&mut table, &token, NOW);
    let window = session.window(&fragments, NOW);
    let video = TrackInfo {
        codecs: Some("avc1.42c01e".into()),
        width: Some(640),
        height: Some(480),
        ..TrackInfo::video(1)
    };
    let text = manifests::manifest(session, &window, &[video], NOW);
    let doc = roxmltree::Document::parse(&text).unwrap();
    let mpd = doc.root_element();
    assert_eq!(mpd.attribute("type"), Some("static"));
    assert_eq!(mpd.attribute("mediaPresentationDuration"), Some("PT45.000S"));
    assert_eq!(mpd.attribute("availabilityStartTime"), None);
    let s = segments(&doc);
    assert_eq!(s.len(), 30);
    assert!(s.iter().all(|n| n.attribute("d") == Some("1500")));
    assert_eq!(s[29].attribute("t"), Some("43500"));
    let representation = doc.descendants().find(|n| n.has_tag_name((MPD_NS, "Representation"))).unwrap();
    assert_eq!(representation.attribute("codecs"), Some("avc1.42c01e"));
    assert_eq!(representation.attribute("width"), Some("640"));
}
