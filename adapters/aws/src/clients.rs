//! The SDK clients, built once per cold start over one HTTP client
//! (rustls with ring: one TLS stack in the binary). `endpoint` points every
//! client at an emulator (moto's server in the tests).

use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// HTTPS over rustls with ring: the one TLS stack the functions link.
fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub s3: aws_sdk_s3::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Clients {
    /// From the Lambda environment (region, credentials and, if set,
    /// AWS_ENDPOINT_URL, all read by the SDK's default chain).
    pub async fn from_env() -> Clients {
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .load()
            .await;
        let emulated = std::env::var_os(tally_deploy::env::AWS_ENDPOINT_URL).is_some();
        Clients::from_shared(&shared, emulated)
    }

    /// For an emulator on `endpoint`, with fixed test credentials: without
    /// them the default chain would try the instance metadata service.
    pub async fn for_endpoint(endpoint: &str) -> Clients {
        let creds = aws_sdk_dynamodb::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "tally-tests",
        );
        let shared = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .region(Region::new("us-east-1"))
            .credentials_provider(creds)
            .endpoint_url(endpoint)
            .load()
            .await;
        Clients::from_shared(&shared, true)
    }

    fn from_shared(shared: &aws_config::SdkConfig, emulated: bool) -> Clients {
        // S3 on an emulator needs path-style addressing (no bucket DNS).
        let s3 = aws_sdk_s3::config::Builder::from(shared)
            .force_path_style(emulated)
            .build();
        Clients {
            dynamo: aws_sdk_dynamodb::Client::new(shared),
            events: aws_sdk_eventbridge::Client::new(shared),
            s3: aws_sdk_s3::Client::from_conf(s3),
            sqs: aws_sdk_sqs::Client::new(shared),
        }
    }
}
