//! The cluster certificate: issued by a throwaway CA, and checked against
//! the cluster CSR and its trust anchor before it is used.

use handler_core::HandlerError;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DistinguishedName,
    DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256, SerialNumber,
};
use time::{Duration, OffsetDateTime};
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificationRequest};

/// How long the ephemeral CA and the cluster certificate are valid: the
/// same ten years as AWS's own example.
const VALIDITY_DAYS: i64 = 3652;

/// A certificate pair for `InitializeCluster`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedCertificate {
    /// The cluster certificate, signed by the CA.
    pub cluster_certificate: String,
    /// The self-signed CA certificate: the trust anchor.
    pub ca_certificate: String,
}

fn pki_error(what: &str, e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Internal(format!("{what}: {e}"))
}

/// Makes a throwaway root CA, signs the cluster CSR with it, and drops the
/// CA's private key: only the certificates leave this function, so nobody
/// can ever issue another certificate under this trust anchor.
pub fn sign_with_ephemeral_ca(
    cluster_id: &str,
    csr_pem: &str,
) -> Result<IssuedCertificate, HandlerError> {
    let now = OffsetDateTime::now_utc();
    let ca_key = KeyPair::generate_for(&PKCS_RSA_SHA256)
        .map_err(|e| pki_error("CA key generation failed", e))?;
    let mut ca_params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        format!("cdk-cloudhsm root CA for {cluster_id}"),
    );
    name.push(
        DnType::OrganizationName,
        "cdk-cloudhsm ephemeral CA (private key discarded)",
    );
    ca_params.distinguished_name = name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.not_before = now - Duration::days(1);
    ca_params.not_after = now + Duration::days(VALIDITY_DAYS);
    ca_params.serial_number = Some(random_serial()?);
    let ca_certificate = ca_params
        .self_signed(&ca_key)
        .map_err(|e| pki_error("the CA certificate could not be made", e))?;

    let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|e| {
        HandlerError::PreconditionFailed(format!(
            "the CSR of cluster {cluster_id} cannot be read: {e}"
        ))
    })?;
    csr.params.not_before = now - Duration::days(1);
    csr.params.not_after = now + Duration::days(VALIDITY_DAYS);
    csr.params.serial_number = Some(random_serial()?);
    csr.params.is_ca = IsCa::NoCa;
    let issuer = Issuer::new(ca_params, ca_key);
    let cluster_certificate = csr
        .signed_by(&issuer)
        .map_err(|e| pki_error("the cluster certificate could not be signed", e))?;
    Ok(IssuedCertificate {
        cluster_certificate: cluster_certificate.pem(),
        ca_certificate: ca_certificate.pem(),
    })
}

/// A random 16-byte positive serial number.
fn random_serial() -> Result<SerialNumber, HandlerError> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|e| pki_error("no randomness for a serial number", e))?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

/// Checks a certificate pair before `InitializeCluster`: the certificate
/// must carry the key of the cluster's current CSR (AWS may have replaced
/// the first HSM, and with it the CSR, since the certificate was issued),
/// and the trust anchor must be a self-signed CA that signed it.
pub fn check_pair(
    cluster_id: &str,
    csr_pem: &str,
    certificate_pem: &str,
    trust_anchor_pem: &str,
) -> Result<(), HandlerError> {
    let refuse = |why: String| {
        HandlerError::PreconditionFailed(format!(
            "the certificate for cluster {cluster_id} cannot initialize it: {why}"
        ))
    };
    let csr_der = pem_block(csr_pem, "the cluster CSR").map_err(&refuse)?;
    let (_, csr) = X509CertificationRequest::from_der(&csr_der)
        .map_err(|e| refuse(format!("the cluster CSR is not a valid CSR ({e})")))?;
    let cert_der = pem_block(certificate_pem, "the cluster certificate").map_err(&refuse)?;
    let (_, cert) = X509Certificate::from_der(&cert_der).map_err(|e| {
        refuse(format!(
            "the cluster certificate is not a valid X.509 certificate ({e})"
        ))
    })?;
    let ca_der = pem_block(trust_anchor_pem, "the CA certificate").map_err(&refuse)?;
    let (_, ca) = X509Certificate::from_der(&ca_der).map_err(|e| {
        refuse(format!(
            "the CA certificate is not a valid X.509 certificate ({e})"
        ))
    })?;

    if cert.public_key().raw != csr.certification_request_info.subject_pki.raw {
        return Err(HandlerError::CsrChanged(format!(
            "the certificate for cluster {cluster_id} was issued for another key than the one in the \
             cluster's current CSR (AWS replaced the first HSM, which makes a new CSR): sign the current CSR"
        )));
    }
    if ca.verify_signature(None).is_err() {
        return Err(refuse(
            "the CA certificate is not self-signed: the trust anchor must be a root CA".into(),
        ));
    }
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return Err(refuse(
            "the cluster certificate was not signed by the given CA certificate".into(),
        ));
    }
    Ok(())
}

