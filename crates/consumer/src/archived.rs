//! Archived media beyond fragments, through the official SDK client
//! (`aws-sdk-kinesisvideoarchivedmedia`): images of a time range (GetImages, every page
//! and any range length), an MP4 clip (GetClip, streamed to a writer), and HLS / DASH
//! streaming session URLs for players.
//!
//! What it owns: the request shapes ([`ImagesRequest`], [`SessionRequest`]), turning them
//! into SDK calls on the right data endpoint, paging, splitting image ranges at GetImages'
//! 300 s limit, base64 decoding of images, retrying throttling and 5xx before an answer
//! starts, and the time spellings the CLI accepts ([`parse_time`]). What it does not own:
//! decoding or remuxing media (the service does it: AWS, or `kvs-local`), fragment reads
//! (the [`Consumer`](crate::Consumer)), or playing the session URLs.
//!
//! Against a local server (`kvs serve`), with no AWS setup:
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use kvs_consumer::archived::{Archive, ImagesRequest, Playback, SessionRequest};
//! use kvs_consumer::{Config, TimeRange};
//!
//! # async fn example() -> Result<(), kvs_consumer::Error> {
//! let mut config = Config::default();
//! config.endpoint_url = Some("http://127.0.0.1:4566".into());
//! let archive = Archive::new("my-camera", &config).await?;
//! let to = SystemTime::now();
//! let range = TimeRange::server(to - Duration::from_secs(60), to);
//! let mut images = archive.images(ImagesRequest::new(range));
//! while let Some(image) = images.next().await {
//!     let image = image?;
//!     if image.error.is_none() {
//!         std::fs::write(image.file_name("jpg"), &image.content)?;
//!     }
//! }
//! let mut clip = tokio::fs::File::create("clip.mp4").await?;
//! archive.clip(&range, &mut clip).await?;
//! println!("{}", archive.hls_url(&SessionRequest::new(Playback::Live)).await?);
//! # Ok(()) }
//! ```

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_kinesisvideo::types::ApiName;
use aws_sdk_kinesisvideoarchivedmedia as sdk;
use aws_sdk_kinesisvideomedia::primitives::DateTime;
use sdk::types::{
    ClipFragmentSelector, ClipFragmentSelectorType, ContainerFormat as SdkContainer,
    DashDisplayFragmentNumber, DashDisplayFragmentTimestamp, DashFragmentSelector, DashFragmentSelectorType,
    DashPlaybackMode, DashTimestampRange, Format, FormatConfigKey, HlsDiscontinuityMode,
    HlsDisplayFragmentTimestamp, HlsFragmentSelector, HlsFragmentSelectorType, HlsPlaybackMode,
    HlsTimestampRange, ImageSelectorType,
};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tracing::debug;

use crate::aws::{Aws, Failure, classify};
use crate::{Client, Config, Error, RetryPolicy, TimeRange, TimestampKind};

/// The longest range one GetImages call takes; longer ranges are split.
pub const MAX_IMAGES_RANGE: Duration = Duration::from_secs(300);

/// The shortest sampling interval GetImages takes.
pub const MIN_SAMPLING_INTERVAL: Duration = Duration::from_millis(200);

/// The archived-media calls of one stream. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Archive {
    aws: Aws,
    stream: String,
    retry: RetryPolicy,
}

impl Archive {
    /// The calls for `stream` (a name, or an ARN when it starts with `arn:`), with a new
    /// [`Client`] loaded from `config` (its region, endpoint, credentials and retry policy).
    pub async fn new(stream: &str, config: &Config) -> Result<Self, Error> {
        let client = Client::new(config).await?;
        let mut archive = Self::with_client(client, stream)?;
        archive.retry = config.retry;
        Ok(archive)
    }

    /// The calls for `stream` on an existing [`Client`] (its connection pool is shared).
    pub fn with_client(client: Client, stream: &str) -> Result<Self, Error> {
        Ok(Self { aws: Aws::new(client, stream)?, stream: stream.to_owned(), retry: RetryPolicy::default() })
    }

