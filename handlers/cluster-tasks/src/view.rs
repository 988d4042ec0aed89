//! Clusters and HSMs as the workflows see them, and what a wait waits for.

use std::collections::BTreeMap;

use aws_sdk_cloudhsmv2::types::{Cluster, Hsm};
use handler_core::HandlerError;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use crate::steps::Deadline;

/// An HSM, as the workflows see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HsmView {
    /// `hsm-...`.
    pub hsm_id: String,
    /// Its Availability Zone.
    pub availability_zone: String,
    /// Its subnet.
    pub subnet_id: String,
    /// The IP address of its network interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni_ip: Option<String>,
    /// `CREATE_IN_PROGRESS`, `ACTIVE`, `DEGRADED`, ...
    pub state: String,
    /// AWS's explanation of the state, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
}

/// A cluster, as the workflows see it: no certificates, nothing secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterView {
    /// `cluster-...`.
    pub cluster_id: String,
    /// `CREATE_IN_PROGRESS`, `UNINITIALIZED`, `ACTIVE`, ...
    pub state: String,
    /// AWS's explanation of the state, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_message: Option<String>,
    /// The security group AWS made for the HSMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group_id: Option<String>,
    /// The VPC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    /// Availability Zone to subnet.
    #[serde(default)]
    pub subnet_mapping: BTreeMap<String, String>,
    /// The HSMs, in AWS's order.
    #[serde(default)]
    pub hsms: Vec<HsmView>,
    /// Whether the cluster CSR is published.
    #[serde(default)]
    pub has_csr: bool,
}

impl From<&Hsm> for HsmView {
    fn from(hsm: &Hsm) -> Self {
        Self {
            hsm_id: hsm.hsm_id().to_owned(),
            availability_zone: hsm.availability_zone().unwrap_or_default().to_owned(),
            subnet_id: hsm.subnet_id().unwrap_or_default().to_owned(),
            eni_ip: hsm.eni_ip().map(str::to_owned),
            state: hsm
                .state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            state_message: hsm.state_message().map(str::to_owned),
        }
    }
}

impl From<&Cluster> for ClusterView {
    fn from(cluster: &Cluster) -> Self {
        Self {
            cluster_id: cluster.cluster_id().unwrap_or_default().to_owned(),
            state: cluster
                .state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            state_message: cluster.state_message().map(str::to_owned),
            security_group_id: cluster.security_group().map(str::to_owned),
            vpc_id: cluster.vpc_id().map(str::to_owned),
            subnet_mapping: cluster
                .subnet_mapping()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            hsms: cluster.hsms().iter().map(HsmView::from).collect(),
            has_csr: cluster
                .certificates()
                .and_then(|c| c.cluster_csr())
                .is_some_and(|csr| !csr.trim().is_empty()),
        }
    }
}

impl Example for HsmView {
    const OPTIONAL: &'static [&'static str] = &["EniIp", "StateMessage"];

    fn example() -> Self {
        Self {
            hsm_id: "hsm-abcdefghijk".into(),
            availability_zone: "us-east-1a".into(),
            subnet_id: "subnet-0123456789abcdef0".into(),
            eni_ip: Some("10.0.1.10".into()),
            state: "ACTIVE".into(),
            state_message: Some("HSM created.".into()),
        }
    }
}

impl Example for ClusterView {
    const OPTIONAL: &'static [&'static str] = &[
        "StateMessage",
        "SecurityGroupId",
        "VpcId",
        "SubnetMapping",
        "Hsms",
        "HasCsr",
    ];

    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            state: "ACTIVE".into(),
            state_message: Some("The cluster is active.".into()),
            security_group_id: Some("sg-0123456789abcdef0".into()),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            subnet_mapping: [(
                "us-east-1a".to_owned(),
                "subnet-0123456789abcdef0".to_owned(),
            )]
            .into_iter()
            .collect(),
            hsms: vec![HsmView::example()],
            has_csr: true,
        }
    }
}

impl ClusterView {
    /// The Availability Zone of a subnet of the cluster.
    #[must_use]
    pub fn zone_of(&self, subnet_id: &str) -> Option<&str> {
        self.subnet_mapping
            .iter()
            .find(|(_, subnet)| subnet.as_str() == subnet_id)
            .map(|(az, _)| az.as_str())
    }

    /// The IP addresses of the ACTIVE HSMs, in AWS's order.
    #[must_use]
    pub fn active_ips(&self) -> Vec<String> {
        self.hsms
            .iter()
            .filter(|h| h.state == "ACTIVE")
            .filter_map(|h| h.eni_ip.clone())
            .collect()
    }
}

