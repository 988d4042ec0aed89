//! The workflow steps, one `Action` each: what a Step Functions task sends
//! and what it gets back. The construct's state machines are the only
//! callers; their payloads are built in `construct/src/private/workflows/`.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_cloudhsmv2::primitives::{DateTime, DateTimeFormat};
use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{self, CommandProgress};
use crate::cluster::{self, ClusterView, Expect};
use crate::pki;
use crate::props::{ClusterProps, Pki, PkiKind};
use crate::secrets;

/// The AWS clients the steps use, built once per process.
#[derive(Debug, Clone)]
pub struct Clients {
    /// CloudHSM.
    pub hsm: aws_sdk_cloudhsmv2::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
    /// AWS Private CA.
    pub pca: aws_sdk_acmpca::Client,
    /// Systems Manager.
    pub ssm: aws_sdk_ssm::Client,
}

/// One step of a workflow.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Action", rename_all_fields = "PascalCase")]
pub enum Action {
    /// Checks the properties and creates the cluster (or finds the one an
    /// earlier delivery of the request created).
    CreateCluster {
        /// The CloudFormation request.
        request: CfnRequest,
    },
    /// Reports whether the cluster reached a state; fails when it never
    /// will, or when the wait has lasted longer than AWS documents.
    AwaitCluster {
        /// The cluster.
        cluster_id: String,
        /// What to wait for.
        expect: Expect,
        /// When the wait began (Step Functions' `$$.State.EnteredTime`).
        since: String,
        /// How long the wait may last.
        timeout_minutes: u64,
        /// A cluster that no longer exists counts as reached (for deletes).
        #[serde(default)]
        missing_ok: bool,
    },
    /// Checks that an update changes nothing a cluster cannot change, and
    /// reads the cluster for the attributes.
    CheckUpdate {
        /// The CloudFormation request.
        request: CfnRequest,
    },
    /// Creates the first HSM, in the zone of the first subnet, unless the
    /// cluster has one.
    CreateFirstHsm {
        /// The cluster.
        cluster_id: String,
        /// The cluster's subnets, in the order of the properties.
        subnet_ids: Vec<String>,
    },
    /// Copies the cluster CSR into its secret.
    PublishCsr {
        /// The cluster.
        cluster_id: String,
        /// The CSR secret.
        csr_secret_arn: String,
    },
    /// Issues the cluster certificate with the chosen PKI and stores it
    /// with the CA certificate.
    IssueCertificate {
        /// The cluster.
        cluster_id: String,
        /// Who issues it.
        pki: Pki,
        /// Where the CA certificate (trust anchor) goes.
        ca_certificate_secret_arn: String,
        /// Where the cluster certificate goes.
        cluster_certificate_secret_arn: String,
    },
    /// Checks the certificates against the cluster's current CSR and
    /// initializes the cluster with them.
    InitializeCluster {
        /// The cluster.
        cluster_id: String,
        /// The CA certificate.
        ca_certificate_secret_arn: String,
        /// The cluster certificate.
        cluster_certificate_secret_arn: String,
    },
    /// Copies the CA certificate of the cluster a backup came from into the
    /// restored cluster's CA certificate secret.
    CarryCaCertificate {
        /// The restored cluster.
        cluster_id: String,
        /// The backup it was restored from.
        source_backup_id: String,
        /// Where the CA certificate goes.
        ca_certificate_secret_arn: String,
    },
    /// Runs a construct document on the management client: sends it, then
    /// reports its progress on each later call.
    ClientCommand {
        /// The management client.
        instance_id: String,
        /// The SSM document.
        document_name: String,
        /// Its parameters: ids and ARNs, never secret values.
        #[serde(default)]
        parameters: HashMap<String, String>,
        /// Empty until the command is sent.
        #[serde(default)]
        command_id: String,
        /// What the command does, for messages.
        what: String,
        /// When the step began.
        since: String,
        /// How long it may take, boot of the client included.
        timeout_minutes: u64,
    },
    /// Deletes the cluster once it has no HSM left; succeeds when it is
    /// gone already. Returns whether it is gone.
    DeleteCluster {
        /// The cluster.
        cluster_id: String,
    },
    /// Creates and deletes HSMs until every subnet has `hsms_per_subnet`.
    ResizeHsms {
        /// The cluster.
        cluster_id: String,
        /// The cluster's subnets.
        subnet_ids: Vec<String>,
        /// HSMs wanted in each.
        #[serde(deserialize_with = "crate::props::number")]
        hsms_per_subnet: u32,
        /// A cluster that no longer exists needs no resize (for deletes).
        #[serde(default)]
        missing_ok: bool,
    },
}

