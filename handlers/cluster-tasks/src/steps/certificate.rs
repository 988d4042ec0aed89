//! Steps of the cluster certificate: publish the CSR, have it signed,
//! initialize the cluster with it, carry a CA certificate to a restored
//! cluster.

use handler_core::HandlerError;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use super::{Ctx, Done, Step};
use crate::aws::{cloudhsm, pca, secrets};
use crate::pki;
use crate::props::{Pki, PkiKind};

/// The cluster's CSR as `DescribeClusters` shows it now.
async fn current_csr(ctx: &Ctx, cluster_id: &str) -> Result<String, HandlerError> {
    let found = cloudhsm::describe(&ctx.clients.hsm, cluster_id).await?;
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

fn example_cluster_id() -> String {
    "cluster-abcdefghijk".into()
}

/// Copies the cluster CSR into its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PublishCsr {
    /// The cluster.
    pub cluster_id: String,
}

impl Example for PublishCsr {
    fn example() -> Self {
        Self {
            cluster_id: example_cluster_id(),
        }
    }
}

impl Step for PublishCsr {
    type Output = Done;
    const STARTS: Option<&'static str> = Some("publishing the cluster CSR");

    async fn run(self, ctx: &Ctx) -> Result<Done, HandlerError> {
        let csr = current_csr(ctx, &self.cluster_id).await?;
        secrets::write(
            &ctx.clients.secrets,
            &ctx.config.csr_secret_arn,
            "cluster CSR",
            &csr,
        )
        .await?;
        Ok(Done {})
    }
}

/// Issues the cluster certificate with the chosen PKI and stores it with
/// the CA certificate.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct IssueCertificate {
    /// The cluster.
    pub cluster_id: String,
    /// Who issues it.
    pub pki: Pki,
}

impl Example for IssueCertificate {
    fn example() -> Self {
        Self {
            cluster_id: example_cluster_id(),
            pki: Pki::example(),
        }
    }
}

impl Step for IssueCertificate {
    type Output = Done;
    const STARTS: Option<&'static str> = Some("issuing the cluster certificate");

    async fn run(self, ctx: &Ctx) -> Result<Done, HandlerError> {
        let cluster_id = &self.cluster_id;
        let csr = current_csr(ctx, cluster_id).await?;
        let issued = match (self.pki.kind, self.pki.certificate_authority_arn.as_deref()) {
            (PkiKind::EphemeralCa, _) => pki::sign_with_ephemeral_ca(cluster_id, &csr)?,
            (PkiKind::PrivateCa | PkiKind::CertificateAuthority, Some(ca)) => {
                pca::issue(&ctx.clients.pca, ca, cluster_id, &csr).await?
            }
            (kind, _) => {
                return Err(HandlerError::Internal(format!(
                    "IssueCertificate cannot issue with PKI {kind:?}"
                )));
            }
        };
        let config = &ctx.config;
        secrets::write(
            &ctx.clients.secrets,
            &config.ca_certificate_secret_arn,
            "CA certificate",
            &issued.ca_certificate,
        )
        .await?;
        secrets::write(
            &ctx.clients.secrets,
            &config.cluster_certificate_secret_arn,
            "cluster certificate",
            &issued.cluster_certificate,
        )
        .await?;
        Ok(Done {})
    }
}

/// Checks the certificates against the cluster's current CSR and
/// initializes the cluster with them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InitializeCluster {
    /// The cluster.
    pub cluster_id: String,
}

impl Example for InitializeCluster {
    fn example() -> Self {
        Self {
            cluster_id: example_cluster_id(),
        }
    }
}

impl Step for InitializeCluster {
    type Output = Done;
    const STARTS: Option<&'static str> = Some("initializing the cluster");

