//! GetImages: pictures of a stream sampled over a time range, shaped like AWS's answer
//! (`Images: [{TimeStamp, Error, ImageContent}]`, pages of at most 25 with `NextToken`).
//!
//! Owns the request's validation (AWS's ranges and errors), the sample times, which
//! fragment and frame each sample shows, and paging. Decoding and JPEG/PNG encoding are
//! `kvs-media`'s ([`FrameDecoder`], [`kvs_media::encode_image`], scaling by
//! [`kvs_media::resize_rgb`]); a frame it cannot decode is the image's `MEDIA_ERROR`, and
//! a sample time no fragment covers is `NO_MEDIA`.
//!
//! Each fragment holding samples is decoded once, from its first frame (KVS fragments
//! start at a keyframe) up to the last frame shown: the fragment is cut after it
//! ([`cut_after`]), and frames before it that the decoder can skip (non-reference,
//! unselected) are skipped by `kvs-media`.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use base64::Engine;
use kvs_media::{FrameDecoder, ImageFormat, Selection, VideoOptions};
use kvs_mkv::{EbmlWriter, Fragment, Frame, ids};
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{ApiError, ErrorType};
use super::media::{Clock, MsRange, blocking, fragment_of};
use super::{ApiResult, Shared, StreamRef, faults, json_response, seconds};
use crate::store::{Refusal, StoredFragment};

/// Widest range of one request (AWS: 300 s).
const MAX_RANGE_MS: i64 = 300_000;
/// Shortest `SamplingInterval`, ms (AWS: 200, five images a second).
const MIN_INTERVAL_MS: i64 = 200;
/// `SamplingInterval` when the request gives none (AWS documents no default; 3 s was its
/// first fixed interval).
const DEFAULT_INTERVAL_MS: i64 = 3_000;
/// Images in one page (AWS: 25, whatever a larger `MaxResults` says).
const PAGE: i64 = 25;
/// AWS's default JPEG quality.
const DEFAULT_JPEG_QUALITY: u8 = 80;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct GetImagesRequest {
    #[serde(flatten)]
    stream: StreamRef,
    image_selector_type: Option<String>,
    start_timestamp: Option<f64>,
    end_timestamp: Option<f64>,
    sampling_interval: Option<i64>,
    format: Option<String>,
    format_config: Option<HashMap<String, String>>,
    width_pixels: Option<i64>,
    height_pixels: Option<i64>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

/// The output size asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Original,
    Height(usize),
    Both(usize, usize),
}

/// A validated request.
#[derive(Debug, Clone, Copy)]
struct Spec {
    clock: Clock,
    range: MsRange,
    interval: i64,
    format: ImageFormat,
    size: Size,
    page: i64,
    first: i64,
}

impl Spec {
    fn of(request: &GetImagesRequest) -> Result<Self, ApiError> {
        let clock = match request.image_selector_type.as_deref() {
            Some("PRODUCER_TIMESTAMP") => Clock::ProducerTimestamp,
            Some("SERVER_TIMESTAMP") => Clock::ServerTimestamp,
            Some(other) => {
                return Err(ApiError::invalid(format!("ImageSelectorType {other:?} is not valid")));
            }
            None => return Err(ApiError::invalid("ImageSelectorType is required")),
        };
        let range = MsRange::new(request.start_timestamp, request.end_timestamp)?;
        if range.end - range.start > MAX_RANGE_MS {
            return Err(ApiError::invalid("EndTimestamp must be at most 300 seconds after StartTimestamp"));
        }
        let interval = request.sampling_interval.unwrap_or(DEFAULT_INTERVAL_MS);
        if interval < MIN_INTERVAL_MS {
            return Err(ApiError::invalid("SamplingInterval must be at least 200 milliseconds"));
        }
        let quality = match request.format_config.as_ref().and_then(|c| c.get("JPEGQuality")) {
            None => DEFAULT_JPEG_QUALITY,
            Some(q) => q
                .parse::<u8>()
                .ok()
                .filter(|q| (1..=100).contains(q))
                .ok_or_else(|| ApiError::invalid("FormatConfig JPEGQuality must be 1 to 100"))?,
        };
        if let Some(key) = request.format_config.iter().flat_map(|c| c.keys()).find(|k| *k != "JPEGQuality") {
            return Err(ApiError::invalid(format!("FormatConfig key {key:?} is not valid")));
        }
        let format = match request.format.as_deref() {
            Some("JPEG") => ImageFormat::Jpeg { quality },
            Some("PNG") => ImageFormat::Png,
            Some(other) => return Err(ApiError::invalid(format!("Format {other:?} is not valid"))),
            None => return Err(ApiError::invalid("Format is required")),
        };
        let pixels = |value: Option<i64>, max: i64, name: &str| match value {
            None => Ok(None),
            Some(v) if (1..=max).contains(&v) => Ok(Some(v as usize)),
            Some(_) => Err(ApiError::invalid(format!("{name} must be 1 to {max}"))),
        };
        let width = pixels(request.width_pixels, 3840, "WidthPixels")?;
        let height = pixels(request.height_pixels, 2160, "HeightPixels")?;
        let size = match (width, height) {
            (None, None) => Size::Original,
            (None, Some(h)) => Size::Height(h),
            (Some(w), Some(h)) => Size::Both(w, h),
            (Some(_), None) => {
                return Err(ApiError::new(ErrorType::Validation, "WidthPixels needs HeightPixels"));
            }
        };
        let page = match request.max_results {
            None => PAGE,
            Some(n) if n >= 1 => n.min(PAGE),
            Some(_) => return Err(ApiError::invalid("MaxResults must be at least 1")),
        };
        let first = match &request.next_token {
            None => 0,
            Some(token) => token
                .parse::<i64>()
                .ok()
                .filter(|&k| k >= 0)
                .ok_or_else(|| ApiError::invalid("NextToken is not valid"))?,
        };
        Ok(Self { clock, range, interval, format, size, page, first })
    }

