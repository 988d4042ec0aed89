//! The protocol between the construct's state machines and this function,
//! owned here and written down for TypeScript (and the tests) by the
//! `contract-gen` tool: step names with their input and output types, the
//! values steps and workflows agree on, and the function's environment.

use handler_core::cfn::{CfnRequest, RequestType};
use handler_core::contract::Example;
use handler_core::workflow::{
    ANSWERED_KEY, COMPLETION_KEY, Completion, NOT_CREATED_PREFIX, REPORTED_FAILURE_ERROR,
    REQUEST_KEY, STATUS_CHANGE_DETAIL_TYPE,
};
use handler_core::{ErrorKind, HandlerError};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::aws::cloudhsm::{LOGICAL_ID_TAG, REQUEST_TAG, STACK_TAG};
use crate::aws::secrets::CLUSTER_TAG;
use crate::aws::ssm::CommandProgress;
use crate::config::ENV;
use crate::props::{ClusterProps, HsmsProps, PkiKind};
use crate::steps::certificate::{
    CaCarried, CarryCaCertificate, InitializeCluster, IssueCertificate, PublishCsr,
};
use crate::steps::client::{ActivateCluster, ConfigureClient};
use crate::steps::cluster::{
    AwaitCluster, CheckUpdate, ClusterCreated, ClusterStatus, ClusterUpdate, CreateCluster,
    DeleteCluster,
};
use crate::steps::hsms::{CreateFirstHsm, DeleteHsms, ResizeHsms, Resized};
use crate::steps::key::{
    CreateKey, KEY_RESOURCE_TYPE, KeyCreated, KeyProps, ScheduleKeyDeletion, UpdateKey,
};
use crate::steps::keystore::{
    ConnectKeyStore, CreateKeyStore, DeleteKeyStore, DisconnectKeyStore, EnsureKmsUser,
    KEY_STORE_RESOURCE_TYPE, KeyStoreConnection, KeyStoreCreated, KeyStoreDeleted, KeyStorePlan,
    KeyStoreProps, PlanKeyStoreUpdate, UpdateKeyStore,
};
use crate::steps::{Ctx, Deadline, Done, Progress, Step};
use crate::view::Expect;

pub use handler_core::workflow::CLUSTER_RESOURCE_TYPE;
/// The custom resource type of a cluster's HSMs.
pub const HSMS_RESOURCE_TYPE: &str = "Custom::CloudHsmHsms";
/// The key of a step payload that names the step.
pub const STEP_KEY: &str = "Step";
/// The key of a step payload that carries the execution's [`Deadline`].
pub const DEADLINE_KEY: &str = "Deadline";

/// The handler binaries, by role.
pub const HANDLERS: [(&str, &str); 2] = [("entry", "custom-resource"), ("tasks", "cluster-tasks")];
/// The architectures the handlers are built for, as the asset folders name them.
pub const ARCHITECTURES: [&str; 2] = ["arm64", "x86_64"];
/// Where each handler binary lives in the construct package's `assets/`.
pub const ASSET_PATH: &str = "{handler}/{architecture}/bootstrap";
/// The file in `assets/` that lists each binary's input hash and size.
pub const ASSET_MANIFEST: &str = "manifest.json";
/// The CDK context key that sets how often workflows poll, in seconds.
pub const POLL_SECONDS_CONTEXT: &str = "@cdk-cloudhsm/poll-seconds";

/// Declares the steps: the payload enum, its dispatch, and the catalogue.
macro_rules! steps {
    ($($name:ident -> $output:ident,)*) => {
        /// A step payload, `{"Step": "<name>", ...input}`.
        #[derive(Debug, Clone, Deserialize)]
        #[serde(tag = "Step")]
        pub enum StepRequest {
            $(
                #[doc = concat!("See [`", stringify!($name), "`].")]
                $name($name),
            )*
        }

        impl StepRequest {
            /// Runs the step and answers its output as JSON. A step that is
            /// not a wait does not start once the deadline has passed.
            pub async fn run(self, ctx: &Ctx) -> Result<Value, HandlerError> {
                match self {
                    $(Self::$name(step) => {
                        if let Some(what) = <$name as Step>::STARTS
                            && ctx.deadline_passed()?
                        {
                            return Err(ctx.deadline.passed_before(what));
                        }
                        let output: $output = Step::run(step, ctx).await?;
                        to_json(&output)
                    })*
                }
            }

            /// The output type's example, for the contract checks.
            #[must_use]
            pub fn example_output(&self) -> Value {
                match self {
                    $(Self::$name(_) => <$output as Example>::example_json(),)*
                }
            }
        }

        /// Every step: name, input fields, output type name.
        #[must_use]
        pub fn steps() -> Vec<StepSpec> {
            vec![$(StepSpec {
                name: stringify!($name),
                input: fields::<$name>(),
                output: stringify!($output),
            },)*]
        }

        /// Every output type: name and example.
        #[must_use]
        pub fn outputs() -> Map<String, Value> {
            let mut outputs = Map::new();
            $(outputs.insert(stringify!($output).to_owned(), <$output as Example>::example_json());)*
            outputs
        }

        #[cfg(test)]
        fn all_example_problems() -> Vec<String> {
            let mut problems = Vec::new();
            $(
                problems.extend(handler_core::contract::example_problems::<$name>());
                problems.extend(handler_core::contract::example_problems::<$output>());
            )*
            problems
        }
    };
}

