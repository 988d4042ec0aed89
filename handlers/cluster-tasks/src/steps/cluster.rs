//! Steps on the cluster itself: create, wait, check an update, delete.

use aws_sdk_cloudhsmv2::types::{Cluster, ClusterMode, NetworkType};
use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use super::{Ctx, Progress, Step};
use crate::aws::secrets as aws_secrets;
use crate::aws::{cloudhsm, pca};
use crate::pki;
use crate::props::{ClusterProps, PkiKind};
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
        if let (PkiKind::CertificateAuthority, Some(ca)) = (
            props.pki.kind,
            props.pki.certificate_authority_arn.as_deref(),
        ) {
            // A CA made elsewhere: checked before the cluster and its first HSM are paid for.
            pca::check_active(&ctx.clients.pca, ca).await?;
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

/// Checks that an update asks for nothing the cluster cannot change,
/// applies what changes in place (backup retention, with `ModifyCluster`),
/// and says whether the update is an external PKI's second phase: then the
/// certificates the user put into the secrets are checked here, before
/// anything is sent to AWS, and the workflow goes on to initialize.
///
/// The requested properties are compared with the cluster as AWS describes
/// it, not with the old properties: CloudFormation's rollback of a refused
/// update asks for what the cluster already is, and succeeds.
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

/// What an update does to the cluster. The same fields as
/// [`ClusterCreated`], so that the initialization states read either.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ClusterUpdate {
    /// `cluster-...`.
    pub cluster_id: String,
    /// The cluster as AWS answered.
    pub cluster: ClusterView,
    /// The new properties, checked.
    pub props: ClusterProps,
    /// Whether the cluster is to be initialized and activated now (an
    /// external PKI whose certificates are ready and checked).
    pub initialize: bool,
    /// The cluster's state, security group and VPC, always there (empty if
    /// unknown) for the answer to read, unlike `Cluster`'s optional fields.
    pub state: String,
    /// See `state`.
    pub security_group_id: String,
    /// See `state`.
    pub vpc_id: String,
}

impl ClusterUpdate {
    fn of(cluster: ClusterView, props: ClusterProps, initialize: bool) -> Self {
        Self {
            cluster_id: cluster.cluster_id.clone(),
            state: cluster.state.clone(),
            security_group_id: cluster.security_group_id.clone().unwrap_or_default(),
            vpc_id: cluster.vpc_id.clone().unwrap_or_default(),
            cluster,
            props,
            initialize,
        }
    }
}

impl Example for ClusterUpdate {
    fn example() -> Self {
        Self::of(ClusterView::example(), ClusterProps::example(), true)
    }
}

impl Step for CheckUpdate {
    type Output = ClusterUpdate;
    const STARTS: Option<&'static str> = Some("checking the update");

    async fn run(self, ctx: &Ctx) -> Result<ClusterUpdate, HandlerError> {
        let request = &self.request;
        let resource = request.display_name();
        let wanted = ClusterProps::parse(&request.resource_properties, &resource)?;
        let cluster_id = request.physical_resource_id.as_deref().unwrap_or_default();
        let found = cloudhsm::describe(&ctx.clients.hsm, cluster_id).await?;
        let (forbidden, unsupported) = refused_changes(&wanted, &found);
        let mut reasons = Vec::new();
        if !forbidden.is_empty() {
            reasons.push(format!(
                "{} cannot change on an existing cluster. Nothing was changed. To get a cluster with the \
                 new settings, restore a new cluster from a backup of {cluster_id} \
                 (CloudHsmClusterFromBackup) and move to it; otherwise revert the change",
                forbidden.join("; ")
            ));
        }
        if !unsupported.is_empty() {
            reasons.push(format!(
                "{} cannot change: the only HSM type migration AWS documents is from hsm1.medium to \
                 hsm2m.medium (ModifyCluster), and hsm1.medium was retired on 1 December 2025. Nothing was \
                 changed. Revert the change, or restore a backup of {cluster_id} into a new cluster",
                unsupported.join("; ")
            ));
        }
        if !reasons.is_empty() {
            return Err(HandlerError::InvalidProperties {
                resource,
                reason: reasons.join(". "),
            });
        }
        let state = cloudhsm::state_of(&found).unwrap_or_default();
        // INITIALIZED: an earlier try initialized the cluster and failed to activate it.
        let initialize = wanted.pki.kind == PkiKind::External
            && wanted.pki.certificates_ready
            && matches!(state, "UNINITIALIZED" | "INITIALIZED");
        if initialize && state == "UNINITIALIZED" {
            // Before any change: a refused certificate leaves the cluster as it was.
            check_supplied_certificates(ctx, &found, cluster_id).await?;
        }
        if cloudhsm::retention_days_of(&found) != Some(wanted.backup_retention_days) {
            cloudhsm::modify_backup_retention(
                &ctx.clients.hsm,
                cluster_id,
                wanted.backup_retention_days,
            )
            .await?;
            tracing::info!(
                cluster_id,
                days = wanted.backup_retention_days,
                "backup retention changed"
            );
        }
        Ok(ClusterUpdate::of(
            ClusterView::from(&found),
            wanted,
            initialize,
        ))
    }
}

