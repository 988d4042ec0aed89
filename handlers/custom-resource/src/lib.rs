//! The entry point of every cdk-cloudhsm custom resource.
//!
//! CloudFormation invokes this function with a Create, Update or Delete
//! request. It starts the workflow (a Step Functions state machine) that does
//! the work for that resource type and returns at once; the workflow's last
//! step invokes this function again with a [`Completion`], and that is when
//! CloudFormation gets its answer. Whatever fails on the way (a malformed
//! event, a missing workflow, a failed or panicking step, a step that hangs)
//! still ends in exactly one FAILED response with a sentence a person can act
//! on, so a stack never waits an hour for a resource that already failed.
//!
//! As a net under the workflows, an `EventBridge` rule sends this function the
//! "Step Functions Execution Status Change" event of every execution that
//! ends `FAILED`, `TIMED_OUT` or `ABORTED`: unless the execution had answered, it
//! answers FAILED for it (the request is in the execution's input).

pub mod handler;
pub mod response;
pub mod workflow;

pub use handler::{Deps, handle};
pub use handler_core::workflow::{Completion, NOT_CREATED_PREFIX};
pub use response::{ResponseSender, RetryPolicy, TrustedRoots};
pub use workflow::{ExecutionRecord, PROPAGATION_BUDGET, Routes, SfnWorkflows, WorkflowStarter};
