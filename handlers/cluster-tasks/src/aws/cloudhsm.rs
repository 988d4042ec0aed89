//! CloudHSM calls: every request the steps make to CloudHSM goes through
//! here, with the error sentence for each.

use aws_sdk_cloudhsmv2::Client;
use aws_sdk_cloudhsmv2::types::{
    BackupRetentionPolicy, BackupRetentionType, Cluster, ClusterMode, ClusterState, NetworkType,
    Tag,
};
use handler_core::HandlerError;

use crate::props::ClusterProps;
use crate::view::{ClusterView, HsmView};

/// The tag that ties a cluster to the CloudFormation request that created
/// it, so that a redelivered create finds its cluster instead of making a
/// second one.
pub const REQUEST_TAG: &str = "cdk-cloudhsm:request-id";
/// The stack that owns a cluster (CloudFormation's `StackId`). The tasks
/// function's role may change only clusters carrying its stack's id.
pub const STACK_TAG: &str = "cdk-cloudhsm:stack-id";
/// The custom resource that owns a cluster, in its stack.
pub const LOGICAL_ID_TAG: &str = "cdk-cloudhsm:logical-id";

/// Who made a cluster: the request, and the stack and resource it belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    pub request_id: &'a str,
    pub stack_id: &'a str,
    pub logical_id: &'a str,
}

impl Owner<'_> {
    fn tags(&self) -> Result<Vec<Tag>, HandlerError> {
        [
            (REQUEST_TAG, self.request_id),
            (STACK_TAG, self.stack_id),
            (LOGICAL_ID_TAG, self.logical_id),
        ]
        .into_iter()
        .map(|(key, value)| {
            Tag::builder()
                .key(key)
                .value(value)
                .build()
                .map_err(|e| HandlerError::Internal(format!("tag: {e}")))
        })
        .collect()
    }
}

fn sdk_error<E, R>(
    operation: &'static str,
    cluster: &str,
    advice: &str,
    e: &aws_sdk_cloudhsmv2::error::SdkError<E, R>,
) -> HandlerError
where
    E: aws_sdk_cloudhsmv2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    HandlerError::from_sdk(operation, format!("cluster {cluster}"), advice, e)
}

/// The cluster, or `None` once it is gone.
pub async fn find(client: &Client, cluster_id: &str) -> Result<Option<Cluster>, HandlerError> {
    let output = client
        .describe_clusters()
        .filters("clusterIds", vec![cluster_id.to_owned()])
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                "DescribeClusters",
                cluster_id,
                "Check the function's permissions",
                &e,
            )
        })?;
    Ok(output
        .clusters()
        .iter()
        .find(|c| c.cluster_id() == Some(cluster_id))
        .cloned())
}

/// The cluster; its absence is an error.
pub async fn describe(client: &Client, cluster_id: &str) -> Result<Cluster, HandlerError> {
    find(client, cluster_id)
        .await?
        .ok_or_else(|| gone(cluster_id))
}

/// The error for a cluster that should exist and does not.
#[must_use]
pub fn gone(cluster_id: &str) -> HandlerError {
    HandlerError::PreconditionFailed(format!(
        "cluster {cluster_id} does not exist any more: it was deleted outside this stack"
    ))
}

/// The live cluster a request created, if a previous attempt got that far.
async fn created_by(client: &Client, request_id: &str) -> Result<Option<Cluster>, HandlerError> {
    tagged(client, &[(REQUEST_TAG, request_id)]).await
}

/// The live cluster that the resource `logical_id` of the stack `stack_id`
/// created, found by its tags: for a delete whose physical id is not the
/// cluster's (CloudFormation generated it for a create it cancelled).
pub async fn owned_by(
    client: &Client,
    stack_id: &str,
    logical_id: &str,
) -> Result<Option<Cluster>, HandlerError> {
    tagged(
        client,
        &[(STACK_TAG, stack_id), (LOGICAL_ID_TAG, logical_id)],
    )
    .await
}

/// The first cluster not DELETED that carries every one of these tags.
async fn tagged(client: &Client, tags: &[(&str, &str)]) -> Result<Option<Cluster>, HandlerError> {
    let mut pages = client.describe_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            HandlerError::from_sdk(
                "DescribeClusters",
                "the account's clusters",
                "Check the function's permissions",
                &e,
            )
        })?;
        let found = page.clusters().iter().find(|c| {
            c.state().is_none_or(|s| s.as_str() != "DELETED")
                && tags.iter().all(|(key, value)| {
                    c.tag_list()
                        .iter()
                        .any(|t| t.key() == *key && t.value() == *value)
                })
        });
        if let Some(cluster) = found {
            return Ok(Some(cluster.clone()));
        }
    }
    Ok(None)
}

