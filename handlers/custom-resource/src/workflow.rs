//! Starting the workflow that does the work for a resource type.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;

use handler_core::HandlerError;
use handler_core::workflow::ANSWERED_KEY;
use serde_json::Value;

/// Which state machine serves which `Custom::` resource type.
///
/// The construct sets them in the function's `WORKFLOWS` variable as a JSON
/// object: `{"Custom::CloudHsmCluster": "arn:aws:states:..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routes(BTreeMap<String, String>);

impl Routes {
    /// Reads the routes from the JSON in `WORKFLOWS`.
    pub fn from_json(json: &str) -> Result<Self, HandlerError> {
        serde_json::from_str(json).map(Self).map_err(|e| {
            HandlerError::Internal(format!(
                "the function's WORKFLOWS variable is not a JSON object of resource types \
                 to state machine ARNs ({e})"
            ))
        })
    }

    /// The state machine for a resource type.
    #[must_use]
    pub fn get(&self, resource_type: &str) -> Option<&str> {
        self.0.get(resource_type).map(String::as_str)
    }

    /// The resource types served.
    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Routes {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// What the history of an execution that ended says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionRecord {
    /// Whether a completion reached this function and was answered.
    pub answered: bool,
    /// The physical id the execution recorded last (`$.Physical.Id`).
    pub physical_id: Option<String>,
}

impl ExecutionRecord {
    /// Reads the events of a history page, in whatever order they come.
    #[must_use]
    pub fn from_events(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Self {
        let mut record = Self::default();
        let mut latest = i64::MIN;
        for event in events {
            let output = event
                .lambda_function_succeeded_event_details()
                .and_then(|d| d.output())
                .or_else(|| {
                    event
                        .task_succeeded_event_details()
                        .and_then(|d| d.output())
                });
            if let Some(output) = output
                && serde_json::from_str::<Value>(output)
                    .is_ok_and(|v| v.get(ANSWERED_KEY).is_some())
            {
                record.answered = true;
            }
            let physical = event
                .state_exited_event_details()
                .and_then(|d| d.output())
                .and_then(|o| serde_json::from_str::<Value>(o).ok())
                .and_then(|v| {
                    v.pointer("/Physical/Id")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
            if let Some(id) = physical
                && event.id() > latest
            {
                latest = event.id();
                record.physical_id = Some(id);
            }
        }
        record
    }
}

/// Starts one workflow execution.
pub trait WorkflowStarter: Send + Sync + 'static {
    /// Starts `state_machine_arn` with `input` under the execution `name`
    /// and returns the execution's ARN. Starting again with the same name and
    /// input returns the same execution, so redelivered events are harmless.
    fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: String,
    ) -> impl Future<Output = Result<String, HandlerError>> + Send;

    /// Reads the end of an execution's history.
    fn record(
        &self,
        execution_arn: &str,
    ) -> impl Future<Output = Result<ExecutionRecord, HandlerError>> + Send {
        let execution_arn = execution_arn.to_owned();
        async move {
            Err(HandlerError::Internal(format!(
                "the history of {execution_arn} cannot be read here"
            )))
        }
    }

    /// Stops the running Create executions of `state_machine_arn` for the
    /// resource `logical_id` of the stack `stack_id`, and answers their ARNs.
    /// CloudFormation deletes a resource whose create it cancelled while that
    /// create still runs: the create must stop before the delete looks for
    /// what it made.
    fn stop_creates(
        &self,
        _state_machine_arn: &str,
        _stack_id: &str,
        _logical_id: &str,
    ) -> impl Future<Output = Result<Vec<String>, HandlerError>> + Send {
        std::future::ready(Ok(Vec::new()))
    }
}

/// Starts workflows with Step Functions.
#[derive(Debug, Clone)]
pub struct SfnWorkflows {
    client: aws_sdk_sfn::Client,
}

impl SfnWorkflows {
    /// Wraps a Step Functions client.
    #[must_use]
    pub const fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

/// How long a start refused with `AccessDenied` is retried: IAM takes seconds to
/// make a role's new policy effective, and the first request of a new stack can
/// arrive before the entry function's `states:StartExecution` is.
pub const PROPAGATION_BUDGET: Duration = Duration::from_mins(1);
const FIRST_RETRY: Duration = Duration::from_millis(500);
const LONGEST_RETRY: Duration = Duration::from_secs(8);

/// The pauses between attempts while IAM propagates: doubling from half a
/// second, at most 8 s each, in all no longer than `budget`.
#[must_use]
pub fn propagation_pauses(budget: Duration) -> Vec<Duration> {
    let mut pauses = Vec::new();
    let (mut next, mut total) = (FIRST_RETRY, Duration::ZERO);
    while total + next <= budget {
        pauses.push(next);
        total += next;
        next = (next * 2).min(LONGEST_RETRY);
    }
    pauses
}

impl WorkflowStarter for SfnWorkflows {
    async fn start(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: String,
    ) -> Result<String, HandlerError> {
        let mut pauses = propagation_pauses(PROPAGATION_BUDGET).into_iter();
        loop {
            let result = self
                .client
                .start_execution()
                .state_machine_arn(state_machine_arn)
                .name(name)
                .input(input.clone())
                .send()
                .await;
            let err = match result {
                Ok(output) => return Ok(output.execution_arn),
                Err(err) => err,
            };
            let denied = err.as_service_error().and_then(ProvideErrorMetadata::code)
                == Some("AccessDeniedException");
            if let (true, Some(pause)) = (denied, pauses.next()) {
                tracing::warn!(
                    state_machine_arn,
                    pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    "StartExecution refused with AccessDenied: waiting for IAM to apply the role's policy"
                );
                tokio::time::sleep(pause).await;
                continue;
            }
            return Err(HandlerError::from_sdk(
                "StartExecution",
                format!("state machine {state_machine_arn}"),
                "Check that the stack's workflows were deployed and that the function's \
                 role may start them",
                &err,
            ));
        }
    }