    /// The images of `request`'s range, one at a time, every GetImages page and every
    /// 300 s window of the range in turn. Nothing is sent until the first
    /// [`Images::next`].
    pub fn images(&self, request: ImagesRequest) -> Images {
        Images::new(self.clone(), request)
    }

    /// GetClip: writes the MP4 of `range` (the service takes its first 200 fragments or
    /// 100 MB) to `out` as it arrives, flushes it, and returns the bytes written.
    pub async fn clip<W: AsyncWrite + Unpin + ?Sized>(
        &self,
        range: &TimeRange,
        out: &mut W,
    ) -> Result<u64, Error> {
        check_range(range.from, Some(range.to))?;
        let kind = match range.kind {
            TimestampKind::Server => ClipFragmentSelectorType::ServerTimestamp,
            TimestampKind::Producer => ClipFragmentSelectorType::ProducerTimestamp,
        };
        let times = sdk::types::ClipTimestampRange::builder()
            .start_timestamp(DateTime::from(range.from))
            .end_timestamp(DateTime::from(range.to))
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let selector = ClipFragmentSelector::builder()
            .fragment_selector_type(kind)
            .timestamp_range(times)
            .build()
            .map_err(|e| Error::Config(e.to_string()))?;
        let output = self
            .call(ApiName::GetClip, "GetClip", |client| {
                let call = client.get_clip().clip_fragment_selector(selector.clone());
                let call = if self.is_arn() {
                    call.stream_arn(self.stream())
                } else {
                    call.stream_name(self.stream())
                };
                async move { call.send().await.map_err(|e| classify("GetClip", e)) }
            })
            .await?;
        // The answer has begun: a failure now would give a partial file, so it is the
        // caller's to retry, not ours.
        let mut body = output.payload;
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::Unavailable(format!("GetClip: reading the answer: {e}")))?;
            out.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        out.flush().await?;
        debug!(bytes = written, "clip written");
        Ok(written)
    }

    /// GetHLSStreamingSessionURL: the URL of the master playlist
    /// (`.../getHLSMasterPlaylist.m3u8?SessionToken=...`) for a player.
    pub async fn hls_url(&self, request: &SessionRequest) -> Result<String, Error> {
        request.check()?;
        let kind = match request.kind {
            TimestampKind::Server => HlsFragmentSelectorType::ServerTimestamp,
            TimestampKind::Producer => HlsFragmentSelectorType::ProducerTimestamp,
        };
        let (mode, range) = match request.playback {
            Playback::Live => (HlsPlaybackMode::Live, None),
            Playback::LiveReplay { from, to } => (HlsPlaybackMode::LiveReplay, Some((from, to))),
            Playback::OnDemand { from, to } => (HlsPlaybackMode::OnDemand, Some((from, Some(to)))),
        };
        let selector = range.map(|(from, to)| {
            let times = HlsTimestampRange::builder()
                .start_timestamp(DateTime::from(from))
                .set_end_timestamp(to.map(DateTime::from))
                .build();
            HlsFragmentSelector::builder().fragment_selector_type(kind.clone()).timestamp_range(times).build()
        });
        let container = match request.container {
            ContainerFormat::FragmentedMp4 => SdkContainer::FragmentedMp4,
            ContainerFormat::MpegTs => SdkContainer::MpegTs,
        };
        let discontinuity = request.discontinuity.map(|d| match d {
            DiscontinuityMode::Always => HlsDiscontinuityMode::Always,
            DiscontinuityMode::Never => HlsDiscontinuityMode::Never,
            DiscontinuityMode::OnDiscontinuity => HlsDiscontinuityMode::OnDiscontinuity,
        });
        let display = if request.display_fragment_timestamp {
            HlsDisplayFragmentTimestamp::Always
        } else {
            HlsDisplayFragmentTimestamp::Never
        };
        let expires = request.expires_secs()?;
        let max = request.max_fragments.map(i64::from);
        let output = self
            .call(ApiName::GetHlsStreamingSessionUrl, "GetHLSStreamingSessionURL", |client| {
                let call = client
                    .get_hls_streaming_session_url()
                    .playback_mode(mode.clone())
                    .set_hls_fragment_selector(selector.clone())
                    .container_format(container.clone())
                    .set_discontinuity_mode(discontinuity.clone())
                    .display_fragment_timestamp(display.clone())
                    .set_expires(expires)
                    .set_max_media_playlist_fragment_results(max);
                let call = if self.is_arn() {
                    call.stream_arn(self.stream())
                } else {
                    call.stream_name(self.stream())
                };
                async move { call.send().await.map_err(|e| classify("GetHLSStreamingSessionURL", e)) }
            })
            .await?;
        output
            .hls_streaming_session_url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| missing("GetHLSStreamingSessionURL"))
    }

    /// GetDASHStreamingSessionURL: the URL of the manifest
    /// (`.../getDASHManifest.mpd?SessionToken=...`) for a player.
    pub async fn dash_url(&self, request: &SessionRequest) -> Result<String, Error> {
        request.check()?;
        let kind = match request.kind {
            TimestampKind::Server => DashFragmentSelectorType::ServerTimestamp,
            TimestampKind::Producer => DashFragmentSelectorType::ProducerTimestamp,
        };
        let (mode, range) = match request.playback {
            Playback::Live => (DashPlaybackMode::Live, None),
            Playback::LiveReplay { from, to } => (DashPlaybackMode::LiveReplay, Some((from, to))),
            Playback::OnDemand { from, to } => (DashPlaybackMode::OnDemand, Some((from, Some(to)))),
        };
        let selector = range.map(|(from, to)| {
            let times = DashTimestampRange::builder()
                .start_timestamp(DateTime::from(from))
                .set_end_timestamp(to.map(DateTime::from))
                .build();
            DashFragmentSelector::builder()
                .fragment_selector_type(kind.clone())
                .timestamp_range(times)
                .build()
        });
        let timestamps = if request.display_fragment_timestamp {
            DashDisplayFragmentTimestamp::Always
        } else {
            DashDisplayFragmentTimestamp::Never
        };
        let numbers = if request.display_fragment_number {
            DashDisplayFragmentNumber::Always
        } else {
            DashDisplayFragmentNumber::Never
        };
        let expires = request.expires_secs()?;
        let max = request.max_fragments.map(i64::from);
        let output = self
            .call(ApiName::GetDashStreamingSessionUrl, "GetDASHStreamingSessionURL", |client| {
                let call = client
                    .get_dash_streaming_session_url()
                    .playback_mode(mode.clone())
                    .set_dash_fragment_selector(selector.clone())
                    .display_fragment_timestamp(timestamps.clone())
                    .display_fragment_number(numbers.clone())
                    .set_expires(expires)
                    .set_max_manifest_fragment_results(max);
                let call = if self.is_arn() {
                    call.stream_arn(self.stream())
                } else {
                    call.stream_name(self.stream())
                };
                async move { call.send().await.map_err(|e| classify("GetDASHStreamingSessionURL", e)) }
            })
            .await?;
        output
            .dash_streaming_session_url
            .filter(|u| !u.is_empty())
            .ok_or_else(|| missing("GetDASHStreamingSessionURL"))
    }

    fn stream(&self) -> &str {
        &self.stream
    }

    fn is_arn(&self) -> bool {
        self.stream().starts_with("arn:")
    }

    /// One call on the data endpoint of `api`, GetDataEndpoint included, retried with
    /// backoff while it fails in a way worth retrying (throttling, 5xx, the network).
    ///
    /// GetDataEndpoint has already found the stream when the call itself answers
    /// `ResourceNotFoundException`: there it means no media in the range (or none
    /// recent, live), so it comes back as the operation's [`Error::Service`] with the
    /// service's message, not as [`Error::StreamNotFound`].
    async fn call<T, F, Fut>(&self, api: ApiName, operation: &'static str, mut send: F) -> Result<T, Error>
    where
        F: FnMut(&sdk::Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, Failure>>,
    {
        let mut failures = 0u32;
        loop {
            let attempt = async {
                let endpoint = self.aws.data_endpoint(api.clone()).await?;
                send(&self.aws.archive_client(&endpoint)).await.map_err(|failure| match failure {
                    Failure::Fatal(Error::StreamNotFound { message }) => Failure::Fatal(Error::Service {
                        operation,
                        code: "ResourceNotFoundException".into(),
                        message,
                    }),
                    other => other,
                })
            };
            match attempt.await {
                Ok(out) => return Ok(out),
                Err(Failure::Fatal(error)) => return Err(error),
                Err(Failure::Retry(last)) => {
                    failures += 1;
                    if failures >= self.retry.max_attempts {
                        return Err(Error::RetriesExhausted { attempts: failures, last });
                    }
                    let delay = self.retry.delay(failures);
                    debug!(%last, ?delay, "retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

fn missing(operation: &'static str) -> Error {
    Error::Service { operation, code: "MissingURL".into(), message: "the answer has no session URL".into() }
}

fn check_range(from: SystemTime, to: Option<SystemTime>) -> Result<(), Error> {
    match to {
        Some(to) if to < from => Err(Error::Config("the time range ends before it starts".into())),
        _ => Ok(()),
    }
}

/// The image format GetImages encodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormat {
    /// JPEG at this quality (1 to 100; the service's default is 80).
    Jpeg {
        /// 1 to 100.
        quality: u8,
    },
    /// PNG.
    Png,
}

impl ImageFormat {
    /// The usual file extension: `jpg` or `png`.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg { .. } => "jpg",
            ImageFormat::Png => "png",
        }
    }
}

/// What GetImages is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImagesRequest {
    /// The range (server or producer timestamps); any length: it is asked for in
    /// windows of at most [`MAX_IMAGES_RANGE`], each a whole number of intervals long.
    pub range: TimeRange,
    /// Time between two images (at least [`MIN_SAMPLING_INTERVAL`]; default 1 s).
    pub interval: Duration,
    /// Image format (default JPEG at quality 80).
    pub format: ImageFormat,
    /// Width in pixels; the service refuses a width without a height.
    pub width: Option<u32>,
    /// Height in pixels; alone, the width follows the aspect ratio.
    pub height: Option<u32>,
    /// GetImages' MaxResults per page (1 to 100; `None` leaves the service's default).
    /// Pages never hold more than 25 images whatever this says.
    pub page_size: Option<u32>,
}

impl ImagesRequest {
    /// One JPEG (quality 80) a second over `range`, at the stream's size.
    pub fn new(range: TimeRange) -> Self {
        Self {
            range,
            interval: Duration::from_secs(1),
            format: ImageFormat::Jpeg { quality: 80 },
            width: None,
            height: None,
            page_size: None,
        }
    }

    /// The number of sampling instants in the range, `from + k * interval` before `to`
    /// (at least one): an estimate for progress bars, since the service decides.
    pub fn expected(&self) -> u64 {
        let span = self.range.to.duration_since(self.range.from).unwrap_or_default().as_millis();
        match self.interval.as_millis() {
            0 => 0,
            step => span.div_ceil(step).max(1) as u64,
        }
    }

    /// The windows of the range, each at most [`MAX_IMAGES_RANGE`] long and a whole
    /// number of intervals, so that the instants are the same as one call would give.
    /// Every window but the last ends a millisecond before the next starts, so an
    /// instant on the boundary comes once, whether the service includes the end or not.
    fn windows(&self) -> Result<Vec<(SystemTime, SystemTime)>, Error> {
        let (from, to) = (self.range.from, self.range.to);
        check_range(from, Some(to))?;
        if self.interval < MIN_SAMPLING_INTERVAL {
            return Err(Error::Config(format!(
                "the sampling interval must be at least {} ms",
                MIN_SAMPLING_INTERVAL.as_millis()
            )));
        }
        let steps = (MAX_IMAGES_RANGE.as_millis() / self.interval.as_millis()).max(1) as u32;
        let window = self.interval * steps;
        let mut windows = Vec::new();
        let mut start = from;
        loop {
            match start.checked_add(window) {
                Some(next) if next <= to => {
                    windows.push((start, next - Duration::from_millis(1)));
                    start = next;
                }
                _ => {
                    windows.push((start, to));
                    break;
                }
            }
            if start > to {
                break;
            }
        }
        Ok(windows)
    }
}

/// Why the service sent no picture for an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageError {
    /// No frame at or near that time (`NO_MEDIA`).
    NoMedia,
    /// A frame was there but could not be decoded (`MEDIA_ERROR`).
    MediaError,
    /// A code this crate does not know.
    Other(String),
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageError::NoMedia => "NO_MEDIA",
            ImageError::MediaError => "MEDIA_ERROR",
            ImageError::Other(code) => code,
        })
    }
}