    async fn run(self, ctx: &Ctx) -> Result<Done, HandlerError> {
        let cluster_id = &self.cluster_id;
        let found = cloudhsm::describe(&ctx.clients.hsm, cluster_id).await?;
        let state = cloudhsm::state_of(&found).unwrap_or_default();
        if state != "UNINITIALIZED" {
            tracing::info!(%state, "the cluster is initialized already");
            return Ok(Done {});
        }
        let (ca_secret, cert_secret) = (
            &ctx.config.ca_certificate_secret_arn,
            &ctx.config.cluster_certificate_secret_arn,
        );
        let missing = |what: &str, arn: &str| {
            HandlerError::PreconditionFailed(format!(
                "the {what} secret {arn} holds no PEM certificate yet: put the {what} there, then update the stack"
            ))
        };
        let ca = secrets::read(&ctx.clients.secrets, ca_secret, "CA certificate")
            .await?
            .ok_or_else(|| missing("CA certificate", ca_secret))?;
        let cert = secrets::read(&ctx.clients.secrets, cert_secret, "cluster certificate")
            .await?
            .ok_or_else(|| missing("cluster certificate", cert_secret))?;
        let csr = current_csr(ctx, cluster_id).await?;
        pki::check_pair(cluster_id, &csr, &cert, &ca)?;
        cloudhsm::initialize(&ctx.clients.hsm, cluster_id, &cert, &ca).await?;
        // A cluster restored from this one's backups will look for it by this tag.
        secrets::tag_cluster(&ctx.clients.secrets, ca_secret, cluster_id).await?;
        Ok(Done {})
    }
}

/// Copies the CA certificate of the cluster a backup came from into the
/// restored cluster's CA certificate secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CarryCaCertificate {
    /// The restored cluster.
    pub cluster_id: String,
    /// The backup it was restored from.
    pub source_backup_id: String,
}

impl Example for CarryCaCertificate {
    fn example() -> Self {
        Self {
            cluster_id: example_cluster_id(),
            source_backup_id: "backup-abcdefghijk".into(),
        }
    }
}

/// Whether the CA certificate was found and carried over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CaCarried {
    /// Whether it was.
    pub carried: bool,
    /// The cluster the backup was taken of.
    pub source_cluster_id: String,
    /// The secret it was copied from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl Example for CaCarried {
    const OPTIONAL: &'static [&'static str] = &["From"];

    fn example() -> Self {
        Self {
            carried: true,
            source_cluster_id: "cluster-source12345".into(),
            from: Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:ca-AbCdEf".into()),
        }
    }
}

impl Step for CarryCaCertificate {
    type Output = CaCarried;
    const STARTS: Option<&'static str> = Some("carrying the CA certificate over");

    async fn run(self, ctx: &Ctx) -> Result<CaCarried, HandlerError> {
        let backup_id = &self.source_backup_id;
        let source = cloudhsm::source_cluster_of_backup(&ctx.clients.hsm, backup_id).await?;
        let found = if source.is_empty() {
            None
        } else {
            secrets::find_for_cluster(&ctx.clients.secrets, &source).await?
        };
        let Some((from, certificate)) = found else {
            return Err(ca_not_found(backup_id, &source));
        };
        let ca_secret = &ctx.config.ca_certificate_secret_arn;
        secrets::write(
            &ctx.clients.secrets,
            ca_secret,
            "CA certificate",
            &certificate,
        )
        .await?;
        secrets::tag_cluster(&ctx.clients.secrets, ca_secret, &self.cluster_id).await?;
        Ok(CaCarried {
            carried: true,
            source_cluster_id: source,
            from: Some(from),
        })
    }
}

