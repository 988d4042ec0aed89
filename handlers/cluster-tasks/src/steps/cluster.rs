//! Steps on the cluster itself: create, wait, check an update, delete.

use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use super::{Ctx, Progress, Step};
use crate::aws::cloudhsm;
use crate::props::ClusterProps;
use crate::view::{self, ClusterView, Expect};

/// Checks the properties and creates the cluster (or finds the one an
/// earlier delivery of the request created).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateCluster {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

/// The new cluster and the parsed properties, which later steps read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClusterCreated {
    /// `cluster-...`.
    pub cluster_id: String,
    /// The cluster as AWS answered.
    pub cluster: ClusterView,
    /// The resource properties, checked.
    pub props: ClusterProps,
}

impl Example for CreateCluster {
    fn example() -> Self {
        Self {
            request: crate::props::example_request(crate::contract::CLUSTER_RESOURCE_TYPE),
        }
    }
}

impl Example for ClusterCreated {
    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            cluster: ClusterView::example(),
            props: ClusterProps::example(),
        }
    }
}

impl Step for CreateCluster {
    type Output = ClusterCreated;
    const STARTS: Option<&'static str> = Some("creating the cluster");

    async fn run(self, ctx: &Ctx) -> Result<ClusterCreated, HandlerError> {
        let resource = self.request.display_name();
        let props = ClusterProps::parse(&self.request.resource_properties, &resource)?;
        if props.hsms_per_subnet == 0 {
            return Err(HandlerError::InvalidProperties {
                resource,
                reason: "hsmsPerSubnet is 0, but a new cluster needs an HSM to be initialized and activated. \
                         Create it with hsmsPerSubnet 1 or more; set 0 on a later update to keep the cluster \
                         without paying for HSMs"
                    .into(),
            });
        }
        let owner = cloudhsm::Owner {
            request_id: &self.request.request_id,
            stack_id: &self.request.stack_id,
            logical_id: &self.request.logical_resource_id,
        };
        let cluster = cloudhsm::create(&ctx.clients.hsm, &props, owner).await?;
        Ok(ClusterCreated {
            cluster_id: cluster.cluster_id.clone(),
            cluster,
            props,
        })
    }
}

/// Reports whether the cluster reached a state; fails when it never will,
/// or once the execution's deadline has passed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct AwaitCluster {
    /// The cluster.
    pub cluster_id: String,
    /// What to wait for.
    pub expect: Expect,
    /// A cluster that no longer exists counts as reached (for deletes).
    #[serde(default)]
    pub missing_ok: bool,
}

impl Example for AwaitCluster {
    const OPTIONAL: &'static [&'static str] = &["MissingOk"];

    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            expect: Expect::HsmsActive,
            missing_ok: false,
        }
    }
}

/// Where a cluster stands, with the attributes the resources expose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClusterStatus {
    /// Whether the awaited state is reached.
    pub ready: bool,
    /// The cluster; absent once it is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterView>,
    /// The cluster's state; empty once it is gone. The workflows read these
    /// fields, which are always there, rather than `Cluster`'s optional ones.
    pub state: String,
    /// The cluster's security group; empty if it has none (yet).
    pub security_group_id: String,
    /// The cluster's VPC; empty if unknown.
    pub vpc_id: String,
    /// The ACTIVE HSMs' IP addresses in the order CloudHSM lists the HSMs,
    /// joined by commas.
    pub hsm_ip_addresses: String,
    /// The first ACTIVE HSM's IP address, for the client to connect to.
    pub hsm_ip: String,
    /// Every HSM's id, joined by commas.
    pub hsm_ids: String,
}

impl ClusterStatus {
    /// The status of a cluster that exists.
    #[must_use]
    pub fn of(ready: bool, cluster: ClusterView) -> Self {
        let ips = cluster.active_ips();
        Self {
            ready,
            state: cluster.state.clone(),
            security_group_id: cluster.security_group_id.clone().unwrap_or_default(),
            vpc_id: cluster.vpc_id.clone().unwrap_or_default(),
            hsm_ip_addresses: ips.join(","),
            hsm_ip: ips.first().cloned().unwrap_or_default(),
            hsm_ids: cluster
                .hsms
                .iter()
                .map(|h| h.hsm_id.as_str())
                .collect::<Vec<_>>()
                .join(","),
            cluster: Some(cluster),
        }
    }