/// Runs one step.
// One arm per action, each a single call: long only because of the field lists.
#[allow(clippy::too_many_lines)]
pub async fn handle(action: Action, clients: &Clients) -> Result<Value, HandlerError> {
    match action {
        Action::CreateCluster { request } => create_cluster(&request, clients).await,
        Action::AwaitCluster {
            cluster_id,
            expect,
            since,
            timeout_minutes,
            missing_ok,
        } => {
            await_cluster(
                clients,
                &cluster_id,
                expect,
                &since,
                timeout_minutes,
                missing_ok,
            )
            .await
        }
        Action::CheckUpdate { request } => check_update(clients, &request).await,
        Action::CreateFirstHsm {
            cluster_id,
            subnet_ids,
        } => create_first_hsm(clients, &cluster_id, &subnet_ids).await,
        Action::PublishCsr {
            cluster_id,
            csr_secret_arn,
        } => publish_csr(clients, &cluster_id, &csr_secret_arn).await,
        Action::IssueCertificate {
            cluster_id,
            pki,
            ca_certificate_secret_arn,
            cluster_certificate_secret_arn,
        } => {
            issue_certificate(
                clients,
                &cluster_id,
                &pki,
                &ca_certificate_secret_arn,
                &cluster_certificate_secret_arn,
            )
            .await
        }
        Action::InitializeCluster {
            cluster_id,
            ca_certificate_secret_arn,
            cluster_certificate_secret_arn,
        } => {
            initialize(
                clients,
                &cluster_id,
                &ca_certificate_secret_arn,
                &cluster_certificate_secret_arn,
            )
            .await
        }
        Action::ClientCommand {
            instance_id,
            document_name,
            parameters,
            command_id,
            what,
            since,
            timeout_minutes,
        } => {
            let command = ClientJob {
                instance_id,
                document_name,
                parameters,
                command_id,
                what,
            };
            client_command(clients, &command, &since, timeout_minutes).await
        }
        Action::DeleteCluster { cluster_id } => delete_cluster(clients, &cluster_id).await,
        Action::CarryCaCertificate {
            cluster_id,
            source_backup_id,
            ca_certificate_secret_arn,
        } => {
            carry_ca_certificate(
                clients,
                &cluster_id,
                &source_backup_id,
                &ca_certificate_secret_arn,
            )
            .await
        }
        Action::ResizeHsms {
            cluster_id,
            subnet_ids,
            hsms_per_subnet,
            missing_ok,
        } => {
            resize(
                clients,
                &cluster_id,
                &subnet_ids,
                hsms_per_subnet,
                missing_ok,
            )
            .await
        }
    }
}

async fn await_cluster(
    clients: &Clients,
    cluster_id: &str,
    expect: Expect,
    since: &str,
    timeout_minutes: u64,
    missing_ok: bool,
) -> Result<Value, HandlerError> {
    let Some(found) = cluster::find(&clients.hsm, cluster_id).await? else {
        if missing_ok {
            return Ok(json!({ "Ready": true }));
        }
        return Err(HandlerError::PreconditionFailed(format!(
            "cluster {cluster_id} does not exist any more: it was deleted outside this stack"
        )));
    };
    let view = ClusterView::from(&found);
    let ready = cluster::reached(&view, expect)?;
    if !ready && elapsed_minutes(since)? >= timeout_minutes {
        return Err(cluster::timed_out(&view, expect, timeout_minutes));
    }
    Ok(with_attributes(ready, &view))
}

