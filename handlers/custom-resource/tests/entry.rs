//! The custom resource entry point, driven as CloudFormation and Step
//! Functions drive it, against a local response URL.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use custom_resource::{
    Deps, ExecutionRecord, NOT_CREATED_PREFIX, ResponseSender, RetryPolicy, Routes,
    WorkflowStarter, handle,
};
use handler_core::cfn::MAX_RESPONSE_BYTES;
use handler_core::{ErrorKind, HandlerError};
use serde_json::{Value, json};
use support::ResponseServer;

const CLUSTER: &str = "Custom::CloudHsmCluster";
const HSMS: &str = "Custom::CloudHsmHsms";
const CREATE_SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:cluster";

/// What a fake workflow service does when asked to start.
#[derive(Debug, Clone)]
enum Behaviour {
    Start,
    Fail(HandlerError),
    Panic,
    Hang,
}

#[derive(Debug)]
struct FakeState {
    behaviour: Behaviour,
    started: Mutex<Vec<(String, String, Value)>>,
    /// What the history of an ended execution says; None: it cannot be read.
    record: Mutex<Option<ExecutionRecord>>,
}

/// Shared with the harness, which reads what was started.
#[derive(Debug, Clone)]
struct FakeWorkflows(Arc<FakeState>);

impl WorkflowStarter for FakeWorkflows {
    async fn start(&self, arn: &str, name: &str, input: String) -> Result<String, HandlerError> {
        self.0.started.lock().unwrap().push((
            arn.to_owned(),
            name.to_owned(),
            serde_json::from_str(&input).unwrap(),
        ));
        match &self.0.behaviour {
            Behaviour::Start => {
                Ok(format!("{arn}:{name}").replace(":stateMachine:", ":execution:"))
            }
            Behaviour::Fail(e) => Err(e.clone()),
            Behaviour::Panic => panic!("the fake workflow service broke"),
            Behaviour::Hang => {
                tokio::time::sleep(Duration::from_hours(1)).await;
                unreachable!()
            }
        }
    }

    async fn record(&self, _execution_arn: &str) -> Result<ExecutionRecord, HandlerError> {
        self.0
            .record
            .lock()
            .unwrap()
            .clone()
            .ok_or_else(|| HandlerError::Transient("no history".into()))
    }
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        attempt_timeout: Duration::from_secs(5),
    }
}

struct Harness {
    server: ResponseServer,
    workflows: FakeWorkflows,
    deps: Arc<Deps<FakeWorkflows>>,
}

impl Harness {
    async fn new(behaviour: Behaviour) -> Self {
        Self::with(
            behaviour,
            &[],
            Ok(Routes::from_iter([(CLUSTER, CREATE_SM)])),
        )
        .await
    }

    async fn with(
        behaviour: Behaviour,
        script: &[u16],
        routes: Result<Routes, HandlerError>,
    ) -> Self {
        let server = ResponseServer::start(script).await;
        let workflows = FakeWorkflows(Arc::new(FakeState {
            behaviour,
            started: Mutex::default(),
            record: Mutex::default(),
        }));
        let deps = Arc::new(Deps {
            workflows: workflows.clone(),
            routes,
            responses: ResponseSender::new(quick_retries()),
            step_timeout: Duration::from_millis(300),
        });
        Self {
            server,
            workflows,
            deps,
        }
    }

    fn request(&self, request_type: &str, physical_id: Option<&str>) -> Value {
        let mut event = json!({
            "RequestType": request_type,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:entry",
            "ResponseURL": self.server.url(),
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": format!("{}-request-id", request_type.to_lowercase()),
            "ResourceType": CLUSTER,
            "LogicalResourceId": "HsmCluster",
            "ResourceProperties": {"ServiceToken": "arn", "HsmsPerSubnet": "1"}
        });
        if let Some(id) = physical_id {
            event["PhysicalResourceId"] = json!(id);
        }
        if request_type == "Update" {
            event["OldResourceProperties"] = json!({"ServiceToken": "arn", "HsmsPerSubnet": "2"});
        }
        event
    }

    async fn handle(&self, event: Value) -> Result<Value, HandlerError> {
        handle(event, Arc::clone(&self.deps)).await
    }

