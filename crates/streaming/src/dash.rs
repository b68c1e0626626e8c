//! The DASH manifest of a session (`getDASHManifest.mpd`), written with `quick-xml`.
//!
//! One `Period`; per track an `AdaptationSet` whose `SegmentTemplate` names
//! `getMP4InitFragment.mp4` and `getMP4MediaFragment.mp4?SequenceNumber=$Number$..`, and
//! a `SegmentTimeline` with one `S` per fragment on the session's gap-free media
//! timeline (timescale 1000), as AWS adjusts it so players need not handle gaps; the
//! real start and fragment number go in `kvs:ts` / `kvs:fn` when asked for. LIVE and
//! unfinished LIVE_REPLAY manifests are `dynamic`, the others `static`.
//!
//! The media segment served for `SequenceNumber=N` is [`crate::Session::resolve`]'s
//! entry; it must start at decode time [`crate::WindowEntry::media_time_ms`] so players
//! find it where the manifest puts it. It chooses no fragments (see [`Window`]).

use chrono::{DateTime, SecondsFormat};
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, Event};

use crate::fragment::UnixMillis;
use crate::player::{MP4_MEDIA_FRAGMENT, init_url};
use crate::request::Protocol;
use crate::session::Session;
use crate::track::{TrackInfo, TrackKind};
use crate::window::Window;

/// The namespace of `kvs:fn` and `kvs:ts` (AWS does not publish its URI).
pub const KVS_NAMESPACE: &str = "urn:aws:kinesisvideo:dash:2020";

fn duration(ms: u64) -> String {
    format!("PT{}.{:03}S", ms / 1000, ms % 1000)
}