async fn create_first_hsm(
    clients: &Clients,
    cluster_id: &str,
    subnet_ids: &[String],
) -> Result<Value, HandlerError> {
    let view = ClusterView::from(&cluster::describe(&clients.hsm, cluster_id).await?);
    if view.hsms.is_empty() {
        let subnet_id = subnet_ids.first().map(String::as_str).unwrap_or_default();
        let zone = view.zone_of(subnet_id).ok_or_else(|| {
            HandlerError::Internal(format!(
                "subnet {subnet_id} is not one of cluster {cluster_id}'s"
            ))
        })?;
        let hsm = cluster::create_hsm(&clients.hsm, cluster_id, zone).await?;
        tracing::info!(hsm_id = %hsm.hsm_id, zone, "first HSM requested");
    }
    Ok(json!({}))
}

/// A command for the management client.
struct ClientJob {
    instance_id: String,
    document_name: String,
    parameters: HashMap<String, String>,
    command_id: String,
    what: String,
}

async fn client_command(
    clients: &Clients,
    command: &ClientJob,
    since: &str,
    timeout_minutes: u64,
) -> Result<Value, HandlerError> {
    let progress = if command.command_id.is_empty() {
        client::send(
            &clients.ssm,
            &command.instance_id,
            &command.document_name,
            &command.parameters,
        )
        .await?
    } else {
        client::poll(
            &clients.ssm,
            &command.instance_id,
            &command.command_id,
            &command.what,
        )
        .await?
    };
    if !progress.ready && elapsed_minutes(since)? >= timeout_minutes {
        return Err(command_timed_out(
            &progress,
            &command.instance_id,
            &command.what,
            timeout_minutes,
        ));
    }
    Ok(serde_json::to_value(progress).unwrap_or_default())
}

/// A wait result with the attributes the resources expose.
fn with_attributes(ready: bool, view: &ClusterView) -> Value {
    json!({
        "Ready": ready,
        "Cluster": view,
        "HsmIpAddresses": view.active_ips().join(","),
        // The first ACTIVE HSM, for the client to connect to.
        "HsmIp": view.active_ips().first().cloned().unwrap_or_default(),
        "HsmIds": view.hsms.iter().map(|h| h.hsm_id.as_str()).collect::<Vec<_>>().join(","),
    })
}

async fn check_update(clients: &Clients, request: &CfnRequest) -> Result<Value, HandlerError> {
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
                 settings (sourceBackupId), or revert the change",
                changed.join(", ")
            ),
        });
    }
    let cluster_id = request.physical_resource_id.as_deref().unwrap_or_default();
    let view = ClusterView::from(&cluster::describe(&clients.hsm, cluster_id).await?);
    Ok(with_attributes(true, &view))
}

async fn publish_csr(
    clients: &Clients,
    cluster_id: &str,
    csr_secret: &str,
) -> Result<Value, HandlerError> {
    let csr = current_csr(clients, cluster_id).await?;
    secrets::write(&clients.secrets, csr_secret, "cluster CSR", &csr).await?;
    Ok(json!({}))
}

async fn carry_ca_certificate(
    clients: &Clients,
    cluster_id: &str,
    backup_id: &str,
    ca_secret: &str,
) -> Result<Value, HandlerError> {
    let backups = clients
        .hsm
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
    let source = backups
        .backups()
        .iter()
        .find_map(|b| b.cluster_id())
        .unwrap_or_default()
        .to_owned();
    let found = if source.is_empty() {
        None
    } else {
        secrets::find_for_cluster(&clients.secrets, &source).await?
    };
    let Some((from, certificate)) = found else {
        tracing::warn!(
            backup_id,
            source,
            "no CA certificate secret of the source cluster was found"
        );
        return Ok(json!({ "Carried": false, "SourceClusterId": source }));
    };
    secrets::write(&clients.secrets, ca_secret, "CA certificate", &certificate).await?;
    secrets::tag_cluster(&clients.secrets, ca_secret, cluster_id).await?;
    Ok(json!({ "Carried": true, "SourceClusterId": source, "From": from }))
}