    /// The status of a cluster that is gone.
    #[must_use]
    pub fn gone() -> Self {
        Self {
            ready: true,
            cluster: None,
            state: String::new(),
            security_group_id: String::new(),
            vpc_id: String::new(),
            hsm_ip_addresses: String::new(),
            hsm_ip: String::new(),
            hsm_ids: String::new(),
        }
    }
}

impl Example for ClusterStatus {
    const OPTIONAL: &'static [&'static str] = &["Cluster"];

    fn example() -> Self {
        Self::of(true, ClusterView::example())
    }
}

impl Step for AwaitCluster {
    type Output = ClusterStatus;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<ClusterStatus, HandlerError> {
        let Some(found) = cloudhsm::find(&ctx.clients.hsm, &self.cluster_id).await? else {
            if self.missing_ok {
                if ctx.deadline_passed()? {
                    return Err(ctx
                        .deadline
                        .reached_late(&format!("cluster {} is gone", self.cluster_id)));
                }
                return Ok(ClusterStatus::gone());
            }
            return Err(cloudhsm::gone(&self.cluster_id));
        };
        let cluster = ClusterView::from(&found);
        let ready = view::reached(&cluster, self.expect)?;
        if ctx.deadline_passed()? {
            return Err(if ready {
                ctx.deadline.reached_late(&format!(
                    "cluster {} reached the state awaited ({})",
                    cluster.cluster_id, cluster.state
                ))
            } else {
                view::timed_out(&cluster, self.expect, &ctx.deadline)
            });
        }
        Ok(ClusterStatus::of(ready, cluster))
    }
}

/// Checks that an update changes nothing a cluster cannot change, and
/// reads the cluster for the attributes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CheckUpdate {
    /// The CloudFormation request.
    pub request: CfnRequest,
}

impl Example for CheckUpdate {
    fn example() -> Self {
        Self {
            request: crate::props::example_request(crate::contract::CLUSTER_RESOURCE_TYPE),
        }
    }
}

impl Step for CheckUpdate {
    type Output = ClusterStatus;
    const STARTS: Option<&'static str> = Some("checking the update");

    async fn run(self, ctx: &Ctx) -> Result<ClusterStatus, HandlerError> {
        let request = &self.request;
        let resource = request.display_name();
        let new = ClusterProps::parse(&request.resource_properties, &resource)?;
        let old = ClusterProps::parse(
            request
                .old_resource_properties
                .as_ref()
                .unwrap_or(&request.resource_properties),
            &resource,
        )?;
        let changed = new.immutable_changes(&old);
        if !changed.is_empty() {
            return Err(HandlerError::InvalidProperties {
                resource,
                reason: format!(
                    "{} cannot change on an existing cluster. Restore a new cluster from a backup with the new \
                     settings (CloudHsmClusterFromBackup), or revert the change",
                    changed.join(", ")
                ),
            });
        }
        let cluster_id = request.physical_resource_id.as_deref().unwrap_or_default();
        let cluster = ClusterView::from(&cloudhsm::describe(&ctx.clients.hsm, cluster_id).await?);
        Ok(ClusterStatus::of(true, cluster))
    }
}

/// Deletes the cluster once it has no HSM left; succeeds when it is gone
/// already. Polled until it answers `Ready`; fails once the execution's
/// deadline has passed with the cluster still there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeleteCluster {
    /// The cluster.
    pub cluster_id: String,
}

impl Example for DeleteCluster {
    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
        }
    }
}

