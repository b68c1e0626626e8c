//! GetImages through the official archived-media client: paging, the camera's pictures
//! (colour bars and the frame index read back from the JPEG), sizes, NO_MEDIA and
//! MEDIA_ERROR, AWS's validation errors.

use aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{
    Format, FormatConfigKey, Image, ImageError, ImageSelectorType,
};
use kvs_local::LocalKvs;
use kvs_local::camera::{CameraConfig, bar_at, encode_at, read_frame_index};

use crate::util::{archive, start};

const BASE_MS: i64 = 1_700_000_000_000;

/// 13 s of a 320x240 camera at 15 fps, one-second fragments, from `BASE_MS`.
async fn camera() -> LocalKvs {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let config =
        CameraConfig { width: 320, height: 240, fps: 15, frames_per_fragment: 15, ..Default::default() };
    kvs.ingest_mkv("cam", encode_at(&config, 13 * 15, BASE_MS).unwrap()).unwrap();
    kvs
}

fn images(
    kvs: &LocalKvs,
    from_ms: i64,
    to_ms: i64,
) -> aws_sdk_kinesisvideoarchivedmedia::operation::get_images::builders::GetImagesFluentBuilder {
    archive(kvs)
        .get_images()
        .stream_name("cam")
        .image_selector_type(ImageSelectorType::ProducerTimestamp)
        .start_timestamp(DateTime::from_millis(from_ms))
        .end_timestamp(DateTime::from_millis(to_ms))
        .sampling_interval(200)
        .format(Format::Jpeg)
}

/// Decoded RGB of a JPEG or PNG image: (width, height, pixels).
fn decode(image: &Image) -> (usize, usize, Vec<u8>) {
    let bytes = aws_smithy_types::base64::decode(image.image_content().unwrap()).unwrap();
    if bytes.starts_with(b"\x89PNG") {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        return (info.width as usize, info.height as usize, buf);
    }
    let mut decoder = jpeg_decoder::Decoder::new(&bytes[..]);
    let pixels = decoder.decode().unwrap();
    let info = decoder.info().unwrap();
    assert_eq!(info.pixel_format, jpeg_decoder::PixelFormat::RGB24);
    (usize::from(info.width), usize::from(info.height), pixels)
}

