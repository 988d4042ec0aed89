//! The AWS services the steps call, one module each. Steps never call an
//! SDK client directly: every request and its error sentence is here.

pub mod cloudhsm;
pub mod kms;
pub mod pca;
pub mod secrets;
pub mod ssm;

/// The AWS clients the steps use, built once per process.
#[derive(Debug, Clone)]
pub struct Clients {
    /// CloudHSM.
    pub hsm: aws_sdk_cloudhsmv2::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// AWS Private CA.
    pub pca: aws_sdk_acmpca::Client,
    /// Systems Manager.
    pub ssm: aws_sdk_ssm::Client,
    /// KMS (custom key stores and their keys).
    pub kms: aws_sdk_kms::Client,
}

impl Clients {
    /// Every client from one configuration.
    #[must_use]
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self {
            hsm: aws_sdk_cloudhsmv2::Client::new(config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            pca: aws_sdk_acmpca::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            kms: aws_sdk_kms::Client::new(config),
        }
    }
}
