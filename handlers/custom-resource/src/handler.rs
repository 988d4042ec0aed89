//! What the function does with each invocation.

use std::sync::Arc;
use std::time::Duration;

use handler_core::HandlerError;
use handler_core::cfn::{CfnRequest, CfnResponse, RequestType, Status};
use handler_core::workflow::{
    ANSWERED_KEY, COMPLETION_KEY, Completion, FOUND_BY_TAGS, NOT_CREATED_PREFIX,
    REPORTED_FAILURE_ERROR, REQUEST_KEY, STATUS_CHANGE_DETAIL_TYPE, workflow_input,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tracing::{error, info, warn};

use crate::response::ResponseSender;
use crate::workflow::{Routes, WorkflowStarter, execution_name};

/// What the handler works with, built once per process.
#[derive(Debug)]
pub struct Deps<W> {
    /// Starts workflows.
    pub workflows: W,
    /// Which workflow serves which resource type, or why they could not be
    /// read: a broken configuration must still produce FAILED responses.
    pub routes: Result<Routes, HandlerError>,
    /// Delivers responses to CloudFormation.
    pub responses: ResponseSender,
    /// The longest time the inner step (starting a workflow) may take
    /// before the request is answered FAILED.
    pub step_timeout: Duration,
}

/// Handles one invocation: a CloudFormation request, a workflow's
/// [`Completion`] (`{"Completion": {...}}`), or the `EventBridge` event of a
/// workflow execution that ended.
///
/// Returns an error only when no response could be delivered, so that Lambda
/// (for CloudFormation's asynchronous invocation) or Step Functions (for a
/// completion) tries again.
pub async fn handle<W: WorkflowStarter>(
    event: Value,
    deps: Arc<Deps<W>>,
) -> Result<Value, HandlerError> {
    if event.get("detail-type").and_then(Value::as_str) == Some(STATUS_CHANGE_DETAIL_TYPE) {
        return on_execution_ended(&event, &deps).await;
    }
    if let Some(completion) = event.get(COMPLETION_KEY) {
        return match Completion::deserialize(completion) {
            Ok(completion) => complete(completion, &deps.responses).await,
            Err(e) => {
                let request = completion
                    .get(handler_core::workflow::REQUEST_KEY)
                    .unwrap_or(&Value::Null);
                answer_malformed(request, &e.to_string(), &deps.responses).await
            }
        };
    }
    match CfnRequest::deserialize(&event) {
        Ok(request) => on_request(request, deps).await,
        Err(e) => answer_malformed(&event, &e.to_string(), &deps.responses).await,
    }
}

async fn on_request<W: WorkflowStarter>(
    request: CfnRequest,
    deps: Arc<Deps<W>>,
) -> Result<Value, HandlerError> {
    info!(
        request_type = request.request_type.as_str(),
        resource_type = %request.resource_type,
        logical_resource_id = %request.logical_resource_id,
        physical_resource_id = request.physical_resource_id.as_deref().unwrap_or_default(),
        request_id = %request.request_id,
        "request received"
    );
    let physical_id = request.physical_resource_id.clone().unwrap_or_default();
    // A type found by its tags runs its delete, unless this function has no
    // workflow for it: then no create of it can have run either.
    let served = deps
        .routes
        .as_ref()
        .is_ok_and(|routes| routes.get(&request.resource_type).is_some());
    if request.request_type == RequestType::Delete
        && physical_id.starts_with(NOT_CREATED_PREFIX)
        && !(served && FOUND_BY_TAGS.contains(&request.resource_type.as_str()))
    {
        info!("nothing was created: the delete succeeds at once");
        let response = response_for(&request, Status::Success, physical_id, None);
        deps.responses
            .send(&request.response_url, response.into_body())
            .await?;
        return Ok(json!({ "Status": "SUCCESS" }));
    }
    match guarded(
        start_workflow(request.clone(), Arc::clone(&deps)),
        deps.step_timeout,
    )
    .await
    {
        Ok(execution_arn) => {
            info!(%execution_arn, "workflow started");
            Ok(json!({ "ExecutionArn": execution_arn }))
        }
        Err(e) => {
            error!(error_type = e.kind().as_str(), error = %e, "the request failed");
            let physical_id = default_physical_id(&request);
            let response = response_for(&request, Status::Failed, physical_id, Some(e.to_string()));
            deps.responses
                .send(&request.response_url, response.into_body())
                .await?;
            Ok(json!({ "Status": "FAILED" }))
        }
    }
}

async fn start_workflow<W: WorkflowStarter>(
    request: CfnRequest,
    deps: Arc<Deps<W>>,
) -> Result<String, HandlerError> {
    let routes = deps.routes.as_ref().map_err(Clone::clone)?;
    let state_machine = routes.get(&request.resource_type).ok_or_else(|| {
        let served: Vec<_> = routes.resource_types().collect();
        HandlerError::InvalidProperties {
            resource: request.display_name(),
            reason: format!(
                "this function starts no workflow for {} (it serves: {}). The template and \
                 the handler come from different cdk-cloudhsm versions: synthesize and deploy \
                 again",
                request.resource_type,
                if served.is_empty() {
                    "none".to_owned()
                } else {
                    served.join(", ")
                }
            ),
        }
    })?;
    if request.request_type == RequestType::Delete {
        let stopped = deps
            .workflows
            .stop_creates(
                state_machine,
                &request.stack_id,
                &request.logical_resource_id,
            )
            .await?;
        if !stopped.is_empty() {
            info!(
                ?stopped,
                "the resource's create was still running: stopped it"
            );
        }
    }
    let name = execution_name(request.request_type.as_str(), &request.request_id);
    let input = serde_json::to_string(&workflow_input(&request))
        .map_err(|e| HandlerError::Internal(format!("the request could not be encoded: {e}")))?;
    deps.workflows.start(state_machine, &name, input).await
}

/// Runs the inner step in its own task, so that a panic or a hang becomes an
/// error to report instead of a request left unanswered.
async fn guarded<F>(step: F, timeout: Duration) -> Result<String, HandlerError>
where
    F: Future<Output = Result<String, HandlerError>> + Send + 'static,
{
    let task = tokio::spawn(step);
    let abort = task.abort_handle();
    match tokio::time::timeout(timeout, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(HandlerError::Internal(format!(
            "the step panicked: {}",
            panic_message(join)
        ))),
        Err(_) => {
            abort.abort();
            Err(HandlerError::Transient(format!(
                "starting the workflow did not finish within {} s",
                timeout.as_secs_f32()
            )))
        }
    }
}

fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned()),
        Err(join) => join.to_string(),
    }
}