/// Checks the certificates a user's own PKI put into the secrets against
/// the cluster's current CSR; when they answer an older CSR, the current
/// one is published again for the user to sign.
async fn check_supplied_certificates(
    ctx: &Ctx,
    found: &aws_sdk_cloudhsmv2::types::Cluster,
    cluster_id: &str,
) -> Result<(), HandlerError> {
    let config = &ctx.config;
    let secrets = pki::SuppliedSecrets {
        csr: &config.csr_secret_arn,
        certificate: &config.cluster_certificate_secret_arn,
        ca: &config.ca_certificate_secret_arn,
    };
    let csr = found
        .certificates()
        .and_then(|c| c.cluster_csr())
        .filter(|csr| !csr.trim().is_empty())
        .ok_or_else(|| {
            HandlerError::PreconditionFailed(format!(
                "cluster {cluster_id} has no CSR now: AWS is replacing its first HSM. Wait until the cluster shows \
                 its new CSR, sign it, put the certificate into secret {}, then update the stack again",
                secrets.certificate
            ))
        })?;
    let certificate = aws_secrets::read_text(
        &ctx.clients.secrets,
        secrets.certificate,
        "cluster certificate",
    )
    .await?;
    let ca = aws_secrets::read_text(&ctx.clients.secrets, secrets.ca, "CA certificate").await?;
    let checked = pki::check_supplied(
        csr,
        certificate.as_deref(),
        ca.as_deref(),
        secrets,
        time::OffsetDateTime::now_utc(),
    );
    match checked {
        Ok(()) => Ok(()),
        Err(problem) => {
            if matches!(problem, pki::SuppliedProblem::StaleCsr(_)) {
                aws_secrets::write(&ctx.clients.secrets, secrets.csr, "cluster CSR", csr).await?;
            }
            Err(HandlerError::PreconditionFailed(format!(
                "cluster {cluster_id} was not initialized: {}",
                problem.sentence()
            )))
        }
    }
}

