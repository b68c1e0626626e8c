//! `kvs serve --region`: the server checks signatures for the region it is given (or
//! AWS_REGION's), prints it in the exports, and refuses a client signing for another.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use kvs_consumer::{Client, Config, StaticCredentials};

use crate::util::{Process, kvs_bin};

/// `kvs serve ARGS` with `AWS_REGION` set to `env_region` (or removed), and the lines it
/// exports, once it printed them all.
fn serve(args: &[&str], env_region: Option<&str>) -> (Process, Vec<String>) {
    let mut command = Command::new(kvs_bin());
    command.arg("serve").args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    match env_region {
        Some(region) => command.env("AWS_REGION", region),
        None => command.env_remove("AWS_REGION"),
    };
    let mut child = command.spawn().expect("kvs runs");
    let stdout = child.stdout.take().unwrap();
    let process = Process(child);
    let exports: Vec<String> = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take_while(|line| line.starts_with("export ") || line.starts_with("# export "))
        .take(5)
        .collect();
    assert_eq!(exports.len(), 5, "{exports:?}");
    (process, exports)
}

fn exported<'a>(exports: &'a [String], name: &str) -> &'a str {
    let prefix = format!("export {name}=");
    exports.iter().find_map(|l| l.strip_prefix(&prefix)).unwrap_or_else(|| panic!("{name} in {exports:?}"))
}

async fn client(endpoint: &str, region: &str) -> Client {
    let mut config = Config::default();
    config.region = Some(region.to_owned());
    config.endpoint_url = Some(endpoint.to_owned());
    config.credentials = Some(StaticCredentials {
        access_key_id: "AKID".into(),
        secret_access_key: "SECRET".into(),
        session_token: None,
    });
    Client::new(&config).await.unwrap()
}

#[tokio::test]
async fn serve_region_accepts_signatures_for_that_region_only() {
    let (_server, exports) =
        serve(&["--credentials", "AKID:SECRET", "--region", "eu-west-1"], Some("us-east-1"));
    assert_eq!(exported(&exports, "AWS_REGION"), "eu-west-1");
    assert_eq!(exported(&exports, "AWS_DEFAULT_REGION"), "eu-west-1");
    let endpoint = exported(&exports, "AWS_ENDPOINT_URL");

    let streams = client(endpoint, "eu-west-1").await.list_streams(None).await.unwrap();
    assert!(streams.is_empty(), "{streams:?}");
    let error = client(endpoint, "us-east-1").await.list_streams(None).await.unwrap_err().to_string();
    assert!(error.contains("eu-west-1"), "refused, naming the region to sign for: {error}");
}

#[test]
fn serve_exports_the_region_of_aws_region_else_us_east_1() {
    let (_server, exports) = serve(&[], Some("ap-south-1"));
    assert_eq!(exported(&exports, "AWS_REGION"), "ap-south-1");
    let (_server, exports) = serve(&[], None);
    assert_eq!(exported(&exports, "AWS_REGION"), "us-east-1");
    assert_eq!(exported(&exports, "AWS_DEFAULT_REGION"), "us-east-1");
}
