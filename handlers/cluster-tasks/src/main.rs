//! Lambda entry point: see the library for what it does.

use cluster_tasks::actions::{Action, Clients, handle};
use handler_core::HandlerError;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handler_core::logging::init();
    let config = handler_core::aws::load_config().await;
    let clients = Clients {
        hsm: aws_sdk_cloudhsmv2::Client::new(&config),
        secrets: aws_sdk_secretsmanager::Client::new(&config),
        pca: aws_sdk_acmpca::Client::new(&config),
        ssm: aws_sdk_ssm::Client::new(&config),
    };
    let clients = &clients;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let action =
            Action::deserialize(event.payload).map_err(|e| HandlerError::InvalidEvent {
                expected: "cluster workflow step",
                reason: e.to_string(),
            })?;
        handle(action, clients).await
    }))
    .await
}
