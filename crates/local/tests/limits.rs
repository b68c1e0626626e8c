use std::time::Duration;

use aws_sdk_kinesisvideomedia::error::ProvideErrorMetadata;
use aws_sdk_kinesisvideomedia::types::{StartSelector, StartSelectorType};
use kvs_local::{Config, Faults, LocalKvs, RefuseWith};

use crate::util::{camera_mkv, config, get_media, media, open_get_media, read_all, selector, split, start};

fn code<E: ProvideErrorMetadata, R>(e: &aws_sdk_kinesisvideomedia::error::SdkError<E, R>) -> String {
    e.code().unwrap_or("<none>").to_owned()
}

fn status<E>(
    e: &aws_sdk_kinesisvideomedia::error::SdkError<E, aws_sdk_kinesisvideomedia::config::http::HttpResponse>,
) -> u16 {
    e.raw_response().map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn more_than_five_calls_a_second_are_refused() {
    let kvs = LocalKvs::start(Config { get_media_tps: 5, ..config() }).await.unwrap();
    kvs.create_stream("s").unwrap();
    kvs.set_faults("s", Faults { cut_after_fragments: Some(1), ..Faults::default() });
    kvs.ingest_mkv("s", camera_mkv(1)).unwrap();
    let client = media(&kvs);
    let call =
        || client.get_media().stream_name("s").start_selector(selector(StartSelectorType::Earliest)).send();
    // Each accepted call ends after one fragment. The sixth call within a second is
    // refused; should the machine stall for a second, a later one is.
    let mut refused = None;
    for i in 0..50 {
        match call().await {
            Ok(out) => assert_eq!(split(read_all(out.payload).await).fragments.len(), 1, "call {i}"),
            Err(e) => {
                refused = Some((i, code(&e), status(&e)));
                break;
            }
        }
    }
    let (index, code, status) = refused.expect("no call was refused");
    assert!(index >= 5, "refused after {index} calls");
    assert_eq!((code.as_str(), status), ("ClientLimitExceededException", 400));
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_fourth_concurrent_connection_is_refused() {
    let kvs = LocalKvs::start(Config {
        get_media_connections: 3,
        idle_timeout: Duration::from_secs(30),
        ..config()
    })
    .await
    .unwrap();
    kvs.create_stream("s").unwrap();
    let client = media(&kvs);
    let call = || client.get_media().stream_name("s").start_selector(selector(StartSelectorType::Now)).send();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(call().await.unwrap());
    }
    let refused = call().await.unwrap_err();
    assert_eq!((code(&refused), status(&refused)), ("ConnectionLimitExceededException".into(), 400));
    // Closing one frees its slot once the server sees the connection go.
    drop(open.pop());
    let mut admitted = false;
    for _ in 0..100 {
        if call().await.is_ok() {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted);
    drop(open);
    kvs.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_the_aws_errors() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let client = media(&kvs);
    let missing = client
        .get_media()
        .stream_name("nope")
        .start_selector(selector(StartSelectorType::Now))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&missing), status(&missing)), ("ResourceNotFoundException".into(), 404));
    let no_number = client
        .get_media()
        .stream_name("s")
        .start_selector(selector(StartSelectorType::FragmentNumber))
        .send()
        .await
        .unwrap_err();
    assert_eq!((code(&no_number), status(&no_number)), ("InvalidArgumentException".into(), 400));
    let bad_token = StartSelector::builder()
        .start_selector_type(StartSelectorType::ContinuationToken)
        .continuation_token("not-a-number")
        .build()
        .unwrap();
    let bad = client.get_media().stream_name("s").start_selector(bad_token).send().await.unwrap_err();
    assert_eq!(code(&bad), "InvalidArgumentException");
    let unknown_type =
        StartSelector::builder().start_selector_type(StartSelectorType::from("SOMETIME")).build().unwrap();
    let bad = client.get_media().stream_name("s").start_selector(unknown_type).send().await.unwrap_err();
    assert_eq!(code(&bad), "InvalidArgumentException");
    kvs.shutdown().await;
}