steps! {
    CreateCluster -> ClusterCreated,
    AwaitCluster -> ClusterStatus,
    CheckUpdate -> ClusterUpdate,
    DeleteCluster -> Progress,
    CreateFirstHsm -> Done,
    ResizeHsms -> Resized,
    DeleteHsms -> ClusterStatus,
    PublishCsr -> Done,
    IssueCertificate -> Done,
    InitializeCluster -> Done,
    CarryCaCertificate -> CaCarried,
    ActivateCluster -> CommandProgress,
    ConfigureClient -> CommandProgress,
    EnsureKmsUser -> CommandProgress,
    CreateKeyStore -> KeyStoreCreated,
    ConnectKeyStore -> KeyStoreConnection,
    DisconnectKeyStore -> KeyStoreConnection,
    PlanKeyStoreUpdate -> KeyStorePlan,
    UpdateKeyStore -> Done,
    DeleteKeyStore -> KeyStoreDeleted,
    CreateKey -> KeyCreated,
    UpdateKey -> Done,
    ScheduleKeyDeletion -> Done,
}

/// What the tasks function receives: a step and the deadline of the
/// execution that sends it.
#[derive(Debug, Clone, Deserialize)]
pub struct StepInvocation {
    /// The execution's deadline.
    #[serde(rename = "Deadline")]
    pub deadline: Deadline,
    /// The step.
    #[serde(flatten)]
    pub step: StepRequest,
}

impl StepInvocation {
    /// Runs the step against the execution's deadline.
    pub async fn run(self, ctx: &Ctx) -> Result<Value, HandlerError> {
        self.step.run(&ctx.for_deadline(self.deadline)).await
    }
}

fn to_json<T: serde::Serialize>(output: &T) -> Result<Value, HandlerError> {
    serde_json::to_value(output)
        .map_err(|e| HandlerError::Internal(format!("the output could not be encoded: {e}")))
}

/// A step as the contract describes it.
#[derive(Debug, Clone)]
pub struct StepSpec {
    /// Its name, the value of `Step`.
    pub name: &'static str,
    /// Its input fields.
    pub input: Value,
    /// The name of its output type.
    pub output: &'static str,
}

/// The fields of a payload type: name, JSON type, whether it may be left out.
fn fields<T: Example>() -> Value {
    let Value::Object(example) = T::example_json() else {
        return json!({});
    };
    let described = example
        .into_iter()
        .map(|(name, value)| {
            let optional = T::OPTIONAL.contains(&name.as_str());
            let kind = match &value {
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "boolean",
                Value::Array(items) if items.iter().all(Value::is_string) => "string[]",
                Value::Array(_) => "array",
                Value::Object(_) | Value::Null => "object",
            };
            (name, json!({ "type": kind, "optional": optional }))
        })
        .collect();
    Value::Object(described)
}