async fn delete_cluster(clients: &Clients, cluster_id: &str) -> Result<Value, HandlerError> {
    let Some(found) = cluster::find(&clients.hsm, cluster_id).await? else {
        return Ok(json!({ "Ready": true }));
    };
    match found
        .state()
        .map(aws_sdk_cloudhsmv2::types::ClusterState::as_str)
    {
        Some("DELETED") => return Ok(json!({ "Ready": true })),
        Some("DELETE_IN_PROGRESS") => return Ok(json!({ "Ready": false })),
        _ => {}
    }
    clients
        .hsm
        .delete_cluster()
        .cluster_id(cluster_id)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "DeleteCluster",
                format!("cluster {cluster_id}"),
                "A cluster can be deleted only once it has no HSM left",
                &e,
            )
        })?;
    Ok(json!({ "Ready": false }))
}

async fn issue_certificate(
    clients: &Clients,
    cluster_id: &str,
    pki: &Pki,
    ca_secret: &str,
    cert_secret: &str,
) -> Result<Value, HandlerError> {
    let csr = current_csr(clients, cluster_id).await?;
    let issued = match (pki.kind, pki.certificate_authority_arn.as_deref()) {
        (PkiKind::EphemeralCa, _) => pki::sign_with_ephemeral_ca(cluster_id, &csr)?,
        (PkiKind::PrivateCa | PkiKind::CertificateAuthority, Some(ca)) => {
            issue_with_private_ca(&clients.pca, ca, cluster_id, &csr).await?
        }
        (kind, _) => {
            return Err(HandlerError::Internal(format!(
                "IssueCertificate cannot issue with PKI {kind:?}"
            )));
        }
    };
    secrets::write(
        &clients.secrets,
        ca_secret,
        "CA certificate",
        &issued.ca_certificate,
    )
    .await?;
    secrets::write(
        &clients.secrets,
        cert_secret,
        "cluster certificate",
        &issued.cluster_certificate,
    )
    .await?;
    Ok(json!({}))
}

async fn create_cluster(request: &CfnRequest, clients: &Clients) -> Result<Value, HandlerError> {
    let resource = request.display_name();
    let props = ClusterProps::parse(&request.resource_properties, &resource)?;
    if props.hsms_per_subnet == 0 {
        return Err(HandlerError::InvalidProperties {
            resource,
            reason: "hsmsPerSubnet is 0, but a new cluster needs an HSM to be initialized and activated. \
                     Create it with hsmsPerSubnet 1 or more; set 0 on a later update to keep the cluster \
                     without paying for HSMs"
                .into(),
        });
    }
    let view = cluster::create(&clients.hsm, &props, &request.request_id).await?;
    Ok(json!({ "ClusterId": view.cluster_id, "Cluster": view, "Props": props }))
}

/// The cluster's CSR as `DescribeClusters` shows it now.
async fn current_csr(clients: &Clients, cluster_id: &str) -> Result<String, HandlerError> {
    let found = cluster::describe(&clients.hsm, cluster_id).await?;
    found
        .certificates()
        .and_then(|c| c.cluster_csr())
        .filter(|csr| !csr.trim().is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            HandlerError::CsrChanged(format!(
                "cluster {cluster_id} has no CSR now: AWS replaced its first HSM, whose new CSR appears \
                 once the new HSM is ACTIVE"
            ))
        })
}

