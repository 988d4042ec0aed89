//! The workflow steps, one type per step: what a Step Functions task sends
//! (the type itself) and what it gets back ([`Step::Output`]). The
//! construct's state machines are the only callers; [`crate::contract`]
//! lists every step for them.

use aws_sdk_cloudhsmv2::primitives::{DateTime, DateTimeFormat};
use handler_core::HandlerError;
pub use handler_core::clock::Clock;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};
use std::future::Future;

use crate::aws::Clients;
use crate::config::Config;

pub mod certificate;
pub mod client;
pub mod cluster;
pub mod hsms;
pub mod key;
pub mod keystore;

/// What every step works with: the AWS clients, the cluster's fixed
/// resources and the clock (built once per process), and the deadline of
/// the execution that sent the step.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The AWS clients.
    pub clients: Clients,
    /// The cluster's fixed resources.
    pub config: Config,
    /// The clock deadlines are measured on.
    pub clock: Clock,
    /// The deadline of the execution the step runs for.
    pub deadline: Deadline,
}

impl Ctx {
    /// The same context for one execution's deadline.
    #[must_use]
    pub fn for_deadline(&self, deadline: Deadline) -> Self {
        Self {
            deadline,
            ..self.clone()
        }
    }

    /// Whether the execution's deadline has passed.
    pub fn deadline_passed(&self) -> Result<bool, HandlerError> {
        Ok(elapsed_minutes(&self.clock, &self.deadline.start)? >= self.deadline.minutes)
    }
}

/// Whole minutes since an ISO 8601 time from Step Functions
/// (`$$.Execution.StartTime`), on `clock`.
pub fn elapsed_minutes(clock: &Clock, since: &str) -> Result<u64, HandlerError> {
    let start = DateTime::from_str(since, DateTimeFormat::DateTimeWithOffset)
        .or_else(|_| DateTime::from_str(since, DateTimeFormat::DateTime))
        .map_err(|e| HandlerError::Internal(format!("'{since}' is not an ISO 8601 time: {e}")))?;
    let elapsed = (clock.now_secs()? - start.as_secs_f64()).max(0.0);
    // Truncation is intended: whole minutes, far below u64::MAX.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let minutes = (elapsed / 60.0) as u64;
    Ok(minutes)
}

/// One deadline per execution, measured from its start: every step checks
/// it, so that a stuck resource or a slow step ends the execution with a
/// reason well before Step Functions' timeout, which cannot be caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Deadline {
    /// When the execution started (Step Functions' `$$.Execution.StartTime`).
    pub start: String,
    /// Minutes after the start by which every wait must be over.
    pub minutes: u64,
}

impl Example for Deadline {
    fn example() -> Self {
        Self {
            start: EXAMPLE_TIME.into(),
            minutes: 40,
        }
    }
}

impl Deadline {
    /// A deadline that never passes, until a payload brings one.
    #[must_use]
    pub fn none() -> Self {
        Self {
            start: EXAMPLE_TIME.into(),
            minutes: u64::MAX,
        }
    }

    /// The error of a wait that found what it waited for, but only after the
    /// deadline: no step goes on past the deadline, so that the execution's
    /// worst case stays bounded.
    #[must_use]
    pub fn reached_late(&self, what: &str) -> HandlerError {
        HandlerError::PreconditionFailed(format!(
            "{what}, but only after the operation's deadline ({} minutes after its workflow started at {}), so \
             the workflow stopped there. Retry the stack operation: it goes on from where this one stopped",
            self.minutes, self.start
        ))
    }

    /// The error of a step asked to start after the deadline.
    #[must_use]
    pub fn passed_before(&self, what: &str) -> HandlerError {
        HandlerError::PreconditionFailed(format!(
            "the operation's deadline ({} minutes after its workflow started at {}) passed before {what}, \
             so it was not started. Look at the execution history for the step that took so long, then retry \
             the stack operation",
            self.minutes, self.start
        ))
    }
}

/// One step of a workflow.
pub trait Step: Example {
    /// What the step answers.
    type Output: Example;

    /// What the step does, for the error of a step asked to start after the
    /// deadline. A wait (polled until `Ready`) checks the deadline itself, with
    /// the state of what it waits for: `None`. Either way no step answers
    /// after the deadline but with an error.
    const STARTS: Option<&'static str>;

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

/// A time as Step Functions shows `$$.Execution.StartTime`, for examples.
pub const EXAMPLE_TIME: &str = "2026-11-28T15:00:00.123Z";

#[cfg(test)]
pub(crate) mod testing {
    //! Steps against mocked AWS clients.

    use aws_smithy_mocks::{Rule, RuleMode, mock_client};

    use super::Ctx;
    use crate::aws::Clients;
    use crate::config::Config;

    /// Now, as Step Functions writes `$$.Execution.StartTime`.
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
            clock: super::Clock::System,
            deadline: super::Deadline {
                start: now(),
                minutes: 40,
            },
        }
    }

    /// The same context, with a deadline that passed already.
    pub fn late(ctx: &Ctx) -> Ctx {
        ctx.for_deadline(super::Deadline {
            start: "2020-01-01T00:00:00.000Z".into(),
            minutes: 40,
        })
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
        let clock = Clock::System;
        assert!(elapsed_minutes(&clock, "2020-01-01T00:00:00.000Z").unwrap() > 60 * 24 * 365);
        let now = DateTime::from(std::time::SystemTime::now())
            .fmt(DateTimeFormat::DateTime)
            .unwrap();
        assert_eq!(elapsed_minutes(&clock, &now).unwrap(), 0);
        assert!(elapsed_minutes(&clock, "yesterday").is_err());
    }
}