/// The DER content of the first PEM block of `text`.
fn pem_block(text: &str, what: &str) -> Result<Vec<u8>, String> {
    parse_x509_pem(text.trim().as_bytes())
        .map(|(_, pem)| pem.contents)
        .map_err(|e| format!("{what} is not PEM ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CSR such as an HSM makes, with its key.
    fn hsm_csr() -> (String, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_RSA_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "HSM:cluster-abc:PARTN:1");
        let csr = params.serialize_request(&key).unwrap();
        (csr.pem().unwrap(), key)
    }

    #[test]
    fn the_ephemeral_ca_issues_a_certificate_that_passes_the_checks() {
        let (csr, _) = hsm_csr();
        let issued = sign_with_ephemeral_ca("cluster-abc", &csr).unwrap();
        assert!(
            issued
                .ca_certificate
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(
            issued.ca_certificate.len() < 5000 && issued.cluster_certificate.len() < 5000,
            "AWS's limit"
        );
        check_pair(
            "cluster-abc",
            &csr,
            &issued.cluster_certificate,
            &issued.ca_certificate,
        )
        .unwrap();

        let der = pem_block(&issued.ca_certificate, "ca").unwrap();
        let (_, ca) = X509Certificate::from_der(&der).unwrap();
        assert!(ca.is_ca());
        assert!(
            ca.subject()
                .to_string()
                .contains("cdk-cloudhsm root CA for cluster-abc")
        );
        let der = pem_block(&issued.cluster_certificate, "cert").unwrap();
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(cert.issuer(), ca.subject());
        assert!(
            cert.subject()
                .to_string()
                .contains("HSM:cluster-abc:PARTN:1")
        );
    }

    #[test]
    fn each_ephemeral_ca_is_new() {
        let (csr, _) = hsm_csr();
        let a = sign_with_ephemeral_ca("cluster-abc", &csr).unwrap();
        let b = sign_with_ephemeral_ca("cluster-abc", &csr).unwrap();
        assert_ne!(a.ca_certificate, b.ca_certificate);
        let err = check_pair(
            "cluster-abc",
            &csr,
            &a.cluster_certificate,
            &b.ca_certificate,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the certificate for cluster cluster-abc cannot initialize it: the cluster certificate was not signed \
             by the given CA certificate"
        );
    }

    #[test]
    fn a_certificate_for_a_replaced_csr_is_refused() {
        let (old_csr, _) = hsm_csr();
        let (new_csr, _) = hsm_csr();
        let issued = sign_with_ephemeral_ca("cluster-abc", &old_csr).unwrap();
        let err = check_pair(
            "cluster-abc",
            &new_csr,
            &issued.cluster_certificate,
            &issued.ca_certificate,
        )
        .unwrap_err();
        assert_eq!(err.kind(), handler_core::ErrorKind::CsrChanged);
        assert!(
            err.to_string()
                .contains("issued for another key than the one in the cluster's current CSR"),
            "{err}"
        );
    }

    #[test]
    fn an_intermediate_as_trust_anchor_is_refused() {
        let (csr, _) = hsm_csr();
        let issued = sign_with_ephemeral_ca("cluster-abc", &csr).unwrap();
        // The cluster certificate is not self-signed.
        let err = check_pair(
            "cluster-abc",
            &csr,
            &issued.cluster_certificate,
            &issued.cluster_certificate,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("the trust anchor must be a root CA"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let (csr, _) = hsm_csr();
        let err = check_pair("cluster-abc", &csr, "not a certificate", "x").unwrap_err();
        assert!(
            err.to_string()
                .contains("the cluster certificate is not PEM"),
            "{err}"
        );
        let err = sign_with_ephemeral_ca(
            "cluster-abc",
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the CSR of cluster cluster-abc cannot be read"),
            "{err}"
        );
    }
}
