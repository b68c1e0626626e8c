//! The control plane: CreateStream (with `create`) and GetDataEndpoint for PUT_MEDIA,
//! through the official SDK client on the configuration `kvs-consumer` loads (default
//! chains, a local server's loopback defaults), and the credentials to sign PutMedia with.
//!
//! It does not retry: the driver does.

use aws_credential_types::Credentials;
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_kinesisvideo::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesisvideo::types::ApiName;

use crate::Error;

/// A failed call, sorted.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Worth another try after a backoff; the text says why.
    Retry(String),
    /// Retrying cannot help.
    Fatal(Error),
}

/// The control-plane client of one stream.
#[derive(Debug, Clone)]
pub(crate) struct Control {
    client: kvs_consumer::Client,
    control: aws_sdk_kinesisvideo::Client,
    stream: String,
}

impl Control {
    pub(crate) fn new(client: kvs_consumer::Client, stream: &str) -> Self {
        let control = aws_sdk_kinesisvideo::Client::new(client.sdk_config());
        Self { client, control, stream: stream.to_owned() }
    }

    fn is_arn(&self) -> bool {
        self.stream.starts_with("arn:")
    }

    /// The region requests are signed for.
    pub(crate) fn region(&self) -> Result<String, Error> {
        self.client
            .sdk_config()
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| Error::Config("no AWS region: pass one or set AWS_REGION".into()))
    }

    /// Fresh credentials from the configured provider (they may rotate).
    pub(crate) async fn credentials(&self) -> Result<Credentials, Failure> {
        let provider = self
            .client
            .sdk_config()
            .credentials_provider()
            .ok_or_else(|| Failure::Fatal(Error::Config("no AWS credentials provider".into())))?;
        provider.provide_credentials().await.map_err(|e| Failure::Retry(format!("credentials: {e}")))
    }

    /// Creates the stream; one that exists already is fine.
    pub(crate) async fn create_stream(&self) -> Result<(), Failure> {
        if self.is_arn() {
            return Err(Failure::Fatal(Error::Config("--create needs a stream name, not an ARN".into())));
        }
        match self.control.create_stream().stream_name(&self.stream).media_type("video/h264").send().await {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ResourceInUseException") => Ok(()),
            Err(e) => Err(classify("CreateStream", e)),
        }
    }

    /// The data endpoint for PutMedia.
    pub(crate) async fn data_endpoint(&self) -> Result<String, Failure> {
        let mut call = self.control.get_data_endpoint().api_name(ApiName::PutMedia);
        call = if self.is_arn() { call.stream_arn(&self.stream) } else { call.stream_name(&self.stream) };
        let out = call.send().await.map_err(|e| classify("GetDataEndpoint", e))?;
        out.data_endpoint.ok_or_else(|| {
            Failure::Fatal(Error::Service {
                operation: "GetDataEndpoint",
                code: "MissingDataEndpoint".into(),
                message: "the answer has no DataEndpoint".into(),
            })
        })
    }
}

/// Sorts an SDK error: throttling, server errors and the network retry.
fn classify<E, R>(operation: &'static str, error: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or_default().to_owned();
            let message = ctx.err().message().unwrap_or_default().to_owned();
            match code.as_str() {
                "ClientLimitExceededException"
                | "ThrottlingException"
                | "InternalFailure"
                | "ServiceUnavailableException" => Failure::Retry(format!("{operation}: {code}: {message}")),
                _ => Failure::Fatal(Error::Service { operation, code, message }),
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Fatal(Error::Config(format!(
            "{operation}: {}",
            aws_sdk_kinesisvideo::error::DisplayErrorContext(&error)
        ))),
        SdkError::DispatchFailure(failure)
            if let Some(why) =
                failure.as_connector_error().and_then(|e| kvs_consumer::tls::untrusted_certificate(e)) =>
        {
            Failure::Fatal(Error::Config(format!("{operation}: {why}")))
        }
        _ => Failure::Retry(format!(
            "{operation}: {}",
            aws_sdk_kinesisvideo::error::DisplayErrorContext(&error)
        )),
    }
}
