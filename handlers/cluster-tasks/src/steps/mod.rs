//! The workflow steps, one type per step: what a Step Functions task sends
//! (the type itself) and what it gets back ([`Step::Output`]). The
//! construct's state machines are the only callers; [`crate::contract`]
//! lists every step for them.

use std::future::Future;
use std::time::SystemTime;

use aws_sdk_cloudhsmv2::primitives::{DateTime, DateTimeFormat};
use handler_core::HandlerError;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use crate::aws::Clients;
use crate::config::Config;

pub mod certificate;
pub mod client;
pub mod cluster;
pub mod hsms;
pub mod key;
pub mod keystore;

/// What every step works with: the AWS clients and the cluster's fixed
/// resources, built once per process.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The AWS clients.
    pub clients: Clients,
    /// The cluster's fixed resources.
    pub config: Config,
}

/// One step of a workflow.
pub trait Step: Example {
    /// What the step answers.
    type Output: Example;

    /// Runs the step. Every step is idempotent: Step Functions runs it
    /// again after a crash, a timeout or a transient error.
    fn run(self, ctx: &Ctx) -> impl Future<Output = Result<Self::Output, HandlerError>> + Send;
}

/// The answer of a step that reports nothing but success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Done {}

impl Example for Done {
    fn example() -> Self {
        Self {}
    }
}

/// The answer of a step that is polled until it is `Ready`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Progress {
    /// Whether the step has finished.
    pub ready: bool,
}

impl Example for Progress {
    fn example() -> Self {
        Self { ready: true }
    }
}

/// Whole minutes since an ISO 8601 time from Step Functions
/// (`$$.State.EnteredTime`).
pub fn elapsed_minutes(since: &str) -> Result<u64, HandlerError> {
    let start = DateTime::from_str(since, DateTimeFormat::DateTimeWithOffset)
        .or_else(|_| DateTime::from_str(since, DateTimeFormat::DateTime))
        .map_err(|e| HandlerError::Internal(format!("'{since}' is not an ISO 8601 time: {e}")))?;
    let now = DateTime::from(SystemTime::now());
    Ok(u64::try_from((now.secs() - start.secs()).max(0)).unwrap_or_default() / 60)
}

/// The time Step Functions shows for `$$.State.EnteredTime`, for examples.
pub const EXAMPLE_TIME: &str = "2026-11-28T15:00:00.123Z";

#[cfg(test)]
pub(crate) mod testing {
    //! Steps against mocked AWS clients.

    use aws_smithy_mocks::{Rule, RuleMode, mock_client};

    use super::Ctx;
    use crate::aws::Clients;
    use crate::config::Config;

    /// Now, as Step Functions writes `$$.State.EnteredTime`.
    pub fn now() -> String {
        aws_sdk_cloudhsmv2::primitives::DateTime::from(std::time::SystemTime::now())
            .fmt(aws_sdk_cloudhsmv2::primitives::DateTimeFormat::DateTime)
            .unwrap_or_default()
    }

    /// A context whose CloudHSM client answers with `hsm` rules and whose
    /// other clients answer with their own rules (none: any call fails).
    pub fn ctx(hsm: &[&Rule], secrets: &[&Rule], ssm: &[&Rule]) -> Ctx {
        let none: &[&Rule] = &[];
        Ctx {
            clients: Clients {
                hsm: mock_client!(aws_sdk_cloudhsmv2, RuleMode::MatchAny, hsm),
                secrets: mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, secrets),
                pca: mock_client!(aws_sdk_acmpca, RuleMode::MatchAny, none),
                ssm: mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm),
                kms: mock_client!(aws_sdk_kms, RuleMode::MatchAny, none),
            },
            config: Config::example(),
        }
    }

    /// A context whose KMS client answers with `kms` rules (any other call fails).
    pub fn ctx_with_kms(kms: &[&Rule]) -> Ctx {
        let mut ctx = ctx(&[], &[], &[]);
        ctx.clients.kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, kms);
        ctx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_minutes_reads_step_functions_times() {
        assert!(elapsed_minutes("2020-01-01T00:00:00.000Z").unwrap() > 60 * 24 * 365);
        let now = DateTime::from(SystemTime::now())
            .fmt(DateTimeFormat::DateTime)
            .unwrap();
        assert_eq!(elapsed_minutes(&now).unwrap(), 0);
        assert!(elapsed_minutes("yesterday").is_err());
    }
}