/// The whole contract, as `contract-gen` writes it down.
#[must_use]
pub fn describe() -> Value {
    let names = |pairs: &[(&str, &str)]| -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), json!(v)))
                .collect(),
        )
    };
    let expect: Map<String, Value> = Expect::ALL
        .iter()
        .map(|e| {
            (
                format!("{e:?}"),
                serde_json::to_value(e).unwrap_or(Value::Null),
            )
        })
        .collect();
    let errors: Map<String, Value> = ErrorKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), json!(k.as_str())))
        .collect();
    let steps: Map<String, Value> = steps()
        .into_iter()
        .map(|s| {
            (
                s.name.to_owned(),
                json!({ "input": s.input, "output": s.output }),
            )
        })
        .collect();
    let field_names = |example: Value| -> Value {
        Value::Object(
            example
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| (k.clone(), json!(k)))
                .collect(),
        )
    };
    let variants = |values: Vec<Value>, names: Vec<String>| -> Value {
        Value::Object(names.into_iter().zip(values).collect())
    };
    json!({
        "handlers": names(&HANDLERS),
        "architectures": ARCHITECTURES,
        "assets": { "path": ASSET_PATH, "manifest": ASSET_MANIFEST },
        "notCreatedPrefix": NOT_CREATED_PREFIX,
        "pollSecondsContext": POLL_SECONDS_CONTEXT,
        "tags": {
            "clusterId": CLUSTER_TAG,
            "requestId": REQUEST_TAG,
            "stackId": STACK_TAG,
            "logicalId": LOGICAL_ID_TAG,
            "keyRequestId": crate::steps::key::KEY_REQUEST_TAG,
        },
        "resourceTypes": {
            "cluster": CLUSTER_RESOURCE_TYPE,
            "hsms": HSMS_RESOURCE_TYPE,
            "keyStore": KEY_STORE_RESOURCE_TYPE,
            "key": KEY_RESOURCE_TYPE,
        },
        "requestKey": REQUEST_KEY,
        "completionKey": COMPLETION_KEY,
        "stepKey": STEP_KEY,
        "deadlineKey": DEADLINE_KEY,
        "deadline": fields::<Deadline>(),
        "answeredKey": ANSWERED_KEY,
        "reportedFailureError": REPORTED_FAILURE_ERROR,
        "statusChangeDetailType": STATUS_CHANGE_DETAIL_TYPE,
        "requestFields": field_names(CfnRequest::example_json()),
        "requestTypes": variants(
            RequestType::ALL.iter().map(|t| json!(t.as_str())).collect(),
            RequestType::ALL.iter().map(|t| t.as_str().to_owned()).collect(),
        ),
        "pkiKinds": variants(
            PkiKind::ALL.iter().map(|k| serde_json::to_value(k).unwrap_or(Value::Null)).collect(),
            PkiKind::ALL.iter().map(|k| format!("{k:?}")).collect(),
        ),
        "propertyFields": {
            "cluster": field_names(ClusterProps::example_json()),
            "hsms": field_names(HsmsProps::example_json()),
            "keyStore": field_names(KeyStoreProps::example_json()),
            "key": field_names(KeyProps::example_json()),
        },
        "errors": errors,
        "expect": expect,
        "tasksEnv": names(&ENV),
        "steps": steps,
        "outputs": outputs(),
        "completion": fields::<Completion>(),
        "properties": {
            "cluster": fields::<ClusterProps>(),
            "hsms": fields::<HsmsProps>(),
            "keyStore": fields::<KeyStoreProps>(),
            "key": fields::<KeyProps>(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_and_output_example_matches_its_type() {
        let problems = all_example_problems();
        assert!(problems.is_empty(), "{problems:#?}");
    }

    #[test]
    fn payloads_read_by_step_name_with_the_deadline() {
        let invocation: StepInvocation = serde_json::from_value(json!({
            "Step": "AwaitCluster",
            "Deadline": { "Start": "2026-11-28T15:00:00.123Z", "Minutes": 40 },
            "ClusterId": "cluster-abc",
            "Expect": "HSMS_ACTIVE"
        }))
        .unwrap();
        assert_eq!(invocation.deadline.minutes, 40);
        assert!(matches!(
            invocation.step,
            StepRequest::AwaitCluster(AwaitCluster {
                expect: Expect::HsmsActive,
                ..
            })
        ));
        let without = serde_json::from_value::<StepInvocation>(json!({
            "Step": "PublishCsr", "ClusterId": "cluster-abc"
        }));
        assert!(without.is_err(), "every step carries the deadline");
        let unknown = serde_json::from_value::<StepInvocation>(json!({
            "Step": "PublishCsr", "ClusterId": "cluster-abc", "Surprise": 1,
            "Deadline": { "Start": "2026-11-28T15:00:00.123Z", "Minutes": 40 }
        }))
        .unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `Surprise`"),
            "{unknown}"
        );
    }

    #[tokio::test]
    async fn no_step_but_a_wait_starts_after_the_deadline() {
        use crate::steps::testing::{ctx, late};
        let ctx = late(&ctx(&[], &[], &[]));
        let step: StepRequest = serde_json::from_value(json!({
            "Step": "IssueCertificate", "ClusterId": "cluster-abc",
            "Pki": { "Kind": "EPHEMERAL_CA" }
        }))
        .unwrap();
        let err = step.run(&ctx).await.unwrap_err();
        assert_eq!(err.kind(), handler_core::ErrorKind::PreconditionFailed);
        assert!(
            err.to_string().starts_with(
                "the operation's deadline (40 minutes after its workflow started at 2020-01-01T00:00:00.000Z) \
                 passed before issuing the cluster certificate, so it was not started."
            ),
            "{err}"
        );
    }

    #[test]
    fn a_payload_with_a_field_no_step_reads_is_refused() {
        let err = serde_json::from_value::<StepRequest>(json!({
            "Step": "PublishCsr",
            "ClusterId": "cluster-abc",
            "CsrSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:csr"
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("unknown field `CsrSecretArn`"),
            "{err}"
        );
    }

    #[test]
    fn step_names_are_unique_and_every_output_is_described() {
        let specs = steps();
        let names: std::collections::BTreeSet<_> = specs.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), specs.len());
        let outputs = outputs();
        for spec in specs {
            assert!(outputs.contains_key(spec.output), "{}", spec.output);
        }
    }
}
