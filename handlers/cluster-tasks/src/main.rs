//! Lambda entry point: see the library for what it does.

use cluster_tasks::aws::Clients;
use cluster_tasks::config::Config;
use cluster_tasks::contract::StepInvocation;
use cluster_tasks::steps::{Clock, Ctx, Deadline};
use handler_core::HandlerError;
use lambda_runtime::{LambdaEvent, service_fn};
use serde::Deserialize;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    handler_core::logging::init();
    let sdk_config = handler_core::aws::load_config().await;
    // A missing variable fails every step with the reason, rather than
    // stopping the function before it can say why.
    let ctx = Config::from_vars(|name| std::env::var(name).ok()).map(|config| Ctx {
        clients: Clients::new(&sdk_config),
        config,
        clock: Clock::from_env(),
        deadline: Deadline::none(),
    });
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let ctx = ctx.as_ref().map_err(Clone::clone)?;
        let step =
            StepInvocation::deserialize(event.payload).map_err(|e| HandlerError::InvalidEvent {
                expected: "cluster workflow step",
                reason: e.to_string(),
            })?;
        step.run(ctx).await
    }))
    .await
}