    fn started(&self) -> Vec<(String, String, Value)> {
        self.workflows.0.started.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn create_update_and_delete_each_start_the_workflow_with_the_request() {
    let h = Harness::new(Behaviour::Start).await;
    for (kind, physical) in [
        ("Create", None),
        ("Update", Some("cluster-1")),
        ("Delete", Some("cluster-1")),
    ] {
        let event = h.request(kind, physical);
        let out = h.handle(event.clone()).await.unwrap();
        let name = format!("{kind}-{}-request-id", kind.to_lowercase());
        assert_eq!(
            out["ExecutionArn"],
            format!("arn:aws:states:us-east-1:123456789012:execution:cluster:{name}")
        );
        let (arn, started_name, input) = h.started().pop().unwrap();
        assert_eq!(arn, CREATE_SM);
        assert_eq!(started_name, name);
        assert_eq!(
            input,
            json!({ "Request": event }),
            "the workflow gets the request as sent"
        );
    }
    assert!(
        h.server.received().is_empty(),
        "the workflow answers, not the entry step"
    );
}

#[tokio::test]
async fn a_completion_sends_success_with_the_attributes() {
    let h = Harness::new(Behaviour::Start).await;
    let request = h.request("Create", None);
    let out = h
        .handle(json!({"Completion": {
            "Request": request,
            "PhysicalResourceId": "cluster-abc",
            "Data": {"ClusterId": "cluster-abc", "HsmIpAddresses": "10.0.1.5,10.0.2.7"}
        }}))
        .await
        .unwrap();
    assert_eq!(out, json!({"Answered": "SUCCESS"}));
    let received = h.server.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].method, "PUT");
    assert_eq!(
        received[0].path_and_query,
        "/cfn-response?X-Amz-Signature=abc"
    );
    assert_eq!(
        received[0].content_type.as_deref(),
        Some(""),
        "signed for an empty content type"
    );
    assert_eq!(
        h.server.responses()[0],
        json!({
            "Status": "SUCCESS",
            "PhysicalResourceId": "cluster-abc",
            "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/guid",
            "RequestId": "create-request-id",
            "LogicalResourceId": "HsmCluster",
            "Data": {"ClusterId": "cluster-abc", "HsmIpAddresses": "10.0.1.5,10.0.2.7"}
        })
    );
}

#[tokio::test]
async fn a_failed_workflow_sends_failed_with_the_handler_sentence() {
    let h = Harness::new(Behaviour::Start).await;
    let request = h.request("Update", Some("cluster-abc"));
    let cause = json!({
        "errorType": "PreconditionFailed",
        "errorMessage": "CreateHsm on cluster cluster-abc failed: CloudHsmResourceLimitExceededException: quota reached. Ask for a higher HSM quota"
    });
    h.handle(json!({"Completion": {
        "Request": request,
        "Error": {"Error": "PreconditionFailed", "Cause": cause.to_string()},
        "Execution": "arn:aws:states:us-east-1:123456789012:execution:cluster:Update-1"
    }}))
    .await
    .unwrap();
    let response = &h.server.responses()[0];
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(
        response["PhysicalResourceId"], "cluster-abc",
        "an update keeps the id"
    );
    assert_eq!(
        response["Reason"],
        "CreateHsm on cluster cluster-abc failed: CloudHsmResourceLimitExceededException: quota reached. \
         Ask for a higher HSM quota (workflow execution arn:aws:states:us-east-1:123456789012:execution:cluster:Update-1)"
    );
    assert!(response.get("Data").is_none());
}

#[tokio::test]
async fn a_failing_start_answers_failed_with_the_error_sentence() {
    let error = HandlerError::Aws {
        operation: "StartExecution",
        resource: format!("state machine {CREATE_SM}"),
        code: "StateMachineDoesNotExist".into(),
        message: "State Machine Does Not Exist".into(),
        advice: "Check that the stack's workflows were deployed".into(),
        kind: ErrorKind::PreconditionFailed,
    };
    let h = Harness::new(Behaviour::Fail(error.clone())).await;
    let out = h.handle(h.request("Create", None)).await.unwrap();
    assert_eq!(out, json!({"Status": "FAILED"}));
    let response = &h.server.responses()[0];
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(response["Reason"], error.to_string());
    assert_eq!(response["RequestId"], "create-request-id");
    assert_eq!(
        response["PhysicalResourceId"],
        format!("{NOT_CREATED_PREFIX}create-request-id"),
        "a create that made nothing gets the not-created marker"
    );
}

