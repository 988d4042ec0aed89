//! Shared pieces of the cdk-cloudhsm Lambda handlers.
//!
//! Every handler binary is thin: it installs the log subscriber
//! ([`logging::init`]), loads the AWS configuration once with [`aws::load_config`],
//! builds its clients and hands events to a library function that returns
//! `Result<_, HandlerError>`. [`workflow`] and [`contract`] hold what the
//! state machines and the handlers agree on.

pub mod aws;
pub mod cfn;
pub mod clock;
pub mod contract;
pub mod error;
pub mod logging;
pub mod workflow;

pub use error::{ErrorKind, HandlerError};
