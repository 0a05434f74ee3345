//! The sweeper Lambda function (see tally_deploy::FUNCTIONS).
fn main() -> Result<(), lambda_runtime::Error> {
    tally_aws::lambda::main("sweeper")
}