/// One instant of a GetImages answer: a picture, or the reason there is none.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Image {
    /// The sampling instant (server or producer time, as asked).
    pub timestamp: SystemTime,
    /// Set when there is no picture.
    pub error: Option<ImageError>,
    /// The encoded picture (JPEG or PNG), decoded from the answer's base64; empty with
    /// an error.
    pub content: Vec<u8>,
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("timestamp", &utc_name(self.timestamp))
            .field("error", &self.error)
            .field("bytes", &self.content.len())
            .finish()
    }
}

impl Image {
    /// A file name from the timestamp alone: `20261204T050102.345Z.jpg` for `ext`
    /// `"jpg"` (UTC, millisecond precision: names sort in time order).
    pub fn file_name(&self, ext: &str) -> String {
        format!("{}.{ext}", utc_name(self.timestamp))
    }
}

/// `20261204T050102.345Z`: a time as a file-name-safe UTC stamp (milliseconds, rounded
/// down; before 1970 counts as 1970).
pub fn utc_name(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The images of an [`ImagesRequest`], fetched a page at a time as they are taken.
#[derive(Debug)]
pub struct Images {
    archive: Archive,
    request: ImagesRequest,
    /// Windows not yet asked for, last first; `None` until the first call checks them.
    windows: Option<Vec<(SystemTime, SystemTime)>>,
    /// The window being paged through and its next token.
    current: Option<((SystemTime, SystemTime), Option<String>)>,
    page: std::vec::IntoIter<Image>,
    done: bool,
}

impl Images {
    fn new(archive: Archive, request: ImagesRequest) -> Self {
        Self { archive, request, windows: None, current: None, page: Vec::new().into_iter(), done: false }
    }

    /// The next image in time order, `None` after the last; after an error, `None`.
    pub async fn next(&mut self) -> Option<Result<Image, Error>> {
        loop {
            if let Some(image) = self.page.next() {
                return Some(Ok(image));
            }
            if self.done {
                return None;
            }
            match self.fetch().await {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }

    /// Every image, in order.
    pub async fn collect(mut self) -> Result<Vec<Image>, Error> {
        let mut all = Vec::new();
        while let Some(image) = self.next().await {
            all.push(image?);
        }
        Ok(all)
    }

    /// Fetches the next page into `self.page`; `false` when there is none.
    async fn fetch(&mut self) -> Result<bool, Error> {
        if self.windows.is_none() {
            let mut windows = self.request.windows()?;
            windows.reverse();
            self.windows = Some(windows);
        }
        let (window, token) = match self.current.take() {
            Some(current) => current,
            None => match self.windows.as_mut().and_then(Vec::pop) {
                Some(window) => (window, None),
                None => return Ok(false),
            },
        };
        let (images, next) = self.page(window, token).await?;
        if let Some(next) = next {
            self.current = Some((window, Some(next)));
        }
        self.page = images.into_iter();
        Ok(true)
    }

    /// One GetImages page of `window`.
    async fn page(
        &self,
        (from, to): (SystemTime, SystemTime),
        token: Option<String>,
    ) -> Result<(Vec<Image>, Option<String>), Error> {
        let r = &self.request;
        let kind = match r.range.kind {
            TimestampKind::Server => ImageSelectorType::ServerTimestamp,
            TimestampKind::Producer => ImageSelectorType::ProducerTimestamp,
        };
        let interval = i32::try_from(r.interval.as_millis())
            .map_err(|_| Error::Config("the sampling interval is too long".into()))?;
        let pixels = |n: Option<u32>, what: &str| {
            n.map(|n| i32::try_from(n).map_err(|_| Error::Config(format!("{what} {n} is too large"))))
                .transpose()
        };
        let (width, height) = (pixels(r.width, "width")?, pixels(r.height, "height")?);
        let (format, quality) = match r.format {
            ImageFormat::Jpeg { quality } => (Format::Jpeg, Some(quality.to_string())),
            ImageFormat::Png => (Format::Png, None),
        };
        let archive = &self.archive;
        let out = archive
            .call(ApiName::GetImages, "GetImages", |client| {
                let mut call = client
                    .get_images()
                    .image_selector_type(kind.clone())
                    .start_timestamp(DateTime::from(from))
                    .end_timestamp(DateTime::from(to))
                    .sampling_interval(interval)
                    .format(format.clone())
                    .set_width_pixels(width)
                    .set_height_pixels(height)
                    .set_max_results(r.page_size.map(i64::from))
                    .set_next_token(token.clone());
                if let Some(q) = &quality {
                    call = call.format_config(FormatConfigKey::JpegQuality, q);
                }
                let call = if archive.is_arn() {
                    call.stream_arn(archive.stream())
                } else {
                    call.stream_name(archive.stream())
                };
                async move { call.send().await.map_err(|e| classify("GetImages", e)) }
            })
            .await?;
        let mut images = Vec::new();
        for image in out.images.unwrap_or_default() {
            images.push(convert(image)?);
        }
        Ok((images, out.next_token.filter(|t| !t.is_empty())))
    }
}

/// The SDK's image, checked: a timestamp, and either an error or base64 content.
fn convert(image: sdk::types::Image) -> Result<Image, Error> {
    let bad =
        |message: String| Error::Service { operation: "GetImages", code: "InvalidImage".into(), message };
    let timestamp = image
        .time_stamp
        .ok_or_else(|| bad("an image without a TimeStamp".into()))
        .and_then(|t| SystemTime::try_from(t).map_err(|e| bad(format!("TimeStamp: {e}"))))
        .map(to_micros)?;
    let error = image.error.map(|e| match e {
        sdk::types::ImageError::NoMedia => ImageError::NoMedia,
        sdk::types::ImageError::MediaError => ImageError::MediaError,
        other => ImageError::Other(other.as_str().to_owned()),
    });
    let content = match (&error, image.image_content) {
        (None, Some(text)) => aws_smithy_types::base64::decode(&text)
            .map_err(|e| bad(format!("ImageContent is not base64: {e}")))?,
        (None, None) => return Err(bad("an image without ImageContent or Error".into())),
        (Some(_), _) => Vec::new(),
    };
    Ok(Image { timestamp, error, content })
}

/// `time` rounded to the nearest microsecond: the answer's timestamps are JSON numbers of
/// seconds, whose binary fractions land a hair below a millisecond (`.722` read as
/// `.721999…`), which would otherwise name a file a millisecond early.
fn to_micros(time: SystemTime) -> SystemTime {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let micros = (since.as_nanos() + 500) / 1000;
    UNIX_EPOCH + Duration::from_micros(micros as u64)
}

/// How a streaming session plays (HLS / DASH `PlaybackMode` and fragment selector).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Playback {
    /// The live edge, following new fragments (`LIVE`).
    Live,
    /// From `from`, following new fragments, and stopping at `to` when given
    /// (`LIVE_REPLAY`).
    LiveReplay {
        /// Start.
        from: SystemTime,
        /// End, if any.
        to: Option<SystemTime>,
    },
    /// A fixed range (`ON_DEMAND`).
    OnDemand {
        /// Start.
        from: SystemTime,
        /// End.
        to: SystemTime,
    },
}

/// HLS media container (`ContainerFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContainerFormat {
    /// Fragmented MP4 (`FRAGMENTED_MP4`), the default.
    #[default]
    FragmentedMp4,
    /// MPEG transport stream (`MPEG_TS`).
    MpegTs,
}

/// When HLS playlists carry `#EXT-X-DISCONTINUITY` (`DiscontinuityMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiscontinuityMode {
    /// Between every two fragments.
    Always,
    /// Never.
    Never,
    /// Where there is a gap between fragments.
    OnDiscontinuity,
}

