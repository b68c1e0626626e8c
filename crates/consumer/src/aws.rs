//! The AWS side: loading SDK configuration ([`Client`], shared by many reads), ListStreams, GetDataEndpoint, GetMedia, ListFragments and
//! GetMediaForFragmentList through the official SDK clients, and sorting their failures
//! into "retry" and "give up" ([`Failure`]).
//!
//! It does not loop, wait or retry: the driver does.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_kinesisvideo::config::Credentials;
use aws_sdk_kinesisvideo::types::{ApiName, ComparisonOperator, Status, StreamNameCondition};
use aws_sdk_kinesisvideoarchivedmedia::types::{FragmentSelector, FragmentSelectorType, TimestampRange};
use aws_sdk_kinesisvideomedia::config::http::HttpResponse;
use aws_sdk_kinesisvideomedia::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesisvideomedia::primitives::{ByteStream, DateTime};
use aws_sdk_kinesisvideomedia::types::{StartSelector as SdkSelector, StartSelectorType};
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore, rustls_provider::CryptoMode};
use kvs_mkv::FragmentNumber;
use tracing::debug;

use crate::{Config, Error, StartSelector, TimeRange, TimestampKind};

/// A failed call, sorted.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another try after a backoff (throttling, 5xx, network); the text says why.
    Retry(String),
    /// Retrying cannot help.
    Fatal(Error),
}

/// The SDK configuration, its one HTTP client (connection pool) and the control-plane
/// client, shared by every read made from it: a fleet of hundreds of streams loads the
/// configuration and opens its pool once. Cheap to clone.
///
/// ```no_run
/// use kvs_consumer::{Client, Config, Consumer, Source, StartSelector};
///
/// # async fn example() -> Result<(), kvs_consumer::Error> {
/// let client = Client::new(&Config::default()).await?;
/// let mut reads = Vec::new();
/// for camera in client.list_streams(Some("door-")).await? {
///     let source = Source::live(camera, StartSelector::Now);
///     reads.push(Consumer::with_config(source, Config::default()).client(client.clone()).stream()?);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    sdk: SdkConfig,
    control: aws_sdk_kinesisvideo::Client,
}

impl Client {
    /// Loads the SDK configuration (default chains, overridden by `config`'s region,
    /// endpoint and credentials) with an HTTP client over rustls, trusting the platform's
    /// roots and `config.ca_pem`.
    pub async fn new(config: &Config) -> Result<Self, Error> {
        let mut http =
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring));
        if let Some(pem) = &config.ca_pem {
            // Checked here: the SDK's client takes the bytes unchecked and panics on a bad
            // certificate at its first connection.
            crate::tls::ca_certificates(pem)?;
            let roots = TrustStore::default().with_pem_certificate(pem.clone());
            let tls = TlsContext::builder()
                .with_trust_store(roots)
                .build()
                .map_err(|e| Error::Config(format!("TLS: {e}")))?;
            http = http.tls_context(tls);
        }
        let http = http.build_https();
        // Retries are the driver's: it knows the 5 TPS limit and resumes by token.
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http)
            .retry_config(RetryConfig::disabled());
        let local = LoopbackDefaults::for_config(config, |name| std::env::var_os(name).is_some());
        if let Some(region) = config.region.as_ref().or(local.region.as_ref()) {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(url) = &config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(c) = config.credentials.as_ref().or(local.credentials.as_ref()) {
            let creds = Credentials::new(
                &c.access_key_id,
                &c.secret_access_key,
                c.session_token.clone(),
                None,
                "kvs-consumer",
            );
            loader = loader.credentials_provider(creds);
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            return Err(Error::Config("no AWS region: pass one or set AWS_REGION".into()));
        }
        let control = aws_sdk_kinesisvideo::Client::new(&sdk);
        Ok(Self { sdk, control })
    }

    /// The loaded SDK configuration, to build other AWS clients on the same HTTP client.
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.sdk
    }

    /// The names of the ACTIVE streams (ListStreams, every page), those starting with
    /// `prefix` when given, sorted.
    pub async fn list_streams(&self, prefix: Option<&str>) -> Result<Vec<String>, Error> {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let mut call = self.control.list_streams().max_results(10_000).set_next_token(token);
            if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
                let condition = StreamNameCondition::builder()
                    .comparison_operator(ComparisonOperator::BeginsWith)
                    .comparison_value(prefix)
                    .build();
                call = call.stream_name_condition(condition);
            }
            let out = call.send().await.map_err(|e| match classify("ListStreams", e) {
                Failure::Fatal(e) => e,
                Failure::Retry(why) => Error::Unavailable(why),
            })?;
            for info in out.stream_info_list.unwrap_or_default() {
                let active = info.status.as_ref().is_none_or(|s| *s == Status::Active);
                match info.stream_name {
                    // A prefix is a filter the service applies; applying it again guards
                    // against servers that ignore it.
                    Some(name) if active && prefix.is_none_or(|p| name.starts_with(p)) => names.push(name),
                    _ => {}
                }
            }
            match out.next_token.filter(|t| !t.is_empty()) {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        names.sort_unstable();
        names.dedup();
        Ok(names)
    }
}