/// What an update asks for that differs from the cluster: the changes no
/// cluster can make, then those this version does not make. Each names the
/// prop as the user wrote it, what the cluster has and what is asked. A value
/// AWS does not report is not compared.
fn refused_changes(wanted: &ClusterProps, cluster: &Cluster) -> (Vec<String>, Vec<String>) {
    fn differs(found: &mut Vec<String>, prop: &str, actual: Option<&str>, asked: &str) {
        if let Some(actual) = actual.filter(|actual| *actual != asked) {
            found.push(format!(
                "{prop} (the cluster has {actual}, the update asks for {asked})"
            ));
        }
    }
    let list =
        |items: std::collections::BTreeSet<&str>| items.into_iter().collect::<Vec<_>>().join(", ");
    let subnets = cluster
        .subnet_mapping()
        .map(|m| list(m.values().map(String::as_str).collect()));
    let mut forbidden = Vec::new();
    differs(
        &mut forbidden,
        "vpcSubnets",
        subnets.as_deref(),
        &list(wanted.subnet_ids.iter().map(String::as_str).collect()),
    );
    differs(
        &mut forbidden,
        "mode",
        cluster.mode().map(ClusterMode::as_str),
        &wanted.mode,
    );
    differs(
        &mut forbidden,
        "networkType",
        cluster.network_type().map(NetworkType::as_str),
        &wanted.network_type,
    );
    differs(
        &mut forbidden,
        "the source backup",
        Some(cluster.source_backup_id().unwrap_or("none")),
        wanted.source_backup_id.as_deref().unwrap_or("none"),
    );
    let mut unsupported = Vec::new();
    differs(
        &mut unsupported,
        "hsmType",
        cluster.hsm_type(),
        &wanted.hsm_type,
    );
    (forbidden, unsupported)
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
            // An HSM can appear after the HSMs were deleted: a create stopped while
            // its CreateHsm call was on the way. It goes first; the next poll
            // deletes the cluster.
            let late: Vec<_> = ClusterView::from(&found)
                .hsms
                .into_iter()
                .filter(|h| !matches!(h.state.as_str(), "DELETE_IN_PROGRESS" | "DELETED"))
                .collect();
            for hsm in &late {
                cloudhsm::delete_hsm(&ctx.clients.hsm, &self.cluster_id, &hsm.hsm_id).await?;
                tracing::warn!(hsm_id = %hsm.hsm_id, cluster_id = %self.cluster_id, "HSM made after the HSMs were deleted: deleted");
            }
            if found.hsms().is_empty() {
                cloudhsm::delete_cluster(&ctx.clients.hsm, &self.cluster_id).await?;
            }
        }
        Ok(Progress { ready: false })
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudhsmv2::Client;
    use aws_sdk_cloudhsmv2::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_cloudhsmv2::types::{
        BackupRetentionPolicy, BackupRetentionType, ClusterState, Tag,
    };
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

    /// The cluster `ClusterProps::example()` describes, as AWS lists it.
    fn example_cluster() -> Cluster {
        Cluster::builder()
            .cluster_id("cluster-abcdefghijk")
            .state(ClusterState::Active)
            .hsm_type("hsm2m.medium")
            .mode(ClusterMode::Fips)
            .network_type(NetworkType::Ipv4)
            .source_backup_id("backup-abcdefghijk")
            .subnet_mapping("us-east-1b", "subnet-0123456789abcdef1")
            .subnet_mapping("us-east-1a", "subnet-0123456789abcdef0")
            .backup_retention_policy(
                BackupRetentionPolicy::builder()
                    .r#type(BackupRetentionType::Days)
                    .value("90")
                    .build(),
            )
            .build()
    }

    fn check(props: serde_json::Value, old: serde_json::Value) -> CheckUpdate {
        let mut step = CheckUpdate::example();
        step.request.request_type = handler_core::cfn::RequestType::Update;
        step.request.physical_resource_id = Some("cluster-abcdefghijk".into());
        for (target, changes) in [
            (&mut step.request.resource_properties, props),
            (step.request.old_resource_properties.as_mut().unwrap(), old),
        ] {
            for (key, value) in changes.as_object().unwrap() {
                target.insert(key.clone(), value.clone());
            }
        }
        step
    }

    #[tokio::test]
    async fn an_update_that_changes_what_a_cluster_cannot_is_refused_with_what_to_do() {
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(example_cluster())
                .build()
        });
        let ctx = ctx(&[&found], &[], &[]);
        let step = check(
            serde_json::json!({
                "SubnetIds": ["subnet-0123456789abcdef9"], "Mode": "NON_FIPS", "SourceBackupId": "backup-x"
            }),
            serde_json::json!({}),
        );
        let err = step.run(&ctx).await.unwrap_err();
        assert_eq!(err.kind(), handler_core::ErrorKind::InvalidProperties);
        let text = err.to_string();
        for part in [
            "vpcSubnets (the cluster has subnet-0123456789abcdef0, subnet-0123456789abcdef1, \
             the update asks for subnet-0123456789abcdef9)",
            "mode (the cluster has FIPS, the update asks for NON_FIPS)",
            "the source backup (the cluster has backup-abcdefghijk, the update asks for backup-x) \
             cannot change on an existing cluster. Nothing was changed",
            "restore a new cluster from a backup of cluster-abcdefghijk (CloudHsmClusterFromBackup)",
        ] {
            assert!(text.contains(part), "{part:?} not in {text}");
        }
        assert!(!text.contains("networkType"), "{text}");
    }

    #[tokio::test]
    async fn an_hsm_type_change_is_refused_naming_the_only_documented_migration() {
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(example_cluster())
                .build()
        });
        let modify =
            mock!(Client::modify_cluster).then_output(|| unreachable!("no change is made"));
        let ctx = ctx(&[&found, &modify], &[], &[]);
        let step = check(
            serde_json::json!({"HsmType": "hsm3.large"}),
            serde_json::json!({}),
        );
        let err = step.run(&ctx).await.unwrap_err();
        assert_eq!(err.kind(), handler_core::ErrorKind::InvalidProperties);
        let text = err.to_string();
        assert!(
            text.contains(
                "hsmType (the cluster has hsm2m.medium, the update asks for hsm3.large) cannot change: \
                 the only HSM type migration AWS documents is from hsm1.medium to hsm2m.medium"
            ),
            "{text}"
        );
        assert_eq!(modify.num_calls(), 0);
    }

    #[tokio::test]
    async fn the_rollback_of_a_refused_update_asks_for_what_the_cluster_is_and_succeeds() {
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(example_cluster())
                .build()
        });
        let ctx = ctx(&[&found], &[], &[]);
        // The rollback: the properties are the cluster's own, the old ones what was refused.
        let step = check(
            serde_json::json!({}),
            serde_json::json!({"Mode": "NON_FIPS", "NetworkType": "DUALSTACK"}),
        );
        let update = step.run(&ctx).await.unwrap();
        assert!(!update.initialize);
        assert_eq!(update.cluster.cluster_id, "cluster-abcdefghijk");
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

    fn update_request(retention: &str, pki: &serde_json::Value) -> CheckUpdate {
        let mut step = CheckUpdate::example();
        let mut old = step.request.resource_properties.clone();
        old.remove("SourceBackupId");
        let mut new = old.clone();
        new.insert("BackupRetentionDays".into(), retention.into());
        new.insert("Pki".into(), pki.clone());
        old.insert(
            "Pki".into(),
            serde_json::json!({"Kind": pki["Kind"].clone()}),
        );
        step.request.resource_properties = new;
        step.request.old_resource_properties = Some(old);
        step.request.physical_resource_id = Some("cluster-abcdefghijk".into());
        step
    }

    fn described(state: ClusterState, days: &str) -> Cluster {
        Cluster::builder()
            .cluster_id("cluster-abcdefghijk")
            .state(state)
            .backup_retention_policy(
                aws_sdk_cloudhsmv2::types::BackupRetentionPolicy::builder()
                    .r#type(aws_sdk_cloudhsmv2::types::BackupRetentionType::Days)
                    .value(days)
                    .build(),
            )
            .build()
    }

    #[tokio::test]
    async fn an_update_changes_the_retention_only_when_it_differs() {
        use aws_sdk_cloudhsmv2::operation::modify_cluster::ModifyClusterOutput;
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(described(ClusterState::Active, "90"))
                .build()
        });
        let modified = mock!(Client::modify_cluster)
            .match_requests(|r| r.backup_retention_policy().and_then(|p| p.value()) == Some("30"))
            .then_output(|| ModifyClusterOutput::builder().build());
        let ctx = ctx(&[&found, &modified], &[], &[]);
        let ephemeral = serde_json::json!({"Kind": "EPHEMERAL_CA"});
        let same = update_request("90", &ephemeral).run(&ctx).await.unwrap();
        assert!(!same.initialize);
        assert_eq!(modified.num_calls(), 0);
        update_request("30", &ephemeral).run(&ctx).await.unwrap();
        assert_eq!(modified.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_external_pki_is_finished_only_while_the_cluster_is_not_active() {
        let active = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(described(ClusterState::Active, "90"))
                .build()
        });
        // No Secrets Manager rule: an ACTIVE cluster's certificates are not read.
        let on_active = ctx(&[&active], &[], &[]);
        let ready = serde_json::json!({"Kind": "EXTERNAL", "CertificatesReady": "true"});
        assert!(
            !update_request("90", &ready)
                .run(&on_active)
                .await
                .unwrap()
                .initialize
        );
        let initialized = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(described(ClusterState::Initialized, "90"))
                .build()
        });
        // A second try after a failed activation: initialized already, nothing to check.
        let ctx = ctx(&[&initialized], &[], &[]);
        assert!(
            update_request("90", &ready)
                .run(&ctx)
                .await
                .unwrap()
                .initialize
        );
        let waiting = serde_json::json!({"Kind": "EXTERNAL"});
        assert!(
            !update_request("90", &waiting)
                .run(&ctx)
                .await
                .unwrap()
                .initialize
        );
    }
}