#[tokio::test]
async fn injected_faults_cut_refuse_and_break_in_band() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let numbers: Vec<String> =
        kvs.ingest_mkv("s", camera_mkv(4)).unwrap().iter().map(|n| n.to_string()).collect();

    kvs.set_faults("s", Faults { cut_after_fragments: Some(2), ..Faults::default() });
    let two = split(get_media(&kvs, "s", selector(StartSelectorType::Earliest)).await);
    assert_eq!(two.numbers(), numbers[..2]);

    let whole = get_media(&kvs, "s", selector(StartSelectorType::Earliest)).await;
    kvs.set_faults("s", Faults { cut_after_bytes: Some(1000), ..Faults::default() });
    let cut = get_media(&kvs, "s", selector(StartSelectorType::Earliest)).await;
    assert_eq!(cut.len(), 1000);
    let head = split(cut);
    let whole = split(whole);
    let (last, whole_ones) = head.fragments.split_last().unwrap();
    assert!(!last.is_complete() && whole_ones.iter().all(|f| f.is_complete()));
    let numbers_of =
        |fs: &[kvs_mkv::Fragment]| fs.iter().map(|f| f.kvs().fragment_number.clone()).collect::<Vec<_>>();
    assert_eq!(numbers_of(whole_ones), numbers_of(&whole.fragments[..whole_ones.len()]));
    let cut_frames = last.frames_lossy().0;
    let all_frames = whole.fragments[head.fragments.len() - 1].frames().unwrap();
    assert_eq!(cut_frames, all_frames[..cut_frames.len()]);

    kvs.set_faults(
        "s",
        Faults {
            refuse_next: Some((2, RefuseWith::NotAuthorized)),
            cut_after_fragments: Some(1),
            ..Faults::default()
        },
    );
    let client = media(&kvs);
    for _ in 0..2 {
        let e = client
            .get_media()
            .stream_name("s")
            .start_selector(selector(StartSelectorType::Earliest))
            .send()
            .await
            .unwrap_err();
        assert_eq!((code(&e), status(&e)), ("NotAuthorizedException".into(), 401));
    }
    assert_eq!(
        split(get_media(&kvs, "s", selector(StartSelectorType::Earliest)).await).numbers(),
        numbers[..1]
    );

    kvs.set_faults("s", Faults { refuse_next: Some((1, RefuseWith::InternalError)), ..Faults::default() });
    let e = client
        .get_media()
        .stream_name("s")
        .start_selector(selector(StartSelectorType::Earliest))
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), 500);

    // An in-band error between fragments: served in place, not replayed on resume.
    kvs.set_faults("s", Faults::default());
    kvs.inject_error("s", "5000", "5000").unwrap();
    let later = kvs.ingest_mkv("s", camera_mkv(1)).unwrap()[0].to_string();
    let body = split(get_media(&kvs, "s", selector(StartSelectorType::Earliest)).await);
    assert_eq!(body.order, [Ok(0), Ok(1), Ok(2), Ok(3), Err(0), Ok(4)]);
    assert_eq!((body.errors[0].code.as_str(), body.errors[0].id.as_deref()), ("5000", Some("5000")));
    let resume = StartSelector::builder()
        .start_selector_type(StartSelectorType::ContinuationToken)
        .continuation_token(&numbers[3])
        .build()
        .unwrap();
    let resumed = split(get_media(&kvs, "s", resume).await);
    assert_eq!((resumed.numbers(), resumed.errors.len()), (vec![later], 0));
    kvs.shutdown().await;
}

#[tokio::test]
async fn deleting_a_stream_ends_its_live_readers_with_3002() {
    let kvs = LocalKvs::start(Config { idle_timeout: Duration::from_secs(30), ..config() }).await.unwrap();
    kvs.create_stream("s").unwrap();
    let out = open_get_media(&kvs, "s", selector(StartSelectorType::Now)).await;
    kvs.ingest_mkv("s", camera_mkv(1)).unwrap();
    kvs.delete_stream("s").unwrap();
    let body = split(read_all(out.payload).await);
    assert_eq!(body.order, [Ok(0), Err(0)]);
    assert_eq!(body.errors[0].id.as_deref(), Some("3002"));
    kvs.shutdown().await;
}

#[tokio::test]
async fn a_response_ends_at_the_maximum_duration() {
    // Idle time of an hour: only the maximum duration can end this response.
    let kvs = LocalKvs::start(Config {
        idle_timeout: Duration::from_secs(3600),
        max_get_media_duration: Duration::from_millis(300),
        ..config()
    })
    .await
    .unwrap();
    kvs.create_stream("s").unwrap();
    let body =
        tokio::time::timeout(Duration::from_secs(60), get_media(&kvs, "s", selector(StartSelectorType::Now)));
    assert!(body.await.expect("the response ended").is_empty());
    kvs.shutdown().await;
}

#[tokio::test]
async fn shutdown_ends_open_responses() {
    let kvs = LocalKvs::start(Config { idle_timeout: Duration::from_secs(3600), ..config() }).await.unwrap();
    kvs.create_stream("s").unwrap();
    let out = open_get_media(&kvs, "s", selector(StartSelectorType::Now)).await;
    kvs.clone().shutdown().await;
    let body = tokio::time::timeout(Duration::from_secs(60), read_all(out.payload));
    assert!(body.await.expect("the response ended").is_empty());
}

#[tokio::test]
async fn get_media_for_fragment_list_has_the_per_stream_limits() {
    // A slow rate keeps each response open: 3 fit, the fourth is refused.
    let kvs = LocalKvs::start(Config { get_media_connections: 3, get_media_rate: Some(100), ..config() })
        .await
        .unwrap();
    kvs.create_stream("s").unwrap();
    let number = kvs.ingest_mkv("s", camera_mkv(1)).unwrap()[0].to_string();
    let client = crate::util::archive(&kvs);
    let call = || client.get_media_for_fragment_list().stream_name("s").fragments(&number).send();
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(call().await.unwrap());
    }
    let refused = call().await.unwrap_err();
    assert_eq!(
        aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata::code(&refused),
        Some("ConnectionLimitExceededException")
    );
    // GetMedia counts apart.
    open_get_media(&kvs, "s", selector(StartSelectorType::Earliest)).await;
    drop(open);
    kvs.shutdown().await;

    let kvs = LocalKvs::start(Config { get_media_tps: 5, ..config() }).await.unwrap();
    kvs.create_stream("s").unwrap();
    let number = kvs.ingest_mkv("s", camera_mkv(1)).unwrap()[0].to_string();
    let client = crate::util::archive(&kvs);
    let mut refused = None;
    for i in 0..50 {
        match client.get_media_for_fragment_list().stream_name("s").fragments(&number).send().await {
            Ok(out) => assert_eq!(split(read_all(out.payload).await).fragments.len(), 1, "call {i}"),
            Err(e) => {
                refused = Some((
                    i,
                    aws_sdk_kinesisvideoarchivedmedia::error::ProvideErrorMetadata::code(&e)
                        .map(str::to_owned),
                ));
                break;
            }
        }
    }
    let (index, code) = refused.expect("no call was refused");
    assert!(index >= 5, "refused after {index} calls");
    assert_eq!(code.as_deref(), Some("ClientLimitExceededException"));
    kvs.shutdown().await;
}