/// The SDK clients of one stream.
#[derive(Debug, Clone)]
pub(crate) struct Aws {
    client: Client,
    stream: String,
}

impl Aws {
    /// The clients for `stream`, on `client`'s configuration.
    pub(crate) fn new(client: Client, stream: &str) -> Result<Self, Error> {
        if stream.is_empty() {
            return Err(Error::Config("empty stream name".into()));
        }
        Ok(Self { client, stream: stream.to_owned() })
    }

    fn is_arn(&self) -> bool {
        self.stream.starts_with("arn:")
    }

    /// The data endpoint for `api` (GetDataEndpoint).
    pub(crate) async fn data_endpoint(&self, api: ApiName) -> Result<String, Failure> {
        let mut call = self.client.control.get_data_endpoint().api_name(api.clone());
        call = if self.is_arn() { call.stream_arn(&self.stream) } else { call.stream_name(&self.stream) };
        let out = call.send().await.map_err(|e| classify("GetDataEndpoint", e))?;
        let endpoint = out.data_endpoint.ok_or_else(|| {
            Failure::Fatal(Error::Service {
                operation: "GetDataEndpoint",
                code: "MissingDataEndpoint".into(),
                message: "the answer has no DataEndpoint".into(),
            })
        })?;
        debug!(?api, %endpoint, "data endpoint");
        Ok(endpoint)
    }

    /// A GetMedia client for a data endpoint.
    pub(crate) fn media_client(&self, endpoint: &str) -> aws_sdk_kinesisvideomedia::Client {
        let config =
            aws_sdk_kinesisvideomedia::config::Builder::from(&self.client.sdk).endpoint_url(endpoint).build();
        aws_sdk_kinesisvideomedia::Client::from_conf(config)
    }

    /// An archived-media client for a data endpoint.
    pub(crate) fn archive_client(&self, endpoint: &str) -> aws_sdk_kinesisvideoarchivedmedia::Client {
        let config = aws_sdk_kinesisvideoarchivedmedia::config::Builder::from(&self.client.sdk)
            .endpoint_url(endpoint)
            .build();
        aws_sdk_kinesisvideoarchivedmedia::Client::from_conf(config)
    }

    /// Starts a GetMedia response; its body is read by the caller.
    pub(crate) async fn get_media(
        &self,
        client: &aws_sdk_kinesisvideomedia::Client,
        selector: &StartSelector,
    ) -> Result<ByteStream, Failure> {
        let selector = sdk_selector(selector)?;
        let mut call = client.get_media().start_selector(selector);
        call = if self.is_arn() { call.stream_arn(&self.stream) } else { call.stream_name(&self.stream) };
        let out = call.send().await.map_err(|e| classify("GetMedia", e))?;
        Ok(out.payload)
    }

    /// One page of ListFragments: fragment numbers and the next token.
    pub(crate) async fn list_fragments_page(
        &self,
        client: &aws_sdk_kinesisvideoarchivedmedia::Client,
        range: &TimeRange,
        page_size: usize,
        next_token: Option<String>,
    ) -> Result<(Vec<FragmentNumber>, Option<String>), Failure> {
        let kind = match range.kind {
            TimestampKind::Server => FragmentSelectorType::ServerTimestamp,
            TimestampKind::Producer => FragmentSelectorType::ProducerTimestamp,
        };
        let range = TimestampRange::builder()
            .start_timestamp(DateTime::from(range.from))
            .end_timestamp(DateTime::from(range.to))
            .build()
            .map_err(|e| Failure::Fatal(Error::Config(e.to_string())))?;
        let selector = FragmentSelector::builder()
            .fragment_selector_type(kind)
            .timestamp_range(range)
            .build()
            .map_err(|e| Failure::Fatal(Error::Config(e.to_string())))?;
        let mut call = client
            .list_fragments()
            .fragment_selector(selector)
            .max_results(page_size as i64)
            .set_next_token(next_token);
        call = if self.is_arn() { call.stream_arn(&self.stream) } else { call.stream_name(&self.stream) };
        let out = call.send().await.map_err(|e| classify("ListFragments", e))?;
        let mut numbers = Vec::new();
        for fragment in out.fragments.unwrap_or_default() {
            let text = fragment.fragment_number.unwrap_or_default();
            let number = text.parse().map_err(|_| {
                Failure::Fatal(Error::Service {
                    operation: "ListFragments",
                    code: "InvalidFragmentNumber".into(),
                    message: format!(
                        "not a fragment number: {:?}",
                        text.chars().take(140).collect::<String>()
                    ),
                })
            })?;
            numbers.push(number);
        }
        Ok((numbers, out.next_token.filter(|t| !t.is_empty())))
    }