/// Creates the cluster for a Create request, or returns the one an earlier
/// delivery of the same request created.
pub async fn create(
    client: &Client,
    props: &ClusterProps,
    owner: Owner<'_>,
) -> Result<ClusterView, HandlerError> {
    if let Some(existing) = created_by(client, owner.request_id).await? {
        tracing::info!(
            cluster_id = existing.cluster_id(),
            "cluster already created for this request"
        );
        return Ok(ClusterView::from(&existing));
    }
    let retention = BackupRetentionPolicy::builder()
        .r#type(BackupRetentionType::Days)
        .value(props.backup_retention_days.to_string())
        .build();
    let output = client
        .create_cluster()
        .hsm_type(&props.hsm_type)
        .set_subnet_ids(Some(props.subnet_ids.clone()))
        .set_source_backup_id(props.source_backup_id.clone())
        .mode(ClusterMode::from(props.mode.as_str()))
        .network_type(NetworkType::from(props.network_type.as_str()))
        .backup_retention_policy(retention)
        .set_tag_list(Some(owner.tags()?))
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "CreateCluster",
                format!("subnets {}", props.subnet_ids.join(", ")),
                "Check the subnets (one per Availability Zone, in one VPC, in zones where CloudHSM is \
                 offered), the HSM type and mode, and the account's cluster quota",
                &e,
            )
        })?;
    let cluster = output
        .cluster()
        .ok_or_else(|| HandlerError::Internal("CreateCluster returned no cluster".into()))?;
    Ok(ClusterView::from(cluster))
}

/// Creates an HSM in an Availability Zone of the cluster.
pub async fn create_hsm(
    client: &Client,
    cluster_id: &str,
    availability_zone: &str,
) -> Result<HsmView, HandlerError> {
    create_hsm_at(client, cluster_id, availability_zone, None)
        .await
        .map_err(|(e, _)| e)
}

/// Creates an HSM in an Availability Zone of the cluster, at an IP address
/// of its subnet if given. On failure: the error, and, when CloudHSM
/// refused the request as invalid (an address taken or outside the
/// subnet), its message.
pub async fn create_hsm_at(
    client: &Client,
    cluster_id: &str,
    availability_zone: &str,
    ip_address: Option<&str>,
) -> Result<HsmView, (HandlerError, Option<String>)> {
    let output = client
        .create_hsm()
        .cluster_id(cluster_id)
        .availability_zone(availability_zone)
        .set_ip_address(ip_address.map(str::to_owned))
        .send()
        .await
        .map_err(|e| {
            use aws_sdk_cloudhsmv2::error::ProvideErrorMetadata;
            let refused = e
                .as_service_error()
                .filter(|s| s.is_cloud_hsm_invalid_request_exception())
                .map(|s| s.message().unwrap_or_default().to_owned());
            let error = sdk_error(
                "CreateHsm",
                cluster_id,
                "If the HSM quota is reached, delete unused HSMs or ask AWS for a higher quota",
                &e,
            );
            (error, refused)
        })?;
    let hsm = output.hsm().ok_or_else(|| {
        (
            HandlerError::Internal("CreateHsm returned no HSM".into()),
            None,
        )
    })?;
    Ok(HsmView::from(hsm))
}

/// Deletes an HSM.
pub async fn delete_hsm(
    client: &Client,
    cluster_id: &str,
    hsm_id: &str,
) -> Result<(), HandlerError> {
    client
        .delete_hsm()
        .cluster_id(cluster_id)
        .hsm_id(hsm_id)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "DeleteHsm",
                format!("HSM {hsm_id} of cluster {cluster_id}"),
                "Retry the operation",
                &e,
            )
        })?;
    Ok(())
}

/// Deletes the cluster; it must have no HSM left.
pub async fn delete_cluster(client: &Client, cluster_id: &str) -> Result<(), HandlerError> {
    client
        .delete_cluster()
        .cluster_id(cluster_id)
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                "DeleteCluster",
                cluster_id,
                "A cluster can be deleted only once it has no HSM left",
                &e,
            )
        })?;
    Ok(())
}