async fn initialize(
    clients: &Clients,
    cluster_id: &str,
    ca_secret: &str,
    cert_secret: &str,
) -> Result<Value, HandlerError> {
    let found = cluster::describe(&clients.hsm, cluster_id).await?;
    let state = found
        .state()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if state != "UNINITIALIZED" {
        tracing::info!(%state, "the cluster is initialized already");
        return Ok(json!({}));
    }
    let missing = |what: &str, arn: &str| {
        HandlerError::PreconditionFailed(format!(
            "the {what} secret {arn} holds no PEM certificate yet: put the {what} there, then update the stack"
        ))
    };
    let ca = secrets::read(&clients.secrets, ca_secret, "CA certificate")
        .await?
        .ok_or_else(|| missing("CA certificate", ca_secret))?;
    let cert = secrets::read(&clients.secrets, cert_secret, "cluster certificate")
        .await?
        .ok_or_else(|| missing("cluster certificate", cert_secret))?;
    let csr = current_csr(clients, cluster_id).await?;
    pki::check_pair(cluster_id, &csr, &cert, &ca)?;
    clients
        .hsm
        .initialize_cluster()
        .cluster_id(cluster_id)
        .signed_cert(cert)
        .trust_anchor(ca)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "InitializeCluster",
                format!("cluster {cluster_id}"),
                "Check that the certificate was issued for the cluster's current CSR by the given root CA",
                &e,
            )
        })?;
    // A cluster restored from this one's backups will look for it by this tag.
    secrets::tag_cluster(&clients.secrets, ca_secret, cluster_id).await?;
    Ok(json!({}))
}

/// Issues the cluster certificate with AWS Private CA and waits the few
/// seconds it takes to be retrievable.
async fn issue_with_private_ca(
    pca: &aws_sdk_acmpca::Client,
    ca_arn: &str,
    cluster_id: &str,
    csr: &str,
) -> Result<pki::IssuedCertificate, HandlerError> {
    use aws_sdk_acmpca::primitives::Blob;
    use aws_sdk_acmpca::types::{SigningAlgorithm, Validity, ValidityPeriodType};
    let resource = format!("private CA {ca_arn}");
    let validity = Validity::builder()
        .r#type(ValidityPeriodType::Years)
        .value(5)
        .build()
        .map_err(|e| HandlerError::Internal(format!("validity: {e}")))?;
    let issued = pca
        .issue_certificate()
        .certificate_authority_arn(ca_arn)
        .csr(Blob::new(csr.as_bytes()))
        .signing_algorithm(SigningAlgorithm::Sha256Withrsa)
        .validity(validity)
        .idempotency_token(cluster_id.replace('-', ""))
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "IssueCertificate",
                &resource,
                "Check that the CA is ACTIVE and a root CA",
                &e,
            )
        })?;
    let certificate_arn = issued
        .certificate_arn()
        .ok_or_else(|| HandlerError::Internal("IssueCertificate returned no ARN".into()))?;
    for _ in 0..30 {
        match pca
            .get_certificate()
            .certificate_authority_arn(ca_arn)
            .certificate_arn(certificate_arn)
            .send()
            .await
        {
            Ok(output) => {
                let chain = output.certificate_chain().unwrap_or_default();
                // The trust anchor is the root: the last certificate of the chain.
                let root = chain
                    .split_inclusive("-----END CERTIFICATE-----")
                    .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
                    .last()
                    .map(|block| block.trim().to_owned())
                    .ok_or_else(|| {
                        HandlerError::PreconditionFailed(format!(
                            "{resource} returned no CA certificate chain for {certificate_arn}"
                        ))
                    })?;
                return Ok(pki::IssuedCertificate {
                    cluster_certificate: output.certificate().unwrap_or_default().to_owned(),
                    ca_certificate: root,
                });
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_acmpca::operation::get_certificate::GetCertificateError::is_request_in_progress_exception) =>
            {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                return Err(HandlerError::from_sdk(
                    "GetCertificate",
                    &resource,
                    "Check the CA's state",
                    &e,
                ));
            }
        }
    }
    Err(HandlerError::Transient(format!(
        "{resource} did not issue {certificate_arn} within 30 s"
    )))
}

