//! The steps of the cluster workflows. Each Step Functions task invokes the
//! function with `{"Step": "...", ...}`; see [`contract::StepRequest`] and
//! the step types in [`steps`].

pub mod aws;
pub mod config;
pub mod contract;
pub mod pki;
pub mod props;
pub mod steps;
pub mod view;