/// Every pixel the camera promises a colour bar at, within `tolerance`.
fn assert_bars(width: usize, height: usize, rgb: &[u8], tolerance: u8) {
    let mut checked = 0;
    for y in 0..height {
        for x in 0..width {
            if let Some(expected) = bar_at(x, y, width, height) {
                let p = (y * width + x) * 3;
                for c in 0..3 {
                    assert!(
                        rgb[p + c].abs_diff(expected[c]) <= tolerance,
                        "({x},{y}) {:?} != {expected:?}",
                        &rgb[p..p + 3]
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} pixels checked");
}

/// Epoch seconds as a JSON number, as AWS sends them: round to the millisecond.
fn millis(image: &Image) -> i64 {
    (image.time_stamp().unwrap().as_secs_f64() * 1000.0).round() as i64
}

#[tokio::test]
async fn images_come_in_pages_of_25_and_show_the_frame_at_their_time() {
    let kvs = camera().await;
    let mut token = None;
    let mut pages = Vec::new();
    let mut all = Vec::new();
    loop {
        let out = images(&kvs, BASE_MS, BASE_MS + 12_000).set_next_token(token).send().await.unwrap();
        pages.push(out.images().len());
        all.extend(out.images().iter().cloned());
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, [25, 25, 10]);
    for (k, image) in all.iter().enumerate() {
        assert_eq!(millis(image), BASE_MS + 200 * k as i64);
        assert_eq!(image.error(), None);
    }
    // Frame 3k is shown at 200k ms (15 fps): the JPEG carries its index and the bars.
    for k in [0usize, 1, 7, 31, 59] {
        let (width, height, rgb) = decode(&all[k]);
        assert_eq!((width, height), (320, 240));
        assert_eq!(read_frame_index(&rgb, width, height), Some(3 * k as u64), "image {k}");
        assert_bars(width, height, &rgb, 24);
    }
    kvs.shutdown().await;
}

#[tokio::test]
async fn sizes_formats_and_no_media() {
    let kvs = camera().await;
    // Height alone keeps the aspect ratio; PNG.
    let out = images(&kvs, BASE_MS + 1000, BASE_MS + 1000)
        .format(Format::Png)
        .height_pixels(120)
        .send()
        .await
        .unwrap();
    assert_eq!(out.images().len(), 1);
    let (width, height, rgb) = decode(&out.images()[0]);
    assert_eq!((width, height), (160, 120));
    assert_bars(width, height, &rgb, 24);
    assert_eq!(read_frame_index(&rgb, width, height), Some(15));

    // Both: stretched to that size; a low JPEG quality still shows the bars roughly.
    let out = images(&kvs, BASE_MS + 2000, BASE_MS + 2000)
        .width_pixels(640)
        .height_pixels(240)
        .format_config(FormatConfigKey::JpegQuality, "50")
        .send()
        .await
        .unwrap();
    let (width, height, rgb) = decode(&out.images()[0]);
    assert_eq!((width, height), (640, 240));
    assert_bars(width, height, &rgb, 40);

    // Past the stream's 13 s: NO_MEDIA, without content.
    let out = images(&kvs, BASE_MS + 12_000, BASE_MS + 14_000).send().await.unwrap();
    let errors: Vec<Option<&ImageError>> = out.images().iter().map(Image::error).collect();
    assert_eq!(errors[..5], [None; 5]);
    assert_eq!(errors[5..], [Some(&ImageError::NoMedia); 5]);
    assert!(out.images()[5].image_content().is_none());
    kvs.shutdown().await;
}

#[tokio::test]
async fn frames_the_decoder_cannot_read_are_media_errors() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    // The camera's stream with every frame's payload replaced by garbage of its length.
    let config =
        CameraConfig { width: 64, height: 64, fps: 15, frames_per_fragment: 15, ..Default::default() };
    let good = encode_at(&config, 30, BASE_MS).unwrap();
    let mut bad = good.to_vec();
    for fragment in crate::util::producer_frames(&good) {
        for frame in fragment {
            let at = bad.windows(frame.len()).position(|w| w == &frame[..]).unwrap();
            for (i, b) in bad[at..at + frame.len()].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(37) ^ 0x5a;
            }
        }
    }
    kvs.ingest_mkv("cam", bad.into()).unwrap();
    let out = images(&kvs, BASE_MS, BASE_MS + 2000).sampling_interval(500).send().await.unwrap();
    assert_eq!(out.images().len(), 4);
    for image in out.images() {
        assert_eq!(image.error(), Some(&ImageError::MediaError), "{image:?}");
    }
    kvs.shutdown().await;
}

#[tokio::test]
async fn requests_out_of_bounds_are_refused_as_aws_does() {
    let kvs = camera().await;
    let code = |e: &dyn ProvideErrorMetadata| e.code().map(str::to_owned);
    let e = images(&kvs, BASE_MS, BASE_MS + 1000).width_pixels(100).send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("ValidationException"));
    let e = images(&kvs, BASE_MS, BASE_MS + 300_001).send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidArgumentException"));
    let e = images(&kvs, BASE_MS, BASE_MS + 1000).sampling_interval(199).send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidArgumentException"));
    let e = images(&kvs, BASE_MS, BASE_MS + 1000)
        .format_config(FormatConfigKey::JpegQuality, "101")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidArgumentException"));
    let e = images(&kvs, BASE_MS, BASE_MS + 1000).height_pixels(2161).send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("InvalidArgumentException"));
    let e = images(&kvs, BASE_MS, BASE_MS + 1000).stream_name("nope").send().await.unwrap_err();
    assert_eq!(code(&e).as_deref(), Some("ResourceNotFoundException"));
    kvs.shutdown().await;
}