/// What a streaming session URL is asked for; [`Archive::hls_url`] and
/// [`Archive::dash_url`] take the same request and use the fields their API has.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionRequest {
    /// Live, live replay or on demand.
    pub playback: Playback,
    /// Whether the range is in server or producer time.
    pub kind: TimestampKind,
    /// How long the URL works (300 s to 12 h; `None` takes the service's 300 s).
    pub expires: Option<Duration>,
    /// Fragments per playlist / manifest (`MaxMediaPlaylistFragmentResults` /
    /// `MaxManifestFragmentResults`; `None` takes the service's default).
    pub max_fragments: Option<u32>,
    /// Whether fragments carry their timestamps (`DisplayFragmentTimestamp`).
    pub display_fragment_timestamp: bool,
    /// HLS only: the media container.
    pub container: ContainerFormat,
    /// HLS only: discontinuity marks (`None` takes the service's default).
    pub discontinuity: Option<DiscontinuityMode>,
    /// DASH only: whether fragments carry their numbers (`DisplayFragmentNumber`).
    pub display_fragment_number: bool,
}

impl SessionRequest {
    /// A request with `playback` and the service's defaults for everything else.
    pub fn new(playback: Playback) -> Self {
        Self {
            playback,
            kind: TimestampKind::Server,
            expires: None,
            max_fragments: None,
            display_fragment_timestamp: false,
            container: ContainerFormat::FragmentedMp4,
            discontinuity: None,
            display_fragment_number: false,
        }
    }