    /// How many sample times the range holds: `start + k * interval` before `end`, and
    /// the start alone when the range is shorter than one interval.
    fn samples(&self) -> i64 {
        let span = self.range.end - self.range.start;
        ((span + self.interval - 1) / self.interval).max(1)
    }
}

/// A fragment and its samples: (index in the page, ms after the fragment's start).
type FragmentSamples = (Arc<StoredFragment>, Vec<(usize, i64)>);

/// What one sample time shows.
enum Shown {
    NoMedia,
    MediaError,
    Image(Vec<u8>),
}

pub(super) async fn get_images(shared: &Shared, request: GetImagesRequest) -> ApiResult {
    let spec = Spec::of(&request)?;
    let stream = request.stream.resolve(&shared.store)?;
    faults(&stream, Refusal::MediaRead).await?;
    let total = spec.samples();
    if spec.first >= total && total > 0 && request.next_token.is_some() {
        return Err(ApiError::invalid("NextToken is not valid"));
    }
    let last = (spec.first + spec.page).min(total);
    let times: Vec<i64> = (spec.first..last).map(|k| spec.range.start + k * spec.interval).collect();

    // Which fragment covers each time: its start on the clock, up to its end.
    let mut fragments = stream.fragments();
    fragments
        .sort_by(|a, b| spec.clock.start_of(a).cmp(&spec.clock.start_of(b)).then(a.number.cmp(&b.number)));
    let mut by_fragment: BTreeMap<usize, Vec<(usize, i64)>> = BTreeMap::new();
    for (i, &t) in times.iter().enumerate() {
        let after = fragments.partition_point(|f| spec.clock.start_of(f) <= t);
        if let Some(at) = after.checked_sub(1) {
            let f = &fragments[at];
            if t < spec.clock.start_of(f) + (f.duration_ms.max(1) as i64) {
                by_fragment.entry(at).or_default().push((i, t - spec.clock.start_of(f)));
            }
        }
    }
    let work: Vec<FragmentSamples> =
        by_fragment.into_iter().map(|(at, samples)| (fragments[at].clone(), samples)).collect();
    let format = spec.format;
    let size = spec.size;
    let shown = blocking(move || {
        let mut shown: Vec<Option<Shown>> = (0..times.len()).map(|_| None).collect();
        for (stored, samples) in work {
            let pictures =
                std::panic::catch_unwind(AssertUnwindSafe(|| pictures(&stored, &samples, format, size)))
                    .unwrap_or_else(|_| {
                        tracing::warn!(fragment = %stored.number, "the decoder panicked: MEDIA_ERROR");
                        Vec::new()
                    });
            for (i, _) in &samples {
                let image = pictures.iter().find(|(j, _)| j == i).and_then(|(_, image)| image.clone());
                shown[*i] = Some(image.map_or(Shown::MediaError, Shown::Image));
            }
        }
        Ok(shown.into_iter().map(|s| s.unwrap_or(Shown::NoMedia)).collect::<Vec<_>>())
    })
    .await?;

    let base64 = base64::engine::general_purpose::STANDARD;
    let images: Vec<Value> = shown
        .iter()
        .zip(spec.first..)
        .map(|(shown, k)| {
            let at = seconds(spec.range.start + k * spec.interval);
            match shown {
                Shown::Image(bytes) => json!({ "TimeStamp": at, "ImageContent": base64.encode(bytes) }),
                Shown::NoMedia => json!({ "TimeStamp": at, "Error": "NO_MEDIA" }),
                Shown::MediaError => json!({ "TimeStamp": at, "Error": "MEDIA_ERROR" }),
            }
        })
        .collect();
    let mut out = json!({ "Images": images });
    if last < total {
        out["NextToken"] = json!(last.to_string());
    }
    json_response(out)
}

