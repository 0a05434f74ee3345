//! The analytics Lambda function (see tally_deploy::FUNCTIONS).
#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tally_aws::lambda::run("analytics").await
}
