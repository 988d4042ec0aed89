//! The one error type of every handler.
//!
//! Its `Display` is the sentence a person reads in CloudFormation's status
//! reason: what failed, on which resource, AWS's code and message, and what to
//! do. [`ErrorKind`] is the stable Lambda `errorType` that Step Functions
//! `Retry` and `Catch` clauses match on.

use std::fmt;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Stable error types, as Step Functions sees them in `errorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Worth retrying as it is: throttling, timeouts, AWS internal errors.
    Transient,
    /// The resource properties are wrong; the user must change them.
    InvalidProperties,
    /// AWS refused the request because of the state of the account or a
    /// resource (quota reached, resource gone, wrong state).
    PreconditionFailed,
    /// The cluster's CSR changed or vanished (AWS replaced the first HSM):
    /// the certificate must be issued again for the new CSR.
    CsrChanged,
    /// The invocation payload is not what this handler takes.
    InvalidEvent,
    /// A bug in the handler: nothing the user did.
    Internal,
}

impl ErrorKind {
    /// Every kind, for the workflows' `Retry` and `Catch` clauses.
    pub const ALL: [Self; 6] = [
        Self::Transient,
        Self::InvalidProperties,
        Self::PreconditionFailed,
        Self::CsrChanged,
        Self::InvalidEvent,
        Self::Internal,
    ];

    /// The name Step Functions matches in `ErrorEquals`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Transient => "Transient",
            Self::InvalidProperties => "InvalidProperties",
            Self::PreconditionFailed => "PreconditionFailed",
            Self::CsrChanged => "CsrChanged",
            Self::InvalidEvent => "InvalidEvent",
            Self::Internal => "Internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every way a handler can fail.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HandlerError {
    /// An AWS call failed.
    #[error("{operation} on {resource} failed: {code}: {message}. {advice}")]
    Aws {
        /// The API operation, such as `StartExecution`.
        operation: &'static str,
        /// What it acted on, as a person would name it.
        resource: String,
        /// AWS's error code.
        code: String,
        /// AWS's error message.
        message: String,
        /// What to do about it.
        advice: String,
        /// How a workflow should treat it.
        kind: ErrorKind,
    },
    /// The resource properties cannot work.
    #[error("invalid properties for {resource}: {reason}")]
    InvalidProperties {
        /// The resource, such as `Custom::CloudHsmCluster Hsm`.
        resource: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The account or a resource is not in a state that allows the step.
    #[error("{0}")]
    PreconditionFailed(String),
    /// The cluster CSR is not the one the certificate was issued for.
    #[error("{0}")]
    CsrChanged(String),
    /// The invocation payload is malformed.
    #[error("the request is not a valid {expected}: {reason}")]
    InvalidEvent {
        /// What the handler expected to receive.
        expected: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A temporary failure outside AWS APIs, such as a network error.
    #[error("{0}. This is usually temporary: retry the operation")]
    Transient(String),
    /// A bug in the handler.
    #[error(
        "internal error in the cdk-cloudhsm handler: {0}. Please report it with the function's log"
    )]
    Internal(String),
}

impl HandlerError {
    /// The stable Lambda error type.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        match self {
            Self::Aws { kind, .. } => *kind,
            Self::InvalidProperties { .. } => ErrorKind::InvalidProperties,
            Self::PreconditionFailed(_) => ErrorKind::PreconditionFailed,
            Self::CsrChanged(_) => ErrorKind::CsrChanged,
            Self::InvalidEvent { .. } => ErrorKind::InvalidEvent,
            Self::Transient(_) => ErrorKind::Transient,
            Self::Internal(_) => ErrorKind::Internal,
        }
    }

    /// Classifies a failed AWS SDK call.
    ///
    /// Throttling, timeouts, network failures and AWS-side errors are
    /// [`ErrorKind::Transient`]; any other service error is
    /// [`ErrorKind::PreconditionFailed`] and carries `advice` for the user.
    pub fn from_sdk<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        advice: impl Into<String>,
        err: &SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: fmt::Debug,
    {
        let resource = resource.into();
        let (code, message, kind) = match err {
            SdkError::ServiceError(service) => {
                let inner = service.err();
                let code = inner.code().unwrap_or("Unknown").to_owned();
                let message = inner.message().unwrap_or("no message").to_owned();
                let kind = if is_transient_code(&code) {
                    ErrorKind::Transient
                } else {
                    ErrorKind::PreconditionFailed
                };
                (code, message, kind)
            }
            SdkError::TimeoutError(_) => (
                "Timeout".to_owned(),
                "the request timed out".to_owned(),
                ErrorKind::Transient,
            ),
            SdkError::DispatchFailure(failure) => (
                "DispatchFailure".to_owned(),
                format!("the request could not be sent: {failure:?}"),
                ErrorKind::Transient,
            ),
            SdkError::ResponseError(_) => (
                "ResponseError".to_owned(),
                "the response could not be read".to_owned(),
                ErrorKind::Transient,
            ),
            other => (
                "ConstructionFailure".to_owned(),
                format!("{other:?}"),
                ErrorKind::Internal,
            ),
        };
        let advice = if kind == ErrorKind::Transient {
            "This is usually temporary: retry the operation".to_owned()
        } else {
            advice.into()
        };
        Self::Aws {
            operation,
            resource,
            code,
            message,
            advice,
            kind,
        }
    }
}

/// AWS error codes that mean "try again later", across the services used.
#[must_use]
pub fn is_transient_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "InternalFailure"
            | "InternalError"
            | "InternalServerError"
            | "InternalServiceError"
            | "KMSInternalException"
            | "CloudHsmInternalFailureException"
    )
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        Self {
            error_type: error.kind().as_str().to_owned(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_carries_the_stable_type_and_the_sentence() {
        let error = HandlerError::CsrChanged("cluster cluster-abc has a new CSR".into());
        let diagnostic: lambda_runtime::Diagnostic = error.into();
        assert_eq!(diagnostic.error_type, "CsrChanged");
        assert_eq!(
            diagnostic.error_message,
            "cluster cluster-abc has a new CSR"
        );
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let names: std::collections::BTreeSet<_> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
    }

    #[test]
    fn transient_codes_are_recognised() {
        assert!(is_transient_code("ThrottlingException"));
        assert!(is_transient_code("CloudHsmInternalFailureException"));
        assert!(!is_transient_code("CloudHsmInvalidRequestException"));
        assert!(!is_transient_code("StateMachineDoesNotExist"));
    }
}