    /// Starts a GetMediaForFragmentList response for `numbers` (at most 1000).
    pub(crate) async fn get_media_for_fragment_list(
        &self,
        client: &aws_sdk_kinesisvideoarchivedmedia::Client,
        numbers: &[FragmentNumber],
    ) -> Result<ByteStream, Failure> {
        let list = numbers.iter().map(|n| n.as_str().to_owned()).collect();
        let mut call = client.get_media_for_fragment_list().set_fragments(Some(list));
        call = if self.is_arn() { call.stream_arn(&self.stream) } else { call.stream_name(&self.stream) };
        let out = call.send().await.map_err(|e| classify("GetMediaForFragmentList", e))?;
        Ok(out.payload)
    }
}

/// What a read of a server on loopback (`kvs serve`, tests) gets when nothing else is
/// configured: the default chains would otherwise ask the EC2 metadata service, off this
/// machine, for a region and credentials that a local server does not check.
#[derive(Debug, Default, PartialEq)]
struct LoopbackDefaults {
    region: Option<String>,
    credentials: Option<crate::StaticCredentials>,
}

impl LoopbackDefaults {
    fn for_config(config: &Config, env_has: impl Fn(&str) -> bool) -> Self {
        let endpoint = match &config.endpoint_url {
            Some(url) => url.clone(),
            None => std::env::var("AWS_ENDPOINT_URL").unwrap_or_default(),
        };
        if !is_loopback(&endpoint) || env_has("AWS_PROFILE") {
            return Self::default();
        }
        let region =
            (!env_has("AWS_REGION") && !env_has("AWS_DEFAULT_REGION")).then(|| "us-east-1".to_owned());
        let credentials = (!env_has("AWS_ACCESS_KEY_ID")).then(|| crate::StaticCredentials {
            access_key_id: "local".into(),
            secret_access_key: "local".into(),
            session_token: None,
        });
        Self { region, credentials }
    }
}

/// Whether a URL points at this machine (`127.x.x.x`, `localhost`, `[::1]`).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = if rest.starts_with('[') {
        rest.split(']').next().map(|h| format!("{h}]")).unwrap_or_default()
    } else {
        rest.split([':', '/']).next().unwrap_or_default().to_owned()
    };
    host == "localhost"
        || host == "[::1]"
        || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn sdk_selector(selector: &StartSelector) -> Result<SdkSelector, Failure> {
    let b = SdkSelector::builder();
    let b = match selector {
        StartSelector::Now => b.start_selector_type(StartSelectorType::Now),
        StartSelector::Earliest => b.start_selector_type(StartSelectorType::Earliest),
        StartSelector::AfterFragment(n) => {
            b.start_selector_type(StartSelectorType::FragmentNumber).after_fragment_number(n.as_str())
        }
        StartSelector::ServerTimestamp(t) => {
            b.start_selector_type(StartSelectorType::ServerTimestamp).start_timestamp(DateTime::from(*t))
        }
        StartSelector::ProducerTimestamp(t) => {
            b.start_selector_type(StartSelectorType::ProducerTimestamp).start_timestamp(DateTime::from(*t))
        }
        StartSelector::ContinuationToken(token) => {
            b.start_selector_type(StartSelectorType::ContinuationToken).continuation_token(token)
        }
    };
    b.build().map_err(|e| Failure::Fatal(Error::Config(e.to_string())))
}

/// Sorts an SDK error: typed errors for what retrying cannot fix, `Retry` for throttling,
/// server errors and the network.
pub(crate) fn classify<E>(operation: &'static str, error: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    match &error {
        SdkError::ServiceError(ctx) => {
            let err = ctx.err();
            let code = err.code().unwrap_or_default().to_owned();
            let message = err.message().unwrap_or_default().to_owned();
            classify_service(operation, &code, status, message)
        }
        SdkError::ConstructionFailure(_) => Failure::Fatal(Error::Config(format!(
            "{operation}: {}",
            aws_sdk_kinesisvideomedia::error::DisplayErrorContext(&error)
        ))),
        SdkError::DispatchFailure(failure)
            if let Some(why) =
                failure.as_connector_error().and_then(|e| crate::tls::untrusted_certificate(e)) =>
        {
            Failure::Fatal(Error::Config(format!("{operation}: {why}")))
        }
        _ => Failure::Retry(format!(
            "{operation}: {}",
            aws_sdk_kinesisvideomedia::error::DisplayErrorContext(&error)
        )),
    }
}

