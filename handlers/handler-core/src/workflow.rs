//! The end of every workflow: the completion a state machine sends to the
//! entry function, which answers CloudFormation with it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cfn::{CfnRequest, RequestType};
use crate::contract::Example;

/// The physical id of a resource whose Create failed before it recorded
/// what it made; a later Delete of such an id succeeds at once, except for
/// the resource types in [`FOUND_BY_TAGS`].
pub const NOT_CREATED_PREFIX: &str = "not-created-";

/// The custom resource type of a cluster.
pub const CLUSTER_RESOURCE_TYPE: &str = "Custom::CloudHsmCluster";

/// Resource types whose Delete runs its workflow even for a
/// [`NOT_CREATED_PREFIX`] id: a create can fail after it made a billable
/// resource and before it recorded its id (a crash right after
/// `CreateCluster`), and the delete finds that resource by its stack and
/// logical id tags.
pub const FOUND_BY_TAGS: &[&str] = &[CLUSTER_RESOURCE_TYPE];

/// The key of the entry function's payload that marks a completion.
pub const COMPLETION_KEY: &str = "Completion";

/// The key of the state machine input that holds the CloudFormation request.
pub const REQUEST_KEY: &str = "Request";

/// The key of the entry function's answer to a completion (`{"Answered":
/// "SUCCESS"}`): in an execution's history, the sign that it answered
/// CloudFormation.
pub const ANSWERED_KEY: &str = "Answered";

/// The error of the `Fail` state that ends an execution whose failure was
/// reported to CloudFormation.
pub const REPORTED_FAILURE_ERROR: &str = "ResourceOperationFailed";

/// The `detail-type` of the `EventBridge` event Step Functions sends when an
/// execution changes status.
pub const STATUS_CHANGE_DETAIL_TYPE: &str = "Step Functions Execution Status Change";

/// Sent by a workflow's last step: the outcome to report to CloudFormation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Completion {
    /// The request the workflow was started with.
    pub request: CfnRequest,
    /// The resource's id; defaults to the request's.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    /// Attributes for `Fn::GetAtt`.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Hide the attributes from the console and describe calls.
    #[serde(default)]
    pub no_echo: bool,
    /// The error a `Catch` clause caught, when the workflow failed.
    #[serde(default)]
    pub error: Option<WorkflowError>,
    /// The execution's id, named in a failure reason for whoever debugs it.
    #[serde(default)]
    pub execution: Option<String>,
}

impl Example for Completion {
    const OPTIONAL: &'static [&'static str] =
        &["PhysicalResourceId", "Data", "NoEcho", "Error", "Execution"];

    fn example() -> Self {
        Self {
            request: CfnRequest::example(),
            physical_resource_id: Some("cluster-abcdefghijk".into()),
            data: Map::new(),
            no_echo: false,
            error: Some(WorkflowError::example()),
            execution: Some("arn:aws:states:us-east-1:123456789012:execution:flow:run".into()),
        }
    }
}

/// A Step Functions error as a `Catch` clause records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowError {
    /// The error name, such as `InvalidProperties` or `States.Timeout`.
    #[serde(rename = "Error")]
    pub error: String,
    /// For a Lambda task, a JSON document with `errorMessage`; otherwise text.
    #[serde(rename = "Cause", default)]
    pub cause: Option<String>,
}

impl Example for WorkflowError {
    const OPTIONAL: &'static [&'static str] = &["Cause"];

    fn example() -> Self {
        Self {
            error: "PreconditionFailed".into(),
            cause: Some(r#"{"errorType":"PreconditionFailed","errorMessage":"it failed"}"#.into()),
        }
    }
}

impl WorkflowError {
    /// The sentence for CloudFormation: the handler's own message when a
    /// Lambda task failed, otherwise the error and its cause.
    #[must_use]
    pub fn reason(&self) -> String {
        let cause = self.cause.as_deref().unwrap_or_default().trim();
        let message = serde_json::from_str::<Value>(cause).ok().and_then(|v| {
            v.get("errorMessage")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        match message {
            Some(message) => message,
            None if cause.is_empty() => format!("the workflow failed with {}", self.error),
            None => format!("{}: {cause}", self.error),
        }
    }
}

impl Example for CfnRequest {
    const OPTIONAL: &'static [&'static str] = &[
        "PhysicalResourceId",
        "ResourceProperties",
        "OldResourceProperties",
        "ServiceToken",
    ];

    fn example() -> Self {
        Self {
            request_type: RequestType::Update,
            response_url: "https://cloudformation-custom-resource-response.example/".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/app/1".into(),
            request_id: "d2d1c9f6-0000-4000-8000-000000000001".into(),
            resource_type: "Custom::CloudHsmCluster".into(),
            logical_resource_id: "Hsm".into(),
            physical_resource_id: Some("cluster-abcdefghijk".into()),
            resource_properties: Map::new(),
            old_resource_properties: Some(Map::new()),
            service_token: Some("arn:aws:lambda:us-east-1:123456789012:function:entry".into()),
        }
    }
}

/// The state machine input the entry function starts a workflow with.
#[must_use]
pub fn workflow_input(request: &CfnRequest) -> Value {
    json!({ REQUEST_KEY: request })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::example_problems;

    #[test]
    fn the_examples_match_the_types() {
        let mut problems = example_problems::<Completion>();
        problems.extend(example_problems::<WorkflowError>());
        problems.extend(example_problems::<CfnRequest>());
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn a_completion_with_an_unknown_field_is_refused() {
        let mut completion = serde_json::to_value(Completion::example()).unwrap();
        completion["Surprise"] = json!(1);
        assert!(serde_json::from_value::<Completion>(completion).is_err());
    }

    #[test]
    fn a_lambda_failure_reads_as_the_handler_sentence() {
        let failure = WorkflowError {
            error: "PreconditionFailed".into(),
            cause: Some(
                r#"{"errorType":"PreconditionFailed","errorMessage":"CreateHsm on cluster cluster-1 failed: quota"}"#
                    .into(),
            ),
        };
        assert_eq!(
            failure.reason(),
            "CreateHsm on cluster cluster-1 failed: quota"
        );
    }

    #[test]
    fn other_failures_name_the_error_and_cause() {
        let sdk = WorkflowError {
            error: "CloudHsmV2.CloudHsmResourceNotFoundException".into(),
            cause: Some("Cluster not found (Service: CloudHsmV2, Status Code: 400)".into()),
        };
        assert_eq!(
            sdk.reason(),
            "CloudHsmV2.CloudHsmResourceNotFoundException: Cluster not found (Service: CloudHsmV2, Status Code: 400)"
        );
        let timeout = WorkflowError {
            error: "States.Timeout".into(),
            cause: None,
        };
        assert_eq!(timeout.reason(), "the workflow failed with States.Timeout");
    }
}
