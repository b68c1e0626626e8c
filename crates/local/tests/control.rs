use aws_sdk_kinesisvideo::types::{ApiName, ComparisonOperator, StreamNameCondition};

use crate::util::{control, error_of, start};

#[tokio::test]
async fn streams_are_created_described_listed_and_deleted() {
    let kvs = start().await;
    let client = control(&kvs);
    let mut arns = Vec::new();
    for name in ["cam-a", "cam-b", "door"] {
        let out = client.create_stream().stream_name(name).data_retention_in_hours(24).send().await.unwrap();
        arns.push(out.stream_arn().unwrap().to_owned());
    }
    assert!(arns[0].starts_with("arn:aws:kinesisvideo:us-east-1:000000000000:stream/cam-a/"));

    let again = client.create_stream().stream_name("cam-a").send().await.unwrap_err();
    assert_eq!(error_of(&again), ("ResourceInUseException".into(), 400));

    let info = client.describe_stream().stream_name("cam-b").send().await.unwrap();
    let info = info.stream_info().unwrap();
    assert_eq!((info.stream_name(), info.stream_arn()), (Some("cam-b"), Some(arns[1].as_str())));
    assert_eq!(info.status().map(|s| s.as_str()), Some("ACTIVE"));
    assert!(info.creation_time().unwrap().secs() > 1_600_000_000);
    let by_arn = client.describe_stream().stream_arn(&arns[2]).send().await.unwrap();
    assert_eq!(by_arn.stream_info().unwrap().stream_name(), Some("door"));

    let page = client.list_streams().max_results(2).send().await.unwrap();
    let names: Vec<_> = page.stream_info_list().iter().filter_map(|s| s.stream_name()).collect();
    assert_eq!(names, ["cam-a", "cam-b"]);
    let rest = client.list_streams().next_token(page.next_token().unwrap()).send().await.unwrap();
    let names: Vec<_> = rest.stream_info_list().iter().filter_map(|s| s.stream_name()).collect();
    assert_eq!((names, rest.next_token()), (vec!["door"], None));
    let condition = StreamNameCondition::builder()
        .comparison_operator(ComparisonOperator::BeginsWith)
        .comparison_value("cam")
        .build();
    let cams = client.list_streams().stream_name_condition(condition).send().await.unwrap();
    assert_eq!(cams.stream_info_list().len(), 2);

    client.delete_stream().stream_arn(&arns[0]).send().await.unwrap();
    let gone = client.describe_stream().stream_name("cam-a").send().await.unwrap_err();
    assert_eq!(error_of(&gone), ("ResourceNotFoundException".into(), 404));
    let gone = client.delete_stream().stream_arn(&arns[0]).send().await.unwrap_err();
    assert_eq!(error_of(&gone).1, 404);
    kvs.shutdown().await;
}

#[tokio::test]
async fn data_endpoint_is_the_server_itself() {
    let kvs = start().await;
    kvs.create_stream("s").unwrap();
    let client = control(&kvs);
    for api in
        [ApiName::GetMedia, ApiName::PutMedia, ApiName::ListFragments, ApiName::GetMediaForFragmentList]
    {
        let out = client.get_data_endpoint().stream_name("s").api_name(api).send().await.unwrap();
        assert_eq!(out.data_endpoint(), Some(kvs.endpoint_url().as_str()));
    }
    let missing =
        client.get_data_endpoint().stream_name("nope").api_name(ApiName::GetMedia).send().await.unwrap_err();
    assert_eq!(error_of(&missing), ("ResourceNotFoundException".into(), 404));
    let bad = client.create_stream().stream_name("bad/name").send().await.unwrap_err();
    assert_eq!(error_of(&bad), ("InvalidArgumentException".into(), 400));
    kvs.shutdown().await;
}
