//! The steps of the cluster workflows. Each Step Functions task invokes the
//! function with `{"Action": "...", ...}`; see [`actions::Action`].

pub mod actions;
pub mod client;
pub mod cluster;
pub mod pki;
pub mod props;
pub mod secrets;