    fn check(&self) -> Result<(), Error> {
        match self.playback {
            Playback::Live => Ok(()),
            Playback::LiveReplay { from, to } => check_range(from, to),
            Playback::OnDemand { from, to } => check_range(from, Some(to)),
        }
    }

    fn expires_secs(&self) -> Result<Option<i32>, Error> {
        self.expires
            .map(|d| i32::try_from(d.as_secs()).map_err(|_| Error::Config("expires is too long".into())))
            .transpose()
    }
}

/// Parses a time as the CLI takes it: RFC 3339 (see [`parse_rfc3339`](crate::parse_rfc3339))
/// or seconds since the Unix epoch (`1733288462`, `1733288462.250`).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use kvs_consumer::archived::parse_time;
/// assert_eq!(parse_time("1700000000.25").unwrap(), UNIX_EPOCH + Duration::from_millis(1_700_000_000_250));
/// assert_eq!(parse_time("1970-01-01T00:00:10Z").unwrap(), UNIX_EPOCH + Duration::from_secs(10));
/// assert!(parse_time("yesterday").is_err() && parse_time("-5").is_err() && parse_time("1.").is_err());
/// ```
pub fn parse_time(text: &str) -> Result<SystemTime, Error> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) {
        return crate::parse_rfc3339(text);
    }
    let bad = || Error::Config(format!("time {text:?}: too far from 1970"));
    let secs = u64::from_str(whole).map_err(|_| bad())?;
    if fraction.len() > 9 {
        return Err(Error::Config(format!("time {text:?}: more than nanosecond precision")));
    }
    let nanos =
        if fraction.is_empty() { 0 } else { u32::from_str(&format!("{fraction:0<9}")).map_err(|_| bad())? };
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn names_are_utc_stamps() {
        assert_eq!(utc_name(at(0)), "19700101T000000.000Z");
        // 2026-12-04T05:01:02.345Z
        assert_eq!(utc_name(at(1_796_360_462_345)), "20261204T050102.345Z");
        // A leap day, and the last millisecond of a year.
        assert_eq!(utc_name(at(951_782_400_000)), "20000229T000000.000Z");
        assert_eq!(utc_name(at(1_704_067_199_999)), "20231231T235959.999Z");
        let image = Image { timestamp: at(1_500), error: None, content: vec![] };
        assert_eq!(image.file_name("png"), "19700101T000001.500Z.png");
    }

    #[test]
    fn ranges_split_at_whole_intervals() {
        let mut request = ImagesRequest::new(TimeRange::server(at(0), at(700_000)));
        request.interval = Duration::from_millis(700);
        let windows = request.windows().unwrap();
        // 428 intervals of 700 ms = 299.6 s per window.
        assert_eq!(windows, [(at(0), at(299_599)), (at(299_600), at(599_199)), (at(599_200), at(700_000))]);
        assert_eq!(request.expected(), 1000);
        request.range = TimeRange::server(at(0), at(300_000));
        request.interval = Duration::from_secs(1);
        assert_eq!(request.windows().unwrap(), [(at(0), at(299_999)), (at(300_000), at(300_000))]);
        request.range = TimeRange::server(at(5), at(5));
        assert_eq!(request.windows().unwrap(), [(at(5), at(5))]);
        assert_eq!(request.expected(), 1);
        request.interval = Duration::from_millis(199);
        assert!(request.windows().is_err());
        request.interval = Duration::from_secs(1);
        request.range = TimeRange::server(at(10), at(5));
        assert!(request.windows().is_err());
    }

    #[test]
    fn images_are_checked() {
        let sdk_image = |t: Option<i64>, error: Option<&str>, content: Option<&str>| {
            let mut b = sdk::types::Image::builder()
                .set_time_stamp(t.map(DateTime::from_secs))
                .set_error(error.map(sdk::types::ImageError::from));
            if let Some(c) = content {
                b = b.image_content(c);
            }
            b.build()
        };
        let from_json = sdk::types::Image::builder()
            .time_stamp(DateTime::from_secs_f64(1_796_360_462.722))
            .image_content("")
            .build();
        assert_eq!(utc_name(convert(from_json).unwrap().timestamp), "20261204T050102.722Z");
        let ok = convert(sdk_image(Some(2), None, Some("/9j/4A=="))).unwrap();
        assert_eq!((ok.timestamp, ok.error, ok.content), (at(2000), None, vec![0xff, 0xd8, 0xff, 0xe0]));
        let none = convert(sdk_image(Some(3), Some("NO_MEDIA"), None)).unwrap();
        assert_eq!((none.error, none.content.len()), (Some(ImageError::NoMedia), 0));
        let bad = convert(sdk_image(Some(3), Some("MEDIA_ERROR"), None)).unwrap();
        assert_eq!(bad.error, Some(ImageError::MediaError));
        assert!(convert(sdk_image(None, None, Some("AAAA"))).is_err());
        assert!(convert(sdk_image(Some(1), None, None)).is_err());
        assert!(convert(sdk_image(Some(1), None, Some("not base64!"))).is_err());
    }

    #[test]
    fn unix_seconds_and_rfc3339() {
        assert_eq!(parse_time("0").unwrap(), UNIX_EPOCH);
        assert_eq!(parse_time("12.000000001").unwrap(), UNIX_EPOCH + Duration::new(12, 1));
        assert_eq!(parse_time("1970-01-01T01:00:10+01:00").unwrap(), at(10_000));
        for bad in ["", ".5", "5.", "1.0000000001", "99999999999999999999", "1e9", " 5"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