#[tokio::test]
async fn deleting_what_was_never_created_succeeds_without_a_workflow() {
    let hsms_sm = "arn:aws:states:us-east-1:123456789012:stateMachine:hsms";
    let h = Harness::with(
        Behaviour::Start,
        &[],
        Ok(Routes::from_iter([(CLUSTER, CREATE_SM), (HSMS, hsms_sm)])),
    )
    .await;
    let marker = format!("{NOT_CREATED_PREFIX}create-request-id");
    let mut request = h.request("Delete", Some(&marker));
    request["ResourceType"] = json!(HSMS);
    h.handle(request).await.unwrap();
    assert!(h.started().is_empty());
    let response = &h.server.responses()[0];
    assert_eq!(response["Status"], "SUCCESS");
    assert_eq!(response["PhysicalResourceId"], marker);
}

#[tokio::test]
async fn deleting_a_never_created_cluster_without_its_workflow_succeeds_at_once() {
    // No workflow serves the type, so no create of it can have run.
    let h = Harness::with(
        Behaviour::Start,
        &[],
        Ok(Routes::from_iter([(HSMS, CREATE_SM)])),
    )
    .await;
    let marker = format!("{NOT_CREATED_PREFIX}create-request-id");
    h.handle(h.request("Delete", Some(&marker))).await.unwrap();
    assert!(h.started().is_empty());
    assert_eq!(h.server.responses()[0]["Status"], "SUCCESS");
}

#[tokio::test]
async fn deleting_a_cluster_whose_create_recorded_no_id_runs_the_delete_to_find_it_by_its_tags() {
    let h = Harness::new(Behaviour::Start).await;
    let marker = format!("{NOT_CREATED_PREFIX}create-request-id");
    let out = h.handle(h.request("Delete", Some(&marker))).await.unwrap();
    assert!(out.get("ExecutionArn").is_some(), "{out}");
    assert_eq!(h.started().len(), 1, "the delete workflow started");
    assert!(
        h.server.responses().is_empty(),
        "the workflow answers, not the entry function"
    );
}

#[tokio::test]
async fn a_panicking_step_still_gets_a_failed_response() {
    let h = Harness::new(Behaviour::Panic).await;
    h.handle(h.request("Create", None)).await.unwrap();
    let response = &h.server.responses()[0];
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(
        response["Reason"],
        "internal error in the cdk-cloudhsm handler: the step panicked: the fake workflow service broke. \
         Please report it with the function's log"
    );
}

#[tokio::test]
async fn a_hanging_step_is_answered_failed_in_time() {
    let h = Harness::new(Behaviour::Hang).await;
    h.handle(h.request("Update", Some("cluster-1")))
        .await
        .unwrap();
    let response = &h.server.responses()[0];
    assert_eq!(response["Status"], "FAILED");
    assert_eq!(
        response["Reason"],
        "starting the workflow did not finish within 0.3 s. This is usually temporary: retry the operation"
    );
}

#[tokio::test]
async fn an_unknown_resource_type_names_what_is_served() {
    let h = Harness::new(Behaviour::Start).await;
    let mut event = h.request("Create", None);
    event["ResourceType"] = json!("Custom::CloudHsmKeyStore");
    h.handle(event).await.unwrap();
    assert!(h.started().is_empty());
    let reason = h.server.responses()[0]["Reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        reason,
        "invalid properties for Custom::CloudHsmKeyStore HsmCluster: this function starts no workflow \
         for Custom::CloudHsmKeyStore (it serves: Custom::CloudHsmCluster). The template and the handler \
         come from different cdk-cloudhsm versions: synthesize and deploy again"
    );
}

#[tokio::test]
async fn a_broken_configuration_fails_each_request_instead_of_the_function() {
    let routes = Routes::from_json("not json");
    let h = Harness::with(Behaviour::Start, &[], routes).await;
    h.handle(h.request("Create", None)).await.unwrap();
    let reason = h.server.responses()[0]["Reason"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("WORKFLOWS variable is not a JSON object"),
        "{reason}"
    );
}