async fn resize(
    clients: &Clients,
    cluster_id: &str,
    subnet_ids: &[String],
    per_subnet: u32,
    missing_ok: bool,
) -> Result<Value, HandlerError> {
    let found = match cluster::find(&clients.hsm, cluster_id).await? {
        Some(found) => found,
        None if missing_ok => return Ok(json!({ "Created": 0, "Deleted": 0 })),
        None => cluster::describe(&clients.hsm, cluster_id).await?,
    };
    let view = ClusterView::from(&found);
    let plan = plan_resize(&view, subnet_ids, per_subnet)?;
    if !plan.create_in.is_empty() && view.state == "UNINITIALIZED" {
        // An external PKI has not answered yet: HSMs come once the cluster
        // is initialized and activated.
        tracing::info!(
            cluster_id,
            "the cluster is not initialized yet: no HSM is added"
        );
        return Ok(json!({ "Created": 0, "Deleted": 0, "Waiting": "cluster initialization" }));
    }
    for zone in &plan.create_in {
        cluster::create_hsm(&clients.hsm, cluster_id, zone).await?;
    }
    for hsm_id in &plan.delete {
        clients
            .hsm
            .delete_hsm()
            .cluster_id(cluster_id)
            .hsm_id(hsm_id)
            .send()
            .await
            .map_err(|e| {
                HandlerError::from_sdk(
                    "DeleteHsm",
                    format!("HSM {hsm_id} of cluster {cluster_id}"),
                    "Retry the update",
                    &e,
                )
            })?;
    }
    Ok(json!({ "Created": plan.create_in.len(), "Deleted": plan.delete.len() }))
}

/// What a resize does: zones to add an HSM in (one entry per HSM) and HSMs
/// to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResizePlan {
    /// One zone per HSM to create.
    pub create_in: Vec<String>,
    /// HSMs to delete, the last AWS lists in each zone first (the first
    /// HSM, which the client may point at, goes last).
    pub delete: Vec<String>,
}

/// Plans a resize: HSMs being deleted do not count.
pub fn plan_resize(
    view: &ClusterView,
    subnet_ids: &[String],
    per_subnet: u32,
) -> Result<ResizePlan, HandlerError> {
    let wanted = per_subnet as usize;
    let mut plan = ResizePlan {
        create_in: Vec::new(),
        delete: Vec::new(),
    };
    for subnet in subnet_ids {
        let zone = view.zone_of(subnet).ok_or_else(|| {
            HandlerError::PreconditionFailed(format!(
                "subnet {subnet} is not one of cluster {}'s subnets: a cluster's subnets cannot change; \
                 create a new cluster (from a backup) to move it",
                view.cluster_id
            ))
        })?;
        let live: Vec<_> = view
            .hsms
            .iter()
            .filter(|h| {
                h.availability_zone == zone
                    && !matches!(h.state.as_str(), "DELETE_IN_PROGRESS" | "DELETED")
            })
            .collect();
        plan.create_in.extend(std::iter::repeat_n(
            zone.to_owned(),
            wanted.saturating_sub(live.len()),
        ));
        plan.delete.extend(
            live.iter()
                .rev()
                .take(live.len().saturating_sub(wanted))
                .map(|h| h.hsm_id.clone()),
        );
    }
    Ok(plan)
}

fn command_timed_out(
    progress: &CommandProgress,
    instance_id: &str,
    what: &str,
    minutes: u64,
) -> HandlerError {
    if progress.command_id.is_empty() {
        HandlerError::PreconditionFailed(format!(
            "the management client {instance_id} did not register with Systems Manager within {minutes} minutes, \
             so {what} could not start. Check that its subnet reaches Systems Manager (NAT or VPC endpoints) and \
             look at its system log"
        ))
    } else {
        HandlerError::PreconditionFailed(format!(
            "{what} on the management client {instance_id} did not finish within {minutes} minutes (command {}). \
             See the command in Systems Manager Run Command",
            progress.command_id
        ))
    }
}