/// The table of service errors: what retries, what ends the read, as what.
pub(crate) fn classify_service(
    operation: &'static str,
    code: &str,
    status: Option<u16>,
    message: String,
) -> Failure {
    match code {
        "ResourceNotFoundException" => Failure::Fatal(Error::StreamNotFound { message }),
        "NotAuthorizedException" | "AccessDeniedException" | "UnrecognizedClientException" => {
            Failure::Fatal(Error::NotAuthorized { message })
        }
        "InvalidArgumentException" | "InvalidEndpointException" | "ValidationException" => {
            Failure::Fatal(Error::InvalidArgument { message })
        }
        "ClientLimitExceededException" | "ConnectionLimitExceededException" | "ThrottlingException" => {
            Failure::Retry(format!("{operation}: {code}: {message}"))
        }
        _ => match status {
            Some(s) if s >= 500 || s == 429 => {
                Failure::Retry(format!("{operation}: HTTP {s} {code}: {message}"))
            }
            Some(401 | 403) => Failure::Fatal(Error::NotAuthorized { message }),
            Some(404) => Failure::Fatal(Error::StreamNotFound { message }),
            _ => Failure::Fatal(Error::Service {
                operation,
                code: if code.is_empty() {
                    status.map_or_else(String::new, |s| format!("HTTP {s}"))
                } else {
                    code.into()
                },
                message,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! sorted {
        ($($code:expr, $status:expr => $want:pat),* $(,)?) => {$(
            let got = classify_service("GetMedia", $code, $status, "m".into());
            assert!(matches!(got, $want), "{} {:?}: {got:?}", $code, $status);
        )*};
    }

    #[test]
    fn service_errors_are_sorted() {
        sorted! {
            "ResourceNotFoundException", Some(404) => Failure::Fatal(Error::StreamNotFound { .. }),
            "NotAuthorizedException", Some(401) => Failure::Fatal(Error::NotAuthorized { .. }),
            "InvalidArgumentException", Some(400) => Failure::Fatal(Error::InvalidArgument { .. }),
            "InvalidEndpointException", Some(400) => Failure::Fatal(Error::InvalidArgument { .. }),
            "ClientLimitExceededException", Some(400) => Failure::Retry(_),
            "ConnectionLimitExceededException", Some(400) => Failure::Retry(_),
            "", Some(503) => Failure::Retry(_),
            "InternalFailure", Some(500) => Failure::Retry(_),
            "", Some(403) => Failure::Fatal(Error::NotAuthorized { .. }),
            "SomethingNew", Some(400) => Failure::Fatal(Error::Service { .. }),
        }
    }

    #[test]
    fn loopback_endpoints_need_no_aws_setup() {
        assert!(
            is_loopback("http://127.0.0.1:4566")
                && is_loopback("http://localhost/")
                && is_loopback("http://[::1]:80")
        );
        assert!(
            !is_loopback("https://kinesisvideo.us-west-2.amazonaws.com")
                && !is_loopback("http://10.0.0.1:80")
        );
        let mut config = Config { endpoint_url: Some("http://127.0.0.1:4566".into()), ..Config::default() };
        let bare = LoopbackDefaults::for_config(&config, |_| false);
        assert_eq!(bare.region.as_deref(), Some("us-east-1"));
        assert_eq!(bare.credentials.map(|c| c.access_key_id), Some("local".into()));
        let with_keys = LoopbackDefaults::for_config(&config, |name| name == "AWS_ACCESS_KEY_ID");
        assert!(with_keys.credentials.is_none() && with_keys.region.is_some());
        config.endpoint_url = Some("https://kinesisvideo.us-west-2.amazonaws.com".into());
        assert_eq!(LoopbackDefaults::for_config(&config, |_| false), LoopbackDefaults::default());
    }

    #[test]
    fn every_selector_builds() {
        let n: FragmentNumber = "1234".parse().unwrap();
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let cases = [
            (StartSelector::Now, StartSelectorType::Now),
            (StartSelector::Earliest, StartSelectorType::Earliest),
            (StartSelector::AfterFragment(n), StartSelectorType::FragmentNumber),
            (StartSelector::ServerTimestamp(t), StartSelectorType::ServerTimestamp),
            (StartSelector::ProducerTimestamp(t), StartSelectorType::ProducerTimestamp),
            (StartSelector::ContinuationToken("tok".into()), StartSelectorType::ContinuationToken),
        ];
        for (ours, theirs) in cases {
            let built = sdk_selector(&ours).unwrap();
            assert_eq!(built.start_selector_type(), &theirs);
        }
        let built = sdk_selector(&StartSelector::AfterFragment("1234".parse().unwrap())).unwrap();
        assert_eq!(built.after_fragment_number(), Some("1234"));
        let built = sdk_selector(&StartSelector::ServerTimestamp(t)).unwrap();
        assert_eq!(built.start_timestamp().map(|d| d.secs()), Some(1_700_000_000));
    }
}