async fn complete(
    completion: Completion,
    responses: &ResponseSender,
) -> Result<Value, HandlerError> {
    let request = &completion.request;
    let physical_id = completion
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| default_physical_id(request));
    let mut response = match &completion.error {
        None => response_for(request, Status::Success, physical_id, None),
        Some(failure) => {
            let mut reason = failure.reason();
            if let Some(execution) = &completion.execution {
                reason = format!("{reason} (workflow execution {execution})");
            }
            response_for(request, Status::Failed, physical_id, Some(reason))
        }
    };
    if response.status == Status::Success {
        response.data = completion.data;
        response.no_echo = completion.no_echo;
    }
    let status = response.status;
    info!(
        status = ?status,
        logical_resource_id = %request.logical_resource_id,
        reason = response.reason.as_deref().unwrap_or_default(),
        "workflow finished"
    );
    responses
        .send(&request.response_url, response.into_body())
        .await?;
    Ok(json!({ ANSWERED_KEY: status }))
}

/// The `detail` of a "Step Functions Execution Status Change" event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionEnded {
    execution_arn: String,
    status: String,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

/// The net under the workflows: an execution that ended without answering
/// CloudFormation (it timed out, was stopped, or failed outside its `Catch`
/// clauses) is answered FAILED here, once.
async fn on_execution_ended<W: WorkflowStarter>(
    event: &Value,
    deps: &Deps<W>,
) -> Result<Value, HandlerError> {
    let invalid = |reason: String| HandlerError::InvalidEvent {
        expected: "Step Functions Execution Status Change event",
        reason,
    };
    let ended = ExecutionEnded::deserialize(event.get("detail").unwrap_or(&Value::Null))
        .map_err(|e| invalid(e.to_string()))?;
    let arn = &ended.execution_arn;
    let reported =
        ended.status == "FAILED" && ended.error.as_deref() == Some(REPORTED_FAILURE_ERROR);
    if !matches!(ended.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") || reported {
        info!(execution = %arn, status = %ended.status, "the workflow answered CloudFormation itself");
        return Ok(json!({ "Net": "answered by the workflow" }));
    }
    let input: Value = serde_json::from_str(ended.input.as_deref().unwrap_or_default())
        .map_err(|e| invalid(format!("the execution input of {arn} is not JSON: {e}")))?;
    let request =
        CfnRequest::deserialize(input.get(REQUEST_KEY).unwrap_or(&Value::Null)).map_err(|e| {
            invalid(format!(
                "the execution input of {arn} holds no request: {e}"
            ))
        })?;
    let record = match deps.workflows.record(arn).await {
        Ok(record) => record,
        Err(e) => {
            // Better a second answer (CloudFormation keeps the first) than none.
            warn!(execution = %arn, error = %e, "the history could not be read: answering anyway");
            crate::ExecutionRecord::default()
        }
    };
    if record.answered {
        info!(execution = %arn, status = %ended.status, "the workflow had answered CloudFormation");
        return Ok(json!({ "Net": "answered by the workflow" }));
    }
    let reason = match ended.status.as_str() {
        "TIMED_OUT" => format!(
            "the workflow execution {arn} timed out before it answered CloudFormation: Step Functions ended it at \
             the state machine's timeout, which no step can catch. Its execution history shows the state it was \
             in; fix what held it up, then retry the stack operation"
        ),
        "ABORTED" => format!(
            "the workflow execution {arn} was stopped before it answered CloudFormation. Retry the stack \
             operation once whoever stopped it is done"
        ),
        _ => format!(
            "the workflow execution {arn} failed with {}{} before it answered CloudFormation. Its execution \
             history shows the state that failed: please report it with that history, then retry the stack \
             operation",
            ended.error.as_deref().unwrap_or("an unknown error"),
            ended
                .cause
                .as_deref()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default(),
        ),
    };
    error!(execution = %arn, status = %ended.status, "the workflow ended without answering: answering FAILED");
    let physical_id = record
        .physical_id
        .unwrap_or_else(|| default_physical_id(&request));
    let response = response_for(&request, Status::Failed, physical_id, Some(reason));
    deps.responses
        .send(&request.response_url, response.into_body())
        .await?;
    Ok(json!({ "Net": "answered FAILED" }))
}