/// Whole minutes since an ISO 8601 time from Step Functions.
fn elapsed_minutes(since: &str) -> Result<u64, HandlerError> {
    let start = DateTime::from_str(since, DateTimeFormat::DateTimeWithOffset)
        .or_else(|_| DateTime::from_str(since, DateTimeFormat::DateTime))
        .map_err(|e| HandlerError::Internal(format!("'{since}' is not an ISO 8601 time: {e}")))?;
    let now = DateTime::from(std::time::SystemTime::now());
    Ok(u64::try_from((now.secs() - start.secs()).max(0)).unwrap_or_default() / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::HsmView;

    fn view(hsms: &[(&str, &str, &str)]) -> ClusterView {
        ClusterView {
            cluster_id: "cluster-abc".into(),
            state: "ACTIVE".into(),
            state_message: None,
            security_group_id: None,
            vpc_id: None,
            subnet_mapping: [("az-a", "subnet-a"), ("az-b", "subnet-b")]
                .iter()
                .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
                .collect(),
            hsms: hsms
                .iter()
                .map(|(id, az, state)| HsmView {
                    hsm_id: (*id).into(),
                    availability_zone: (*az).into(),
                    subnet_id: String::new(),
                    eni_ip: None,
                    state: (*state).into(),
                    state_message: None,
                })
                .collect(),
            has_csr: true,
        }
    }

    fn subnets() -> Vec<String> {
        vec!["subnet-a".into(), "subnet-b".into()]
    }

    #[test]
    fn growing_fills_each_zone_counting_the_first_hsm() {
        let plan = plan_resize(&view(&[("hsm-1", "az-a", "ACTIVE")]), &subnets(), 2).unwrap();
        assert_eq!(plan.create_in, ["az-a", "az-b", "az-b"]);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn shrinking_deletes_the_last_listed_and_ignores_hsms_already_going() {
        let v = view(&[
            ("hsm-1", "az-a", "ACTIVE"),
            ("hsm-2", "az-a", "ACTIVE"),
            ("hsm-3", "az-b", "ACTIVE"),
            ("hsm-4", "az-b", "DELETE_IN_PROGRESS"),
        ]);
        let plan = plan_resize(&v, &subnets(), 1).unwrap();
        assert!(plan.create_in.is_empty());
        assert_eq!(plan.delete, ["hsm-2"]);
        let to_zero = plan_resize(&v, &subnets(), 0).unwrap();
        assert_eq!(to_zero.delete, ["hsm-2", "hsm-1", "hsm-3"]);
    }

    #[test]
    fn a_subnet_outside_the_cluster_is_refused() {
        let err = plan_resize(&view(&[]), &["subnet-z".to_owned()], 1).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("subnet subnet-z is not one of cluster cluster-abc's subnets")
        );
    }

    #[test]
    fn actions_read_the_payloads_the_state_machines_send() {
        let action: Action = serde_json::from_value(json!({
            "Action": "AwaitCluster",
            "ClusterId": "cluster-abc",
            "Expect": "HSMS_ACTIVE",
            "Since": "2026-11-28T15:00:00.123Z",
            "TimeoutMinutes": 40
        }))
        .unwrap();
        assert!(matches!(
            action,
            Action::AwaitCluster {
                expect: Expect::HsmsActive,
                timeout_minutes: 40,
                ..
            }
        ));
        let action: Action = serde_json::from_value(json!({
            "Action": "ClientCommand",
            "InstanceId": "i-1",
            "DocumentName": "doc",
            "Parameters": {"ClusterId": "cluster-abc"},
            "CommandId": "",
            "What": "activating the cluster",
            "Since": "2026-11-28T15:00:00Z",
            "TimeoutMinutes": 20
        }))
        .unwrap();
        assert!(
            matches!(action, Action::ClientCommand { ref command_id, .. } if command_id.is_empty())
        );
    }

    #[test]
    fn elapsed_minutes_reads_step_functions_times() {
        assert!(elapsed_minutes("2020-01-01T00:00:00.000Z").unwrap() > 60 * 24 * 365);
        let now = DateTime::from(std::time::SystemTime::now())
            .fmt(DateTimeFormat::DateTime)
            .unwrap();
        assert_eq!(elapsed_minutes(&now).unwrap(), 0);
        assert!(elapsed_minutes("yesterday").is_err());
    }
}