#[tokio::test]
async fn the_response_never_exceeds_cloudformations_limit() {
    let long =
        HandlerError::PreconditionFailed("the cluster said: ".to_owned() + &"ü".repeat(6000));
    let h = Harness::new(Behaviour::Fail(long)).await;
    h.handle(h.request("Create", None)).await.unwrap();
    let body = &h.server.received()[0].body;
    assert!(body.len() <= MAX_RESPONSE_BYTES, "{} bytes", body.len());
    let response: Value = serde_json::from_str(body).unwrap();
    let reason = response["Reason"].as_str().unwrap();
    assert!(reason.starts_with("the cluster said: üü"), "{reason}");
    assert!(
        reason.ends_with("[...truncated, see the handler's log]"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_response_url_that_fails_is_retried_with_backoff() {
    let h = Harness::with(Behaviour::Start, &[500, 503, 429], Ok(Routes::default())).await;
    let started = std::time::Instant::now();
    h.handle(json!({"Completion": {"Request": h.request("Delete", Some("cluster-1"))}}))
        .await
        .unwrap();
    let received = h.server.received();
    assert_eq!(received.len(), 4, "three failures, then delivered");
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "the same body every time"
    );
    // 10 + 20 + 40 ms of backoff at least.
    assert!(started.elapsed() >= Duration::from_millis(70));
}

#[tokio::test]
async fn a_response_url_that_keeps_failing_is_an_error_so_the_caller_retries() {
    let h = Harness::with(Behaviour::Start, &[500; 10], Ok(Routes::default())).await;
    let err = h
        .handle(json!({"Completion": {"Request": h.request("Delete", Some("cluster-1"))}}))
        .await
        .unwrap_err();
    assert_eq!(h.server.received().len(), 4, "every attempt was made");
    assert_eq!(err.kind(), ErrorKind::Transient);
    let message = err.to_string();
    assert!(message.contains("could not be delivered"), "{message}");
    assert!(
        !message.contains("X-Amz-Signature"),
        "the signature stays secret: {message}"
    );
}

#[tokio::test]
async fn a_refused_response_url_is_not_retried() {
    let h = Harness::with(Behaviour::Start, &[403, 500], Ok(Routes::default())).await;
    let err = h
        .handle(json!({"Completion": {"Request": h.request("Delete", Some("cluster-1"))}}))
        .await
        .unwrap_err();
    assert_eq!(h.server.received().len(), 1);
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("HTTP 403 Forbidden"), "{err}");
}

#[tokio::test]
async fn malformed_events_get_a_failed_response_not_a_crash() {
    let h = Harness::new(Behaviour::Start).await;
    // No RequestType at all.
    let mut event = h.request("Create", None);
    event.as_object_mut().unwrap().remove("RequestType");
    assert_eq!(h.handle(event).await.unwrap(), json!({"Status": "FAILED"}));
    // A RequestType CloudFormation never sends.
    let mut event = h.request("Create", None);
    event["RequestType"] = json!("Upsert");
    h.handle(event).await.unwrap();
    // A completion whose request lost fields.
    let mut request = h.request("Create", None);
    request.as_object_mut().unwrap().remove("StackId");
    h.handle(json!({"Completion": {"Request": request}}))
        .await
        .unwrap();

    assert!(h.started().is_empty());
    let responses = h.server.responses();
    assert_eq!(responses.len(), 3);
    for response in &responses {
        assert_eq!(response["Status"], "FAILED");
        assert_eq!(response["RequestId"], "create-request-id");
        assert_eq!(response["LogicalResourceId"], "HsmCluster");
        assert_eq!(
            response["PhysicalResourceId"],
            format!("{NOT_CREATED_PREFIX}create-request-id")
        );
    }
    assert_eq!(
        responses[0]["Reason"],
        "the request is not a valid CloudFormation custom resource request: missing field `RequestType`"
    );
    assert!(
        responses[1]["Reason"]
            .as_str()
            .unwrap()
            .contains("unknown variant `Upsert`")
    );
    assert!(
        responses[2]["Reason"]
            .as_str()
            .unwrap()
            .contains("missing field `StackId`")
    );
}

#[tokio::test]
async fn an_event_without_a_response_url_is_an_invalid_event_error() {
    let h = Harness::new(Behaviour::Start).await;
    for event in [
        json!("just a string"),
        json!({"RequestType": "Create"}),
        json!(null),
    ] {
        let err = h.handle(event).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidEvent);
    }
    assert!(h.server.received().is_empty());
}

