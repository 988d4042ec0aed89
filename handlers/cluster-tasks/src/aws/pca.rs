//! AWS Private CA: issuing the cluster certificate.

use std::fmt::Write as _;
use std::time::Duration;

use aws_sdk_acmpca::Client;
use aws_sdk_acmpca::primitives::Blob;
use aws_sdk_acmpca::types::{SigningAlgorithm, Validity, ValidityPeriodType};
use handler_core::HandlerError;

use crate::pki::IssuedCertificate;

/// How long to wait between asks for a certificate still being issued.
const PENDING_POLL: Duration = Duration::from_secs(1);

/// The idempotency token of an issuance: the same cluster and CSR give the
/// same certificate on a retry, a new CSR (AWS replaced the first HSM) a
/// new one. AWS Private CA takes at most 36 characters.
fn idempotency_token(cluster_id: &str, csr: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, csr.as_bytes());
    let hex = digest
        .as_ref()
        .iter()
        .take(8)
        .fold(String::new(), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        });
    let id: String = cluster_id
        .trim_start_matches("cluster-")
        .chars()
        .take(19)
        .collect();
    format!("{id}{hex}")
}

/// The PEM certificates of a chain, in its order.
fn certificates_in(chain: &str) -> Vec<&str> {
    chain
        .split_inclusive("-----END CERTIFICATE-----")
        .filter(|block| block.contains("-----BEGIN CERTIFICATE-----"))
        .map(str::trim)
        .collect()
}

/// Checks, before anything billable is made, that a CA given by ARN can
/// issue: it exists and is ACTIVE.
pub async fn check_active(pca: &Client, ca_arn: &str) -> Result<(), HandlerError> {
    let resource = format!("private CA {ca_arn}");
    let described = pca
        .describe_certificate_authority()
        .certificate_authority_arn(ca_arn)
        .send()
        .await
        .map_err(|e| {
            HandlerError::from_sdk(
                "DescribeCertificateAuthority",
                &resource,
                "Check the CA's ARN (same account and region) and that the tasks function may describe it",
                &e,
            )
        })?;
    let status = described
        .certificate_authority()
        .and_then(|ca| ca.status())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if status != "ACTIVE" {
        let what_to_do = match status.as_str() {
            "PENDING_CERTIFICATE" => "install its CA certificate to activate it",
            "DISABLED" => "enable it again (UpdateCertificateAuthority, Status ACTIVE)",
            "DELETED" => "restore it, or give another CA",
            _ => "make it ACTIVE, or give another CA",
        };
        return Err(HandlerError::PreconditionFailed(format!(
            "{resource} is {status}, not ACTIVE, so it cannot issue the cluster certificate; nothing was created. \
             Before deploying again, {what_to_do}"
        )));
    }
    Ok(())
}

/// Issues the cluster certificate with AWS Private CA and waits the few
/// seconds it takes to be retrievable.
pub async fn issue(
    pca: &Client,
    ca_arn: &str,
    cluster_id: &str,
    csr: &str,
) -> Result<IssuedCertificate, HandlerError> {
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
        .idempotency_token(idempotency_token(cluster_id, csr))
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
                let chain = certificates_in(output.certificate_chain().unwrap_or_default());
                // CloudHSM takes as trust anchor only the self-signed
                // certificate of the CA that signed the cluster certificate
                // itself: a chain longer than that root means a subordinate CA.
                let root = match chain.as_slice() {
                    [root] => (*root).to_owned(),
                    [] => {
                        return Err(HandlerError::PreconditionFailed(format!(
                            "{resource} returned no CA certificate chain for {certificate_arn}"
                        )));
                    }
                    longer => {
                        return Err(HandlerError::PreconditionFailed(format!(
                            "{resource} is a subordinate CA (its chain has {} certificates): CloudHSM \
                             initializes a cluster only with a certificate issued directly by a root CA, whose \
                             self-signed certificate is the trust anchor. Use a ROOT CA of AWS Private CA, or \
                             ClusterPki.privateCa()",
                            longer.len()
                        )));
                    }
                };
                return Ok(IssuedCertificate {
                    cluster_certificate: output.certificate().unwrap_or_default().to_owned(),
                    ca_certificate: root,
                });
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(aws_sdk_acmpca::operation::get_certificate::GetCertificateError::is_request_in_progress_exception) =>
            {
                tokio::time::sleep(PENDING_POLL).await;
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
        "{resource} did not issue {certificate_arn} within {} s",
        PENDING_POLL.as_secs() * 30
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_acmpca::operation::get_certificate::{GetCertificateError, GetCertificateOutput};
    use aws_sdk_acmpca::operation::issue_certificate::IssueCertificateOutput;
    use aws_sdk_acmpca::types::error::RequestInProgressException;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[test]
    fn the_token_follows_the_csr() {
        let first = idempotency_token("cluster-abcdefghijk", "csr one");
        assert_eq!(first, idempotency_token("cluster-abcdefghijk", "csr one"));
        assert_ne!(first, idempotency_token("cluster-abcdefghijk", "csr two"));
        assert!(first.len() <= 36, "{first}");
        assert!(first.starts_with("abcdefghijk"));
    }

    #[tokio::test]
    async fn a_pending_certificate_is_asked_for_again() {
        let issued = mock!(Client::issue_certificate).then_output(|| {
            IssueCertificateOutput::builder()
                .certificate_arn("arn:cert")
                .build()
        });
        let pending = mock!(Client::get_certificate).then_error(|| {
            GetCertificateError::RequestInProgressException(
                RequestInProgressException::builder().build(),
            )
        });
        let ready = mock!(Client::get_certificate).then_output(|| {
            GetCertificateOutput::builder()
                .certificate("LEAF")
                .certificate_chain("-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n")
                .build()
        });
        let client = mock_client!(
            aws_sdk_acmpca,
            RuleMode::Sequential,
            [&issued, &pending, &ready]
        );
        let certificate = issue(&client, "arn:ca", "cluster-abc", "csr")
            .await
            .unwrap();
        assert_eq!(certificate.cluster_certificate, "LEAF");
        assert_eq!(
            certificate.ca_certificate,
            "-----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----"
        );
        assert_eq!(pending.num_calls(), 1);
        assert_eq!(ready.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_subordinate_ca_is_refused_with_the_reason() {
        let issued = mock!(Client::issue_certificate).then_output(|| {
            IssueCertificateOutput::builder()
                .certificate_arn("arn:cert")
                .build()
        });
        let ready = mock!(Client::get_certificate).then_output(|| {
            GetCertificateOutput::builder()
                .certificate("LEAF")
                .certificate_chain(
                    "-----BEGIN CERTIFICATE-----\nSUB\n-----END CERTIFICATE-----\n\
                     -----BEGIN CERTIFICATE-----\nROOT\n-----END CERTIFICATE-----\n",
                )
                .build()
        });
        let client = mock_client!(aws_sdk_acmpca, RuleMode::Sequential, [&issued, &ready]);
        let err = issue(&client, "arn:ca", "cluster-abc", "csr")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), handler_core::ErrorKind::PreconditionFailed);
        assert!(
            err.to_string().starts_with(
                "private CA arn:ca is a subordinate CA (its chain has 2 certificates): CloudHSM initializes"
            ),
            "{err}"
        );
    }
}