/// What a wait step waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Expect {
    /// The cluster exists and awaits its first HSM.
    Uninitialized,
    /// The first HSM is ACTIVE and the CSR is published.
    Csr,
    /// `InitializeCluster` has taken effect.
    Initialized,
    /// The cluster is ACTIVE.
    Active,
    /// Every HSM is ACTIVE.
    HsmsActive,
    /// Every HSM is gone.
    NoHsms,
}

impl Expect {
    /// Every value, for the workflows.
    pub const ALL: [Self; 6] = [
        Self::Uninitialized,
        Self::Csr,
        Self::Initialized,
        Self::Active,
        Self::HsmsActive,
        Self::NoHsms,
    ];

    const fn describe(self) -> &'static str {
        match self {
            Self::Uninitialized => "the cluster to be UNINITIALIZED",
            Self::Csr => "the first HSM and the cluster CSR",
            Self::Initialized => "the cluster to be INITIALIZED",
            Self::Active => "the cluster to be ACTIVE",
            Self::HsmsActive => "every HSM to be ACTIVE",
            Self::NoHsms => "every HSM to be deleted",
        }
    }
}

/// Whether the cluster is where the step waits for it to be. A state that
/// will never lead there is an error, reported at once.
pub fn reached(view: &ClusterView, expect: Expect) -> Result<bool, HandlerError> {
    let id = &view.cluster_id;
    let broken = |what: String, message: Option<&String>| {
        let why = message.map(|m| format!(" ({m})")).unwrap_or_default();
        HandlerError::PreconditionFailed(format!(
            "{what}{why} while waiting for {}. Inspect it in the CloudHSM console; \
             delete the stack or fix the cluster and retry",
            expect.describe()
        ))
    };
    let state = view.state.as_str();
    if expect != Expect::NoHsms && matches!(state, "DEGRADED" | "DELETED" | "DELETE_IN_PROGRESS") {
        return Err(broken(
            format!("cluster {id} is {state}"),
            view.state_message.as_ref(),
        ));
    }
    if expect == Expect::NoHsms {
        return Ok(view.hsms.iter().all(|h| h.state == "DELETED"));
    }
    if let Some(bad) = view.hsms.iter().find(|h| h.state == "DEGRADED") {
        return Err(broken(
            format!("HSM {} of cluster {id} is DEGRADED", bad.hsm_id),
            bad.state_message.as_ref(),
        ));
    }
    Ok(match expect {
        Expect::Uninitialized => match state {
            "CREATE_IN_PROGRESS" => false,
            "UNINITIALIZED" => true,
            other => {
                return Err(broken(
                    format!("cluster {id} is {other}"),
                    view.state_message.as_ref(),
                ));
            }
        },
        Expect::Csr => {
            state == "UNINITIALIZED"
                && view.has_csr
                && view.hsms.iter().any(|h| h.state == "ACTIVE")
        }
        Expect::Initialized => matches!(state, "INITIALIZED" | "ACTIVE"),
        Expect::Active => state == "ACTIVE",
        Expect::HsmsActive => view.hsms.iter().all(|h| h.state == "ACTIVE"),
        Expect::NoHsms => unreachable!("answered above"),
    })
}