/// Answers an event that is not a valid request, from whatever fields it
/// has. Without a `ResponseURL` there is nobody to answer.
async fn answer_malformed(
    event: &Value,
    problem: &str,
    responses: &ResponseSender,
) -> Result<Value, HandlerError> {
    let invalid = HandlerError::InvalidEvent {
        expected: "CloudFormation custom resource request",
        reason: problem.to_owned(),
    };
    error!(error = %invalid, "malformed event");
    let field = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(url) = field("ResponseURL") else {
        return Err(invalid);
    };
    let request_id = field("RequestId").unwrap_or_default();
    let response = CfnResponse {
        status: Status::Failed,
        reason: Some(invalid.to_string()),
        physical_resource_id: field("PhysicalResourceId")
            .unwrap_or_else(|| format!("{NOT_CREATED_PREFIX}{request_id}")),
        stack_id: field("StackId").unwrap_or_default(),
        request_id,
        logical_resource_id: field("LogicalResourceId").unwrap_or_default(),
        no_echo: false,
        data: Map::new(),
    };
    responses.send(&url, response.into_body()).await?;
    Ok(json!({ "Status": "FAILED" }))
}

/// The id to report when the workflow gave none: the existing one, or the
/// marker of a resource that was never created.
fn default_physical_id(request: &CfnRequest) -> String {
    request
        .physical_resource_id
        .clone()
        .unwrap_or_else(|| format!("{NOT_CREATED_PREFIX}{}", request.request_id))
}

fn response_for(
    request: &CfnRequest,
    status: Status,
    physical_resource_id: String,
    reason: Option<String>,
) -> CfnResponse {
    CfnResponse {
        status,
        reason,
        physical_resource_id,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        no_echo: false,
        data: Map::new(),
    }
}
