use aws_sdk_kinesisvideoarchivedmedia::primitives::DateTime;
use aws_sdk_kinesisvideoarchivedmedia::types::{FragmentSelector, FragmentSelectorType, TimestampRange};
use kvs_mkv::names;

use crate::util::{archive, camera_mkv, frames_of, producer_frames, read_all, split, start};

#[tokio::test]
async fn list_fragments_pages_through_everything() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(5);
    let numbers: Vec<String> = kvs.ingest_mkv("cam", mkv).unwrap().iter().map(|n| n.to_string()).collect();
    let client = archive(&kvs);
    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let out = client
            .list_fragments()
            .stream_name("cam")
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        pages += 1;
        for f in out.fragments() {
            assert_eq!(f.fragment_length_in_milliseconds(), 99);
            assert!(f.fragment_size_in_bytes() > 100);
            // Epoch seconds as a JSON number, as AWS sends them: round to the millisecond.
            let producer_ms = (f.producer_timestamp().unwrap().as_secs_f64() * 1000.0).round() as i64;
            assert_eq!(producer_ms % 100, 0);
            seen.push(f.fragment_number().unwrap().to_owned());
        }
        token = out.next_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    // Pages are not sorted (as with AWS): sort numerically, by length then digits.
    seen.sort_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    assert_eq!(seen, numbers);

    // A producer time range holding fragments 1 to 3 (starting at +100, +200, +300 ms).
    let range = TimestampRange::builder()
        .start_timestamp(DateTime::from_millis(1_700_000_000_100))
        .end_timestamp(DateTime::from_millis(1_700_000_000_300))
        .build()
        .unwrap();
    let selector = FragmentSelector::builder()
        .fragment_selector_type(FragmentSelectorType::ProducerTimestamp)
        .timestamp_range(range)
        .build()
        .unwrap();
    let out = client.list_fragments().stream_name("cam").fragment_selector(selector).send().await.unwrap();
    let mut in_range: Vec<_> =
        out.fragments().iter().map(|f| f.fragment_number().unwrap().to_owned()).collect();
    in_range.sort();
    assert_eq!(in_range, numbers[1..4]);

    let bad = client.list_fragments().stream_name("cam").max_results(1001).send().await.unwrap_err();
    assert_eq!(
        aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata::code(&bad),
        Some("InvalidArgumentException")
    );
    let missing = client.list_fragments().stream_name("nope").send().await.unwrap_err();
    assert_eq!(
        aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata::code(&missing),
        Some("ResourceNotFoundException")
    );
    kvs.shutdown().await;
}

#[tokio::test]
async fn media_for_a_fragment_list_comes_in_the_order_asked() {
    let kvs = start().await;
    kvs.create_stream("cam").unwrap();
    let mkv = camera_mkv(4);
    let numbers: Vec<String> =
        kvs.ingest_mkv("cam", mkv.clone()).unwrap().iter().map(|n| n.to_string()).collect();
    let produced = producer_frames(&mkv);
    let missing = "9".repeat(48);
    let out = archive(&kvs)
        .get_media_for_fragment_list()
        .stream_name("cam")
        .fragments(&numbers[3])
        .fragments(&missing)
        .fragments(&numbers[0])
        .send()
        .await
        .unwrap();
    assert_eq!(out.content_type(), Some("video/webm"));
    let body = split(read_all(out.payload).await);
    assert_eq!(body.order, [Ok(0), Err(0), Ok(1)]);
    assert_eq!(body.numbers(), [numbers[3].clone(), numbers[0].clone()]);
    assert_eq!(frames_of(&body.fragments[0]), produced[3]);
    assert_eq!(frames_of(&body.fragments[1]), produced[0]);
    // The tags GetMediaForFragmentList's reference names: the fragment's number, an
    // integer code (GetMedia's 4000, fragment not found) and a message.
    let error = &body.errors[0];
    assert_eq!((error.code.as_str(), error.id.as_deref()), ("4000", None));
    assert!(error.message.is_some());
    let error_tags: Vec<(&str, Option<&str>)> =
        error.tags.iter().map(|t| (t.name.as_str(), t.value.as_deref())).collect();
    assert_eq!(error_tags[0], (names::FRAGMENT_NUMBER, Some(missing.as_str())));
    assert_eq!(error_tags[1].0, names::EXCEPTION_ERROR_CODE);
    let tag_names: Vec<&str> = body.fragments[0].tags().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        tag_names,
        [names::FRAGMENT_NUMBER, names::SERVER_SIDE_TIMESTAMP, names::PRODUCER_SIDE_TIMESTAMP]
    );

    let bad = archive(&kvs)
        .get_media_for_fragment_list()
        .stream_name("cam")
        .fragments("12x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata::code(&bad),
        Some("InvalidArgumentException")
    );
    kvs.shutdown().await;
}

#[tokio::test]
async fn retention_drops_the_oldest_fragments() {
    let kvs = kvs_local::LocalKvs::start(kvs_local::Config { retention_bytes: 1, ..crate::util::config() })
        .await
        .unwrap();
    kvs.create_stream("cam").unwrap();
    let numbers: Vec<String> =
        kvs.ingest_mkv("cam", camera_mkv(3)).unwrap().iter().map(|n| n.to_string()).collect();
    let out = archive(&kvs).list_fragments().stream_name("cam").send().await.unwrap();
    let kept: Vec<_> = out.fragments().iter().map(|f| f.fragment_number().unwrap().to_owned()).collect();
    assert_eq!(kept, numbers[2..]);
    let body = split(
        crate::util::get_media(
            &kvs,
            "cam",
            crate::util::selector(aws_sdk_kinesisvideomedia::types::StartSelectorType::Earliest),
        )
        .await,
    );
    assert_eq!(body.numbers(), numbers[2..]);
    // A resume from a dropped fragment starts at the oldest one kept.
    let resume = aws_sdk_kinesisvideomedia::types::StartSelector::builder()
        .start_selector_type(aws_sdk_kinesisvideomedia::types::StartSelectorType::ContinuationToken)
        .continuation_token(&numbers[0])
        .build()
        .unwrap();
    assert_eq!(split(crate::util::get_media(&kvs, "cam", resume).await).numbers(), numbers[2..]);
    kvs.shutdown().await;
}