fn date_time(ts: UnixMillis) -> String {
    i64::try_from(ts.0)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The manifest of `window` at `now` (the caller's clock, for `publishTime`). `tracks`
/// empty means one video track 1.
///
/// ```
/// # use kvs_streaming::*;
/// # let now = UnixMillis(1_700_000_000_000);
/// # let fragments = [FragmentInfo { fragment_number: "1".into(), producer: now, server: now, duration_ms: 1000 }];
/// # let spec = DashSessionRequest { stream_name: Some("cam".into()), ..Default::default() }.validate(now)?;
/// # let mut table = SessionTable::default();
/// # let token = table.create("cam", spec, &fragments, now)?;
/// let session = table.get_mut(token.as_str(), now)?;
/// let window = session.window(&fragments, now);
/// let mpd = dash::manifest(session, &window, &[TrackInfo::video(1)], now);
/// assert!(mpd.contains(r#"type="dynamic""#) && mpd.contains(r#"<S t="0" d="1000"/>"#));
/// # Ok::<(), Error>(())
/// ```
pub fn manifest(session: &Session, window: &Window, tracks: &[TrackInfo], now: UnixMillis) -> String {
    let default_track = [TrackInfo::video(1)];
    let tracks = if tracks.is_empty() { &default_track[..] } else { tracks };
    let (show_ts, show_fn) = match session.spec().protocol {
        Protocol::Dash { display_timestamp, display_fragment_number } => {
            (display_timestamp, display_fragment_number)
        }
        Protocol::Hls { .. } => (false, false),
    };
    let token = session.token();
    let source = session.spec().source;
    let total_ms: u64 = window.entries.iter().map(|e| e.fragment.duration_ms).sum();
    let longest_ms = window.entries.iter().map(|e| e.fragment.duration_ms).max().unwrap_or(1000);

    let mut mpd: Vec<(&str, String)> = vec![
        ("xmlns", "urn:mpeg:dash:schema:mpd:2011".into()),
        ("xmlns:kvs", KVS_NAMESPACE.into()),
        ("profiles", "urn:mpeg:dash:profile:isoff-live:2011".into()),
        ("minBufferTime", duration(longest_ms)),
    ];
    if window.complete {
        mpd.push(("type", "static".into()));
        let end = window.entries.last().map_or(0, |e| e.media_time_ms + e.fragment.duration_ms);
        mpd.push(("mediaPresentationDuration", duration(end)));
    } else {
        mpd.push(("type", "dynamic".into()));
        mpd.push(("availabilityStartTime", date_time(window.origin)));
        mpd.push(("publishTime", date_time(now)));
        // AWS recommends players refresh live manifests every second.
        mpd.push(("minimumUpdatePeriod", duration(1000)));
        mpd.push(("timeShiftBufferDepth", duration(total_ms.max(longest_ms))));
        mpd.push(("suggestedPresentationDelay", duration(3 * longest_ms)));
    }

    let mut writer = Writer::new(Vec::new());
    let written = (|| -> std::io::Result<()> {
        writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        writer
            .create_element("MPD")
            .with_attributes(mpd.iter().map(|(k, v)| (*k, v.as_str())))
            .write_inner_content(|w| {
                w.create_element("Period").with_attributes([("id", "0"), ("start", "PT0S")]).write_inner_content(|w| {
                    for track in tracks {
                        let audio = track.kind == TrackKind::Audio;
                        let id = track.number.to_string();
                        let media = format!(
                            "{MP4_MEDIA_FRAGMENT}?SequenceNumber=$Number$&SessionToken={token}&TrackNumber={}",
                            track.number
                        );
                        w.create_element("AdaptationSet")
                            .with_attributes([
                                ("id", id.as_str()),
                                ("contentType", if audio { "audio" } else { "video" }),
                                ("mimeType", if audio { "audio/mp4" } else { "video/mp4" }),
                                ("segmentAlignment", "true"),
                                ("startWithSAP", "1"),
                            ])
                            .write_inner_content(|w| {
                                let start_number = window.media_sequence.to_string();
                                w.create_element("SegmentTemplate")
                                    .with_attributes([
                                        ("timescale", "1000"),
                                        ("startNumber", start_number.as_str()),
                                        ("initialization", init_url(token, track.number).as_str()),
                                        ("media", media.as_str()),
                                    ])
                                    .write_inner_content(|w| {
                                        w.create_element("SegmentTimeline").write_inner_content(|w| {
                                            for entry in &window.entries {
                                                let mut s: Vec<(&str, String)> = vec![
                                                    ("t", entry.media_time_ms.to_string()),
                                                    ("d", entry.fragment.duration_ms.to_string()),
                                                ];
                                                if show_fn {
                                                    s.push(("kvs:fn", entry.fragment.fragment_number.clone()));
                                                }
                                                if show_ts {
                                                    s.push(("kvs:ts", entry.fragment.timestamp(source).0.to_string()));
                                                }
                                                w.create_element("S")
                                                    .with_attributes(s.iter().map(|(k, v)| (*k, v.as_str())))
                                                    .write_empty()?;
                                            }
                                            Ok(())
                                        })?;
                                        Ok(())
                                    })?;
                                let mut representation: Vec<(&str, String)> =
                                    vec![("id", id.clone()), ("bandwidth", track.bandwidth.to_string())];
                                if let Some(codecs) = &track.codecs {
                                    representation.push(("codecs", codecs.clone()));
                                }
                                if let (Some(width), Some(height)) = (track.width, track.height) {
                                    representation.push(("width", width.to_string()));
                                    representation.push(("height", height.to_string()));
                                }
                                w.create_element("Representation")
                                    .with_attributes(representation.iter().map(|(k, v)| (*k, v.as_str())))
                                    .write_empty()?;
                                Ok(())
                            })?;
                    }
                    Ok(())
                })?;
                Ok(())
            })?;
        Ok(())
    })();
    // Writing into a Vec cannot fail; a failure would be a bug, logged rather than panicked on.
    if let Err(e) = written {
        tracing::error!(error = %e, "writing a DASH manifest failed");
    }
    String::from_utf8_lossy(&writer.into_inner()).into_owned()
}