/// The error for a wait still pending at the execution's deadline.
#[must_use]
pub fn timed_out(view: &ClusterView, expect: Expect, deadline: &Deadline) -> HandlerError {
    let pending: Vec<_> = view
        .hsms
        .iter()
        .filter(|h| h.state != "ACTIVE")
        .map(|h| format!("{} {}", h.hsm_id, h.state))
        .collect();
    let hsms = if pending.is_empty() {
        String::new()
    } else {
        format!(" (HSMs: {})", pending.join(", "))
    };
    HandlerError::PreconditionFailed(format!(
        "cluster {} is still {}{hsms} {} minutes after the operation began, waiting for {}, longer than \
         AWS documents. Inspect it in the CloudHSM console, then delete the stack or retry",
        view.cluster_id,
        view.state,
        deadline.minutes,
        expect.describe()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use handler_core::contract::Example;

    fn view(state: &str, hsms: &[(&str, &str)]) -> ClusterView {
        ClusterView {
            cluster_id: "cluster-abc".into(),
            state: state.into(),
            state_message: None,
            security_group_id: Some("sg-1".into()),
            vpc_id: Some("vpc-1".into()),
            subnet_mapping: [
                ("us-east-1a".to_owned(), "subnet-a".to_owned()),
                ("us-east-1b".to_owned(), "subnet-b".to_owned()),
            ]
            .into_iter()
            .collect(),
            hsms: hsms
                .iter()
                .enumerate()
                .map(|(i, (id, state))| HsmView {
                    hsm_id: (*id).into(),
                    availability_zone: "us-east-1a".into(),
                    subnet_id: "subnet-a".into(),
                    eni_ip: Some(format!("10.0.0.{}", i + 10)),
                    state: (*state).into(),
                    state_message: None,
                })
                .collect(),
            has_csr: false,
        }
    }

    #[test]
    fn waits_progress_through_the_states() {
        assert!(!reached(&view("CREATE_IN_PROGRESS", &[]), Expect::Uninitialized).unwrap());
        assert!(reached(&view("UNINITIALIZED", &[]), Expect::Uninitialized).unwrap());
        let mut first = view("UNINITIALIZED", &[("hsm-1", "CREATE_IN_PROGRESS")]);
        assert!(!reached(&first, Expect::Csr).unwrap());
        first.hsms[0].state = "ACTIVE".into();
        assert!(!reached(&first, Expect::Csr).unwrap(), "no CSR yet");
        first.has_csr = true;
        assert!(reached(&first, Expect::Csr).unwrap());
        assert!(!reached(&view("INITIALIZE_IN_PROGRESS", &[]), Expect::Initialized).unwrap());
        assert!(reached(&view("INITIALIZED", &[]), Expect::Initialized).unwrap());
        assert!(!reached(&view("INITIALIZED", &[]), Expect::Active).unwrap());
        assert!(reached(&view("ACTIVE", &[]), Expect::Active).unwrap());
        assert!(
            !reached(
                &view(
                    "ACTIVE",
                    &[("hsm-1", "ACTIVE"), ("hsm-2", "CREATE_IN_PROGRESS")]
                ),
                Expect::HsmsActive
            )
            .unwrap()
        );
        assert!(
            reached(
                &view("ACTIVE", &[("hsm-1", "ACTIVE"), ("hsm-2", "ACTIVE")]),
                Expect::HsmsActive
            )
            .unwrap()
        );
    }

    #[test]
    fn deleting_waits_for_every_hsm_whatever_the_cluster_state() {
        let v = view(
            "DEGRADED",
            &[("hsm-1", "DELETE_IN_PROGRESS"), ("hsm-2", "DEGRADED")],
        );
        assert!(!reached(&v, Expect::NoHsms).unwrap());
        assert!(reached(&view("DEGRADED", &[]), Expect::NoHsms).unwrap());
    }

    #[test]
    fn a_degraded_hsm_fails_the_wait_at_once() {
        let mut v = view("ACTIVE", &[("hsm-1", "ACTIVE"), ("hsm-2", "DEGRADED")]);
        v.hsms[1].state_message = Some("hardware failure".into());
        let err = reached(&v, Expect::HsmsActive).unwrap_err();
        assert_eq!(
            err.to_string(),
            "HSM hsm-2 of cluster cluster-abc is DEGRADED (hardware failure) while waiting for every HSM to be \
             ACTIVE. Inspect it in the CloudHSM console; delete the stack or fix the cluster and retry"
        );
    }

    #[test]
    fn an_unexpected_state_fails_the_wait() {
        let err = reached(&view("ACTIVE", &[]), Expect::Uninitialized).unwrap_err();
        assert!(err.to_string().starts_with(
            "cluster cluster-abc is ACTIVE while waiting for the cluster to be UNINITIALIZED"
        ));
        assert!(reached(&view("DELETED", &[]), Expect::Active).is_err());
    }

    #[test]
    fn a_timeout_names_what_is_still_pending() {
        let v = view(
            "ACTIVE",
            &[("hsm-1", "ACTIVE"), ("hsm-2", "CREATE_IN_PROGRESS")],
        );
        assert_eq!(
            timed_out(&v, Expect::HsmsActive, &Deadline::example()).to_string(),
            "cluster cluster-abc is still ACTIVE (HSMs: hsm-2 CREATE_IN_PROGRESS) 40 minutes after the operation \
             began, waiting for every HSM to be ACTIVE, longer than AWS documents. Inspect it in the CloudHSM \
             console, then delete the stack or retry"
        );
    }

    #[test]
    fn zones_and_ips_come_from_the_view() {
        let v = view(
            "ACTIVE",
            &[("hsm-1", "ACTIVE"), ("hsm-2", "CREATE_IN_PROGRESS")],
        );
        assert_eq!(v.zone_of("subnet-b"), Some("us-east-1b"));
        assert_eq!(v.zone_of("subnet-z"), None);
        assert_eq!(v.active_ips(), ["10.0.0.10"]);
    }
}
