//! AWS configuration shared by every handler.

use aws_config::{BehaviorVersion, SdkConfig};

/// Loads the AWS configuration once per process.
///
/// Region, credentials, `AWS_ENDPOINT_URL` (which points every client at a
/// local emulator in tests) and `AWS_MAX_ATTEMPTS` come from the standard
/// environment, exactly as the AWS CLI reads them.
pub async fn load_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