    async fn record(&self, execution_arn: &str) -> Result<ExecutionRecord, HandlerError> {
        // The newest events first: the answer and the last physical id are there.
        let page = self
            .client
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .max_results(200)
            .include_execution_data(true)
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "GetExecutionHistory",
                    format!("execution {execution_arn}"),
                    "Check that the function's role may read its workflows' executions",
                    &e,
                )
            })?;
        Ok(ExecutionRecord::from_events(page.events()))
    }
    async fn stop_creates(
        &self,
        state_machine_arn: &str,
        stack_id: &str,
        logical_id: &str,
    ) -> Result<Vec<String>, HandlerError> {
        let advice = "Check that the function's role may list, describe and stop the executions \
                      of the stack's workflows";
        let on = || format!("state machine {state_machine_arn}");
        let mut stopped = Vec::new();
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| HandlerError::from_sdk("ListExecutions", on(), advice, &e))?;
            for execution in page.executions() {
                if !execution.name().starts_with(CREATE_PREFIX) {
                    continue;
                }
                let arn = execution.execution_arn();
                let described = self
                    .client
                    .describe_execution()
                    .execution_arn(arn)
                    .send()
                    .await
                    .map_err(|e| HandlerError::from_sdk("DescribeExecution", on(), advice, &e))?;
                if !creates(described.input().unwrap_or_default(), stack_id, logical_id) {
                    continue;
                }
                let result = self
                    .client
                    .stop_execution()
                    .execution_arn(arn)
                    .cause(
                        "CloudFormation deletes the resource: its create was cancelled \
                         because another resource of the stack failed",
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => {}
                    // It finished between the listing and the stop.
                    Err(e)
                        if e.as_service_error().and_then(ProvideErrorMetadata::code)
                            == Some("ExecutionDoesNotExist") => {}
                    Err(e) => {
                        return Err(HandlerError::from_sdk("StopExecution", on(), advice, &e));
                    }
                }
                tracing::warn!(
                    execution_arn = arn,
                    "stopped the create of the resource being deleted"
                );
                stopped.push(arn.to_owned());
            }
        }
        Ok(stopped)
    }
}

/// Executions of Create requests start with this (see [`execution_name`]).
const CREATE_PREFIX: &str = "Create-";

/// Whether an execution's input is the Create of this resource of this stack.
fn creates(input: &str, stack_id: &str, logical_id: &str) -> bool {
    let Ok(input) = serde_json::from_str::<Value>(input) else {
        return false;
    };
    let request = &input[handler_core::workflow::REQUEST_KEY];
    request["RequestType"] == "Create"
        && request["StackId"] == stack_id
        && request["LogicalResourceId"] == logical_id
}