/// The `EventBridge` event of an execution started for `request` that ended.
fn ended(request: &Value, status: &str, error: Option<&str>) -> Value {
    let mut detail = json!({
        "executionArn": "arn:aws:states:us-east-1:123456789012:execution:cluster:Create-1",
        "stateMachineArn": CREATE_SM,
        "name": "Create-1",
        "status": status,
        "startDate": 1_764_342_000_000_i64,
        "stopDate": 1_764_345_300_000_i64,
        "input": json!({"Request": request}).to_string(),
    });
    if let Some(error) = error {
        detail["error"] = json!(error);
        detail["cause"] = json!("something broke");
    }
    json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-28T16:35:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:states:us-east-1:123456789012:execution:cluster:Create-1"],
        "detail": detail,
    })
}

#[tokio::test]
async fn an_execution_that_timed_out_unanswered_gets_one_failed_answer() {
    let h = Harness::new(Behaviour::Start).await;
    *h.workflows.0.record.lock().unwrap() = Some(ExecutionRecord {
        answered: false,
        physical_id: Some("cluster-abc".into()),
    });
    let request = h.request("Create", None);
    let out = h.handle(ended(&request, "TIMED_OUT", None)).await.unwrap();
    assert_eq!(out, json!({"Net": "answered FAILED"}));
    let responses = h.server.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["Status"], "FAILED");
    assert_eq!(
        responses[0]["PhysicalResourceId"], "cluster-abc",
        "the cluster the execution made, so that the rollback deletes it"
    );
    assert!(
        responses[0]["Reason"].as_str().unwrap().starts_with(
            "the workflow execution arn:aws:states:us-east-1:123456789012:execution:cluster:Create-1 timed out \
             before it answered CloudFormation"
        ),
        "{}",
        responses[0]["Reason"]
    );
    assert!(h.started().is_empty());
}

#[tokio::test]
async fn an_execution_that_had_answered_is_not_answered_again() {
    let h = Harness::new(Behaviour::Start).await;
    let request = h.request("Create", None);
    // The failure report ends in the Fail state with this error: answered.
    h.handle(ended(&request, "FAILED", Some("ResourceOperationFailed")))
        .await
        .unwrap();
    // A stopped execution whose history shows the answer.
    *h.workflows.0.record.lock().unwrap() = Some(ExecutionRecord {
        answered: true,
        physical_id: None,
    });
    h.handle(ended(&request, "ABORTED", None)).await.unwrap();
    h.handle(ended(&request, "SUCCEEDED", None)).await.unwrap();
    assert!(h.server.responses().is_empty());
}

#[tokio::test]
async fn an_unreadable_history_still_gets_an_answer_with_the_request_id() {
    let h = Harness::new(Behaviour::Start).await;
    let request = h.request("Update", Some("cluster-abc"));
    h.handle(ended(&request, "FAILED", Some("States.Runtime")))
        .await
        .unwrap();
    let responses = h.server.responses();
    assert_eq!(responses.len(), 1);
    assert_eq!(responses[0]["PhysicalResourceId"], "cluster-abc");
    assert!(
        responses[0]["Reason"].as_str().unwrap().contains(
            "failed with States.Runtime (something broke) before it answered CloudFormation"
        ),
        "{}",
        responses[0]["Reason"]
    );
    let stopped = h.request("Create", None);
    h.handle(ended(&stopped, "ABORTED", None)).await.unwrap();
    let responses = h.server.responses();
    assert_eq!(
        responses[1]["PhysicalResourceId"],
        format!("{NOT_CREATED_PREFIX}create-request-id")
    );
    assert!(
        responses[1]["Reason"]
            .as_str()
            .unwrap()
            .contains("was stopped before it answered")
    );
}
