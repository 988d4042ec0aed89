//! Lambda entry point: see the library for what it does.

use std::sync::Arc;
use std::time::Duration;

use custom_resource::{Deps, ResponseSender, RetryPolicy, Routes, SfnWorkflows, handle};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handler_core::logging::init();
    let config = handler_core::aws::load_config().await;
    // A broken WORKFLOWS variable must not stop the function from starting:
    // every request is then answered FAILED with the reason.
    let routes = std::env::var("WORKFLOWS")
        .map_err(|_| {
            handler_core::HandlerError::Internal("the function has no WORKFLOWS variable".into())
        })
        .and_then(|json| Routes::from_json(&json));
    let deps = Arc::new(Deps {
        workflows: SfnWorkflows::new(aws_sdk_sfn::Client::new(&config)),
        routes,
        // Cannot fail: without system roots it trusts the bundled ones.
        responses: ResponseSender::new(RetryPolicy::default()),
        // Longer than the minute a start may be retried while a new role's
        // policy propagates, and well inside the function's two minutes.
        step_timeout: custom_resource::PROPAGATION_BUDGET + Duration::from_secs(15),
    });
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        handle(event.payload, Arc::clone(&deps))
    }))
    .await
}
