//! Shared pieces of the cdk-cloudhsm Lambda handlers.
//!
//! Every handler binary is thin: it initialises [`logging`], loads the AWS
//! configuration once with [`aws::load_config`], builds its clients and hands
//! events to a library function that returns `Result<_, HandlerError>`.

pub mod aws;
pub mod cfn;
pub mod error;
pub mod logging;

pub use error::{ErrorKind, HandlerError};