/// The prefix of the cluster tags that remember, per subnet, the IP
/// addresses of HSMs a resize deleted: `cdk-cloudhsm:hsm-ips:<subnet>` =
/// addresses separated by spaces (tag values allow no commas).
pub const HSM_IPS_TAG_PREFIX: &str = "cdk-cloudhsm:hsm-ips:";

/// The longest tag value AWS takes.
const TAG_VALUE_MAX: usize = 256;

/// The IP addresses remembered for each subnet, most recent first.
#[must_use]
pub fn remembered_ips(cluster: &Cluster) -> std::collections::BTreeMap<String, Vec<String>> {
    cluster
        .tag_list()
        .iter()
        .filter_map(|t| {
            let subnet = t.key().strip_prefix(HSM_IPS_TAG_PREFIX)?;
            let ips = t.value().split_whitespace().map(str::to_owned).collect();
            Some((subnet.to_owned(), ips))
        })
        .collect()
}

/// Remembers `ips` for `subnet`, before those already remembered (the
/// oldest are dropped when the tag would grow past AWS's limit).
pub async fn remember_ips(
    client: &Client,
    cluster: &Cluster,
    subnet: &str,
    ips: &[String],
) -> Result<(), HandlerError> {
    let cluster_id = cluster.cluster_id().unwrap_or_default();
    let known = remembered_ips(cluster).remove(subnet).unwrap_or_default();
    let mut value = String::new();
    for ip in ips.iter().chain(known.iter()) {
        if value.split(' ').any(|v| v == ip) {
            continue;
        }
        if value.len() + ip.len() + 1 > TAG_VALUE_MAX {
            break;
        }
        if !value.is_empty() {
            value.push(' ');
        }
        value.push_str(ip);
    }
    let tag = Tag::builder()
        .key(format!("{HSM_IPS_TAG_PREFIX}{subnet}"))
        .value(value)
        .build()
        .map_err(|e| HandlerError::Internal(format!("tag: {e}")))?;
    client
        .tag_resource()
        .resource_id(cluster_id)
        .tag_list(tag)
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                "TagResource",
                cluster_id,
                "Check the function's permissions",
                &e,
            )
        })?;
    Ok(())
}

/// The cluster's backup retention in days, when AWS says.
#[must_use]
pub fn retention_days_of(cluster: &Cluster) -> Option<u32> {
    cluster
        .backup_retention_policy()
        .and_then(BackupRetentionPolicy::value)
        .and_then(|v| v.trim().parse().ok())
}

/// Changes how long AWS keeps the cluster's backups.
pub async fn modify_backup_retention(
    client: &Client,
    cluster_id: &str,
    days: u32,
) -> Result<(), HandlerError> {
    let retention = BackupRetentionPolicy::builder()
        .r#type(BackupRetentionType::Days)
        .value(days.to_string())
        .build();
    client
        .modify_cluster()
        .cluster_id(cluster_id)
        .backup_retention_policy(retention)
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                "ModifyCluster",
                cluster_id,
                "Backup retention must be 7 to 379 days; check the function's permissions",
                &e,
            )
        })?;
    Ok(())
}

/// Initializes the cluster with its certificate and trust anchor.
pub async fn initialize(
    client: &Client,
    cluster_id: &str,
    certificate: &str,
    trust_anchor: &str,
) -> Result<(), HandlerError> {
    client
        .initialize_cluster()
        .cluster_id(cluster_id)
        .signed_cert(certificate)
        .trust_anchor(trust_anchor)
        .send()
        .await
        .map_err(|e| {
            sdk_error(
                "InitializeCluster",
                cluster_id,
                "Check that the certificate was issued for the cluster's current CSR by the given root CA",
                &e,
            )
        })?;
    Ok(())
}

/// The cluster a backup was taken of; empty when AWS does not say.
pub async fn source_cluster_of_backup(
    client: &Client,
    backup_id: &str,
) -> Result<String, HandlerError> {
    let backups = client
        .describe_backups()
        .filters("backupIds", vec![backup_id.to_owned()])
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "DescribeBackups",
                format!("backup {backup_id}"),
                "Check the backup id",
                &e,
            )
        })?;
    Ok(backups
        .backups()
        .iter()
        .find_map(|b| b.cluster_id())
        .unwrap_or_default()
        .to_owned())
}

/// The state of a cluster, `None` when AWS gives none.
#[must_use]
pub fn state_of(cluster: &Cluster) -> Option<&str> {
    cluster.state().map(ClusterState::as_str)
}