impl Step for DeleteCluster {
    type Output = Progress;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<Progress, HandlerError> {
        let Some(found) = cloudhsm::find(&ctx.clients.hsm, &self.cluster_id).await? else {
            if ctx.deadline_passed()? {
                return Err(ctx
                    .deadline
                    .reached_late(&format!("cluster {} is gone", self.cluster_id)));
            }
            return Ok(Progress { ready: true });
        };
        let state = cloudhsm::state_of(&found).unwrap_or("UNKNOWN");
        let passed = ctx.deadline_passed()?;
        if state == "DELETED" {
            if passed {
                return Err(ctx
                    .deadline
                    .reached_late(&format!("cluster {} is DELETED", self.cluster_id)));
            }
            return Ok(Progress { ready: true });
        }
        if passed {
            return Err(HandlerError::PreconditionFailed(format!(
                "cluster {} is still {state} {} minutes after the deletion began (its workflow started at {}), \
                 longer than AWS documents. Check it in the CloudHSM console; once it is DELETED (or after deleting \
                 it there), retry the stack's deletion",
                self.cluster_id, ctx.deadline.minutes, ctx.deadline.start
            )));
        }
        if state != "DELETE_IN_PROGRESS" {
            cloudhsm::delete_cluster(&ctx.clients.hsm, &self.cluster_id).await?;
        }
        Ok(Progress { ready: false })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudhsmv2::Client;
    use aws_sdk_cloudhsmv2::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_cloudhsmv2::types::{Cluster, ClusterState, Tag};
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::steps::testing::{ctx, late};

    fn cluster(id: &str, state: ClusterState, request_tag: Option<&str>) -> Cluster {
        let mut cluster = Cluster::builder().cluster_id(id).state(state);
        if let Some(request_id) = request_tag {
            cluster = cluster.tag_list(
                Tag::builder()
                    .key(cloudhsm::REQUEST_TAG)
                    .value(request_id)
                    .build()
                    .unwrap(),
            );
        }
        cluster.build()
    }

    #[tokio::test]
    async fn a_redelivered_create_finds_its_cluster_by_tag() {
        let step = CreateCluster::example();
        let request_id = step.request.request_id.clone();
        let listed = mock!(Client::describe_clusters).then_output(move || {
            DescribeClustersOutput::builder()
                .clusters(cluster(
                    "cluster-other",
                    ClusterState::Active,
                    Some("another-request"),
                ))
                .clusters(cluster(
                    "cluster-ours",
                    ClusterState::CreateInProgress,
                    Some(&request_id),
                ))
                .build()
        });
        let create =
            mock!(Client::create_cluster).then_output(|| unreachable!("no second cluster"));
        let ctx = ctx(&[&listed, &create], &[], &[]);
        let created = step.run(&ctx).await.unwrap();
        assert_eq!(created.cluster_id, "cluster-ours");
        assert_eq!(create.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_cluster_being_deleted_is_not_deleted_again() {
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(cluster(
                    "cluster-abcdefghijk",
                    ClusterState::DeleteInProgress,
                    None,
                ))
                .build()
        });
        let delete = mock!(Client::delete_cluster).then_output(|| unreachable!("deleted twice"));
        let ctx = ctx(&[&found, &delete], &[], &[]);
        let progress = DeleteCluster::example().run(&ctx).await.unwrap();
        assert_eq!(progress, Progress { ready: false });
        assert_eq!(delete.num_calls(), 0);
        // Past the execution's deadline, the same wait fails with the reason.
        let err = DeleteCluster::example().run(&late(&ctx)).await.unwrap_err();
        assert!(
            err.to_string().starts_with(
                "cluster cluster-abcdefghijk is still DELETE_IN_PROGRESS 40 minutes after the deletion began"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_cluster_already_gone_counts_as_deleted() {
        let none = mock!(Client::describe_clusters)
            .then_output(|| DescribeClustersOutput::builder().build());
        let ctx = ctx(&[&none], &[], &[]);
        assert!(DeleteCluster::example().run(&ctx).await.unwrap().ready);
        let wait = AwaitCluster {
            missing_ok: true,
            ..AwaitCluster::example()
        };
        assert_eq!(wait.run(&ctx).await.unwrap(), ClusterStatus::gone());
    }
}