/// Why a restore cannot go on without the CA certificate, and what to provide.
/// The management client checks the HSMs against it (its `customerCA.crt`):
/// without it no command reaches the restored cluster.
fn ca_not_found(backup_id: &str, source: &str) -> HandlerError {
    let tag = secrets::CLUSTER_TAG;
    if source.is_empty() {
        return HandlerError::PreconditionFailed(format!(
            "backup {backup_id} names no source cluster, so the CA certificate that issued its cluster \
             certificate cannot be found; the management client needs it to reach the restored HSMs. \
             Restore a backup that DescribeBackups lists with its cluster id"
        ));
    }
    HandlerError::PreconditionFailed(format!(
        "the CA certificate of cluster {source} (the cluster backup {backup_id} was taken of) was not \
         found: no secret tagged {tag}={source} holds a PEM certificate. The management client needs \
         it in /opt/cloudhsm/etc/customerCA.crt to reach the restored HSMs. Put the CA certificate \
         (PEM) that issued cluster {source}'s certificate in a secret tagged {tag}={source}, then \
         create the cluster again"
    ))
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudhsmv2::Client;
    use aws_sdk_cloudhsmv2::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_cloudhsmv2::types::{Cluster, ClusterState};
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::steps::testing::ctx;

    fn backup_of(cluster_id: &'static str) -> aws_smithy_mocks::Rule {
        use aws_sdk_cloudhsmv2::operation::describe_backups::DescribeBackupsOutput;
        use aws_sdk_cloudhsmv2::types::Backup;
        mock!(Client::describe_backups).then_output(move || {
            DescribeBackupsOutput::builder()
                .backups(
                    Backup::builder()
                        .backup_id("backup-abcdefghijk")
                        .cluster_id(cluster_id)
                        .build()
                        .unwrap(),
                )
                .build()
        })
    }

    #[tokio::test]
    async fn a_restore_whose_ca_certificate_is_not_found_fails_naming_what_to_provide() {
        use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput;
        let backup = backup_of("cluster-source12345");
        let none = mock!(aws_sdk_secretsmanager::Client::list_secrets)
            .then_output(|| ListSecretsOutput::builder().build());
        let write = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
            .then_output(|| unreachable!("a placeholder was written"));
        let ctx = ctx(&[&backup], &[&none, &write], &[]);
        let err = CarryCaCertificate::example().run(&ctx).await.unwrap_err();
        assert!(
            matches!(err, HandlerError::PreconditionFailed(_)),
            "{err:?}"
        );
        let reason = err.to_string();
        for part in [
            "the CA certificate of cluster cluster-source12345 (the cluster backup backup-abcdefghijk was taken of) was not found",
            "no secret tagged cdk-cloudhsm:cluster-id=cluster-source12345 holds a PEM certificate",
            "customerCA.crt",
            "Put the CA certificate (PEM) that issued cluster cluster-source12345's certificate in a secret tagged cdk-cloudhsm:cluster-id=cluster-source12345",
        ] {
            assert!(reason.contains(part), "{reason}");
        }
        assert_eq!(write.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_found_ca_certificate_is_carried_to_the_restored_cluster() {
        use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
        use aws_sdk_secretsmanager::operation::list_secrets::ListSecretsOutput;
        use aws_sdk_secretsmanager::operation::put_secret_value::PutSecretValueOutput;
        use aws_sdk_secretsmanager::operation::tag_resource::TagResourceOutput;
        use aws_sdk_secretsmanager::types::SecretListEntry;
        const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        let backup = backup_of("cluster-source12345");
        let listed = mock!(aws_sdk_secretsmanager::Client::list_secrets).then_output(|| {
            ListSecretsOutput::builder()
                .secret_list(SecretListEntry::builder().arn("arn:old-ca").build())
                .build()
        });
        let read = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().secret_string(PEM).build());
        let write = mock!(aws_sdk_secretsmanager::Client::put_secret_value)
            .match_requests(|r| r.secret_string() == Some(PEM))
            .then_output(|| PutSecretValueOutput::builder().build());
        let tag = mock!(aws_sdk_secretsmanager::Client::tag_resource)
            .then_output(|| TagResourceOutput::builder().build());
        let ctx = ctx(&[&backup], &[&listed, &read, &write, &tag], &[]);
        let carried = CarryCaCertificate::example().run(&ctx).await.unwrap();
        assert!(carried.carried);
        assert_eq!(carried.from.as_deref(), Some("arn:old-ca"));
        assert_eq!(write.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_initialized_cluster_is_not_initialized_again() {
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(
                    Cluster::builder()
                        .cluster_id("cluster-abcdefghijk")
                        .state(ClusterState::Initialized)
                        .build(),
                )
                .build()
        });
        let initialize =
            mock!(Client::initialize_cluster).then_output(|| unreachable!("initialized twice"));
        // No Secrets Manager rule: reading a certificate would fail the test.
        let ctx = ctx(&[&found, &initialize], &[], &[]);
        assert_eq!(
            InitializeCluster::example().run(&ctx).await.unwrap(),
            Done {}
        );
        assert_eq!(initialize.num_calls(), 0);
    }
}