/// A Step Functions execution name for a request: unique per request, the
/// same on redelivery, within the 80 characters and the character set
/// Step Functions allows.
#[must_use]
pub fn execution_name(request_type: &str, request_id: &str) -> String {
    format!("{request_type}-{request_id}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionOutput};
    use aws_sdk_sfn::types::error::StateMachineDoesNotExist;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use handler_core::ErrorKind;
    use serde_json::json;

    const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:create";

    #[test]
    fn routes_read_the_construct_json() {
        let routes = Routes::from_json(r#"{"Custom::CloudHsmCluster":"arn:1"}"#).unwrap();
        assert_eq!(routes.get("Custom::CloudHsmCluster"), Some("arn:1"));
        assert_eq!(routes.get("Custom::Other"), None);
        let err = Routes::from_json("[1]").unwrap_err();
        assert!(err.to_string().contains("WORKFLOWS"), "{err}");
    }

    #[test]
    fn the_history_tells_whether_the_execution_answered_and_its_last_physical_id() {
        use aws_sdk_sfn::primitives::DateTime;
        use aws_sdk_sfn::types::{
            HistoryEvent, HistoryEventType, LambdaFunctionSucceededEventDetails,
            StateExitedEventDetails,
        };
        let exited = |id: i64, physical: &str| {
            HistoryEvent::builder()
                .id(id)
                .timestamp(DateTime::from_secs(id))
                .r#type(HistoryEventType::PassStateExited)
                .state_exited_event_details(
                    StateExitedEventDetails::builder()
                        .name("Record the cluster id")
                        .output(json!({"Physical": {"Id": physical}}).to_string())
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        let succeeded = |id: i64, output: Value| {
            HistoryEvent::builder()
                .id(id)
                .timestamp(DateTime::from_secs(id))
                .r#type(HistoryEventType::LambdaFunctionSucceeded)
                .lambda_function_succeeded_event_details(
                    LambdaFunctionSucceededEventDetails::builder()
                        .output(output.to_string())
                        .build(),
                )
                .build()
                .unwrap()
        };
        // Newest first, as GetExecutionHistory with reverseOrder answers.
        let events = [
            succeeded(9, json!({"Ready": false})),
            exited(7, "cluster-abc"),
            exited(3, "not-created-r1"),
        ];
        assert_eq!(
            ExecutionRecord::from_events(&events),
            ExecutionRecord {
                answered: false,
                physical_id: Some("cluster-abc".into())
            }
        );
        let mut oldest_first = events.to_vec();
        oldest_first.reverse();
        oldest_first.push(succeeded(12, json!({"Answered": "FAILED"})));
        let record = ExecutionRecord::from_events(&oldest_first);
        assert!(record.answered);
        assert_eq!(record.physical_id.as_deref(), Some("cluster-abc"));
    }

    #[test]
    fn propagation_pauses_double_and_stay_within_the_budget() {
        let pauses = propagation_pauses(PROPAGATION_BUDGET);
        assert_eq!(
            pauses[..4],
            [500, 1000, 2000, 4000].map(Duration::from_millis)
        );
        assert!(pauses.iter().all(|p| *p <= LONGEST_RETRY));
        let total: Duration = pauses.iter().sum();
        assert!(
            total <= PROPAGATION_BUDGET && total + LONGEST_RETRY > PROPAGATION_BUDGET,
            "{total:?}"
        );
    }

    #[test]
    fn execution_names_are_valid_and_stable() {
        let id = "9b3c8f6e-1a2b-4c5d-8e9f-0a1b2c3d4e5f";
        assert_eq!(execution_name("Create", id), format!("Create-{id}"));
        let odd = execution_name("Update", &"é/:".repeat(40));
        assert_eq!(odd.chars().count(), 80);
        assert!(
            odd.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }

    #[tokio::test]
    async fn starts_the_execution_with_name_and_input() {
        let rule = mock!(aws_sdk_sfn::Client::start_execution)
            .match_requests(|r| {
                r.state_machine_arn() == Some(ARN)
                    && r.name() == Some("Create-r1")
                    && r.input() == Some(r#"{"Request":{}}"#)
            })
            .then_output(|| {
                StartExecutionOutput::builder()
                    .execution_arn(
                        "arn:aws:states:us-east-1:123456789012:execution:create:Create-r1",
                    )
                    .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                    .build()
                    .unwrap()
            });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        let arn = SfnWorkflows::new(client)
            .start(ARN, "Create-r1", r#"{"Request":{}}"#.into())
            .await
            .unwrap();
        assert!(arn.ends_with(":Create-r1"));
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_missing_state_machine_is_a_precondition_failure_with_advice() {
        let rule = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
            StartExecutionError::StateMachineDoesNotExist(
                StateMachineDoesNotExist::builder()
                    .message("State Machine Does Not Exist")
                    .meta(
                        aws_sdk_sfn::error::ErrorMetadata::builder()
                            .code("StateMachineDoesNotExist")
                            .message("State Machine Does Not Exist")
                            .build(),
                    )
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        let err = SfnWorkflows::new(client)
            .start(ARN, "Create-r1", "{}".into())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
        assert_eq!(
            err.to_string(),
            format!(
                "StartExecution on state machine {ARN} failed: StateMachineDoesNotExist: \
                 State Machine Does Not Exist. Check that the stack's workflows were deployed \
                 and that the function's role may start them"
            )
        );
    }

    #[tokio::test]
    async fn a_delete_stops_the_running_create_of_the_same_resource_only() {
        use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
        use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
        use aws_sdk_sfn::operation::stop_execution::StopExecutionOutput;
        use aws_sdk_sfn::primitives::DateTime;
        use aws_sdk_sfn::types::ExecutionListItem;

        let item = |name: &str| {
            ExecutionListItem::builder()
                .execution_arn(format!(
                    "arn:aws:states:us-east-1:123456789012:execution:create:{name}"
                ))
                .state_machine_arn(ARN)
                .name(name)
                .status(ExecutionStatus::Running)
                .start_date(DateTime::from_secs(0))
                .build()
                .unwrap()
        };
        let listed = mock!(aws_sdk_sfn::Client::list_executions)
            .match_requests(|r| r.status_filter() == Some(&ExecutionStatus::Running))
            .then_output(move || {
                ListExecutionsOutput::builder()
                    .executions(item("Create-ours"))
                    .executions(item("Create-other-resource"))
                    .executions(item("Update-ours"))
                    .build()
                    .unwrap()
            });
        let described = mock!(aws_sdk_sfn::Client::describe_execution).then_compute_output(|r| {
            let logical_id = if r.execution_arn().unwrap().ends_with("Create-ours") { "Hsm" } else { "Other" };
            DescribeExecutionOutput::builder()
                .execution_arn(r.execution_arn().unwrap())
                .state_machine_arn(ARN)
                .status(ExecutionStatus::Running)
                .start_date(DateTime::from_secs(0))
                .input(
                    serde_json::json!({"Request": {
                        "RequestType": "Create", "StackId": "stack-1", "LogicalResourceId": logical_id
                    }})
                    .to_string(),
                )
                .build()
                .unwrap()
        });
        let stop = mock!(aws_sdk_sfn::Client::stop_execution)
            .match_requests(|r| r.execution_arn().unwrap().ends_with(":Create-ours"))
            .then_output(|| {
                StopExecutionOutput::builder()
                    .stop_date(DateTime::from_secs(1))
                    .build()
                    .unwrap()
            });
        let client = mock_client!(
            aws_sdk_sfn,
            RuleMode::MatchAny,
            [&listed, &described, &stop]
        );
        let stopped = SfnWorkflows::new(client)
            .stop_creates(ARN, "stack-1", "Hsm")
            .await
            .unwrap();
        assert_eq!(
            stopped,
            vec!["arn:aws:states:us-east-1:123456789012:execution:create:Create-ours".to_owned()]
        );
        assert_eq!(
            (described.num_calls(), stop.num_calls()),
            (2, 1),
            "the Update is not looked at"
        );
    }

    #[tokio::test]
    async fn a_start_refused_while_iam_propagates_is_tried_again() {
        let denied = mock!(aws_sdk_sfn::Client::start_execution)
            .sequence()
            .error(|| {
                StartExecutionError::generic(
                    aws_sdk_sfn::error::ErrorMetadata::builder()
                        .code("AccessDeniedException")
                        .message("not authorized to perform: states:StartExecution")
                        .build(),
                )
            })
            .output(|| {
                StartExecutionOutput::builder()
                    .execution_arn(
                        "arn:aws:states:us-east-1:123456789012:execution:create:Create-r1",
                    )
                    .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                    .build()
                    .unwrap()
            })
            .build();
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&denied]);
        let arn = SfnWorkflows::new(client)
            .start(ARN, "Create-r1", "{}".into())
            .await
            .unwrap();
        assert!(arn.ends_with(":Create-r1"));
        assert_eq!(denied.num_calls(), 2);
    }
}