/// The picture of each sample `(index, ms after the fragment's start)` of one fragment,
/// encoded; `None` where the frame could not be decoded or encoded.
fn pictures(
    stored: &StoredFragment,
    samples: &[(usize, i64)],
    format: ImageFormat,
    size: Size,
) -> Vec<(usize, Option<Vec<u8>>)> {
    let failed = || samples.iter().map(|(i, _)| (*i, None)).collect();
    let Ok(fragment) = fragment_of(stored) else { return failed() };
    let Ok(tracks) = fragment.tracks() else { return failed() };
    let Some(video) = tracks.iter().find(|t| t.codec_id.starts_with("V_")).map(|t| t.number) else {
        return failed();
    };
    let (frames, _) = fragment.frames_lossy();
    let mut times: Vec<i64> = frames.iter().filter(|f| f.track == video).map(|f| f.timestamp_ns).collect();
    times.sort_unstable();
    let Some(&first) = times.first() else { return failed() };
    // Each sample shows the last frame shown at or before its time.
    let wanted: Vec<(usize, i64)> = samples
        .iter()
        .map(|&(i, offset_ms)| {
            let target = first.saturating_add(offset_ms.saturating_mul(1_000_000));
            let at = times.partition_point(|&t| t <= target).saturating_sub(1);
            (i, times[at])
        })
        .collect();
    // Frames after the last one shown are not decoded: the fragment is cut after it.
    let last_needed = frames
        .iter()
        .rposition(|f| f.track == video && wanted.iter().any(|w| w.1 == f.timestamp_ns))
        .unwrap_or(frames.len().saturating_sub(1));
    let fragment = match cut_after(stored, &fragment, video, &frames[..=last_needed.min(frames.len() - 1)]) {
        Some(cut) => cut,
        None => fragment,
    };
    let select: Arc<Vec<i64>> = Arc::new(wanted.iter().map(|w| w.1).collect());
    let mut options = VideoOptions::with_selection(Selection::Predicate(Arc::new(move |info| {
        select.contains(&info.timestamp_ns)
    })));
    options.track = Some(video);
    let mut decoder = FrameDecoder::new(options);
    let mut encoded: HashMap<i64, Vec<u8>> = HashMap::new();
    let result = decoder.decode_with(&fragment, |picture| {
        let ts = picture.info().timestamp_ns;
        let bytes = match size {
            Size::Original => picture.encode(format),
            Size::Height(h) => picture.to_rgb().and_then(|rgb| {
                let (src_h, src_w, _) = rgb.dim();
                let w = ((src_w * h) as f64 / src_h.max(1) as f64).round().max(1.0) as usize;
                kvs_media::resize_rgb(&rgb, w, h).and_then(|rgb| kvs_media::encode_image(&rgb, format))
            }),
            Size::Both(w, h) => picture
                .to_rgb()
                .and_then(|rgb| kvs_media::resize_rgb(&rgb, w, h))
                .and_then(|rgb| kvs_media::encode_image(&rgb, format)),
        };
        match bytes {
            Ok(bytes) => {
                encoded.insert(ts, bytes);
            }
            Err(error) => tracing::debug!(%error, "a picture could not be encoded: MEDIA_ERROR"),
        }
    });
    if let Err(error) = &result {
        tracing::debug!(%error, fragment = %stored.number, "fragment not decodable: MEDIA_ERROR");
    }
    wanted.into_iter().map(|(i, ts)| (i, encoded.get(&ts).cloned())).collect()
}

/// The fragment with only `frames` of track `video` (its first frames, in stored order),
/// rewritten as one Cluster after the stored header; `None` when they cannot be
/// (relative block times past 16 bits): then the whole fragment is decoded.
fn cut_after(stored: &StoredFragment, fragment: &Fragment, video: u64, frames: &[Frame]) -> Option<Fragment> {
    let scale = i64::try_from(fragment.timecode_scale().ok()?).ok().filter(|&s| s > 0)?;
    let kept: Vec<&Frame> = frames.iter().filter(|f| f.track == video).collect();
    let base = kept.iter().map(|f| f.timestamp_ns / scale).min()?;
    let mut blocks = Vec::with_capacity(kept.len());
    for f in &kept {
        if f.timestamp_ns % scale != 0 {
            return None;
        }
        blocks.push((i16::try_from(f.timestamp_ns / scale - base).ok()?, f));
    }
    let mut w = EbmlWriter::new();
    w.raw(&stored.head);
    w.master(ids::CLUSTER, |c| {
        c.uint(ids::TIMECODE, u64::try_from(base).unwrap_or(0));
        for (at, f) in &blocks {
            c.simple_block(f.track, *at, f.keyframe, &f.payload);
        }
    });
    Fragment::from_bytes(w.into_bytes()).ok()
}
