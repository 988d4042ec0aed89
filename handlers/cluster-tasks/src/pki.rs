//! The cluster certificate: issued by a throwaway CA, and checked against
//! the cluster CSR and its trust anchor before it is used.
//!
//! The throwaway CA does not re-encode the CSR: it copies the CSR's subject
//! and `SubjectPublicKeyInfo` into the certificate byte for byte, so any
//! well-formed PKCS#10 request is signed as it came, whatever attributes,
//! extensions, multi-valued RDNs or key type it carries (an hsm2m CSR's
//! subject has a multi-valued first RDN, which stricter parsers refuse).

mod der;

use handler_core::HandlerError;
use rand_core::OsRng;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    PKCS_RSA_SHA256, SerialNumber, SigningKey,
};
use ring::rand::{SecureRandom, SystemRandom};
use rsa::pkcs8::EncodePrivateKey;
use rustls_pki_types::PrivatePkcs8KeyDer;
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::parse_x509_pem;
use x509_parser::prelude::{FromDer, X509Certificate};

/// How long the ephemeral CA and the cluster certificate are valid: the
/// same ten years as AWS's own example.
const VALIDITY_DAYS: i64 = 3652;

/// The size of the CA's RSA key.
const RSA_KEY_BITS: usize = 2048;

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
    let unreadable = |why: String| {
        HandlerError::PreconditionFailed(format!(
            "the CSR of cluster {cluster_id} cannot be read: {why}"
        ))
    };
    let csr_der = pem_block(csr_pem, "the CSR").map_err(unreadable)?;
    let csr = CsrParts::read(&csr_der).map_err(unreadable)?;

    let now = OffsetDateTime::now_utc();
    let not_before = now - Duration::days(1);
    let not_after = now + Duration::days(VALIDITY_DAYS);
    let ca_key = rsa_key()?;
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
    ca_params.not_before = not_before;
    ca_params.not_after = not_after;
    ca_params.serial_number = Some(SerialNumber::from_slice(&random_serial()?));
    let ca_certificate = ca_params
        .self_signed(&ca_key)
        .map_err(|e| pki_error("the CA certificate could not be made", e))?;
    let (_, ca) = X509Certificate::from_der(ca_certificate.der())
        .map_err(|e| pki_error("the CA certificate cannot be read back", e))?;
    let ca_key_id = ca
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        });

    let tbs = der::tbs_certificate(&der::TbsFields {
        serial: &random_serial()?,
        issuer: ca.subject().as_raw(),
        not_before,
        not_after,
        subject: csr.subject,
        spki: csr.spki,
        authority_key_id: ca_key_id.as_deref(),
        subject_key_id: &csr.key_id(),
    });
    let signature = ca_key
        .sign(&tbs)
        .map_err(|e| pki_error("the cluster certificate could not be signed", e))?;
    let certificate = der::certificate(&tbs, &signature);
    Ok(IssuedCertificate {
        cluster_certificate: der::pem("CERTIFICATE", &certificate),
        ca_certificate: ca_certificate.pem(),
    })
}

/// A new RSA 2048 key that signs with SHA-256, the CA key of AWS's own
/// example. The rsa crate makes it (ring, which signs with it, cannot); it
/// lives in this process's memory only, and goes with the `KeyPair`.
pub fn rsa_key() -> Result<KeyPair, HandlerError> {
    let key = rsa::RsaPrivateKey::new(&mut OsRng, RSA_KEY_BITS)
        .map_err(|e| pki_error("CA key generation failed", e))?;
    let pkcs8 = key
        .to_pkcs8_der()
        .map_err(|e| pki_error("the CA key cannot be encoded", e))?;
    let der = PrivatePkcs8KeyDer::from(pkcs8.as_bytes());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_RSA_SHA256)
        .map_err(|e| pki_error("the CA key cannot sign", e))
}

/// 16 random bytes, as the content of a positive DER INTEGER in its
/// shortest form (the first byte is 0x40 to 0x7f).
fn random_serial() -> Result<[u8; 16], HandlerError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|e| pki_error("no randomness for a serial number", e))?;
    bytes[0] = (bytes[0] & 0x3f) | 0x40;
    Ok(bytes)
}

/// The parts of a PKCS#10 request the certificate copies, as the DER
/// elements they are in the request (tag and length included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CsrParts<'a> {
    subject: &'a [u8],
    spki: &'a [u8],
}

impl<'a> CsrParts<'a> {
    /// Reads the structure of RFC 2986 (`CertificationRequest`) and nothing
    /// more: what the subject and the extensions say is not interpreted.
    fn read(csr: &'a [u8]) -> Result<Self, String> {
        let bad = |what: &str| format!("it is not a PKCS#10 request ({what})");
        let (request, rest) = der::element(csr, der::SEQUENCE).map_err(|e| bad(&e))?;
        if !rest.is_empty() {
            return Err(bad("bytes after the request"));
        }
        let (info, rest) = der::element(request.content, der::SEQUENCE).map_err(|e| bad(&e))?;
        let (_algorithm, rest) = der::element(rest, der::SEQUENCE).map_err(|e| bad(&e))?;
        let (_signature, rest) = der::element(rest, der::BIT_STRING).map_err(|e| bad(&e))?;
        if !rest.is_empty() {
            return Err(bad("more than request info, algorithm and signature"));
        }
        let (version, rest) = der::element(info.content, der::INTEGER).map_err(|e| bad(&e))?;
        if version.content != [0] {
            return Err(bad("its version is not 1"));
        }
        let (subject, rest) = der::element(rest, der::SEQUENCE).map_err(|e| bad(&e))?;
        let (spki, rest) = der::element(rest, der::SEQUENCE).map_err(|e| bad(&e))?;
        let (_attributes, rest) = der::element(rest, der::ATTRIBUTES).map_err(|e| bad(&e))?;
        if !rest.is_empty() {
            return Err(bad("bytes after the attributes"));
        }
        let (_key_algorithm, key) = der::element(spki.content, der::SEQUENCE)
            .map_err(|e| bad(&format!("public key info: {e}")))?;
        let (_key, rest) = der::element(key, der::BIT_STRING)
            .map_err(|e| bad(&format!("public key info: {e}")))?;
        if !rest.is_empty() {
            return Err(bad("bytes after the public key"));
        }
        Ok(Self {
            subject: subject.whole,
            spki: spki.whole,
        })
    }

    /// The subject key identifier of RFC 5280 4.2.1.2, method 1: the SHA-1
    /// of the public key's bits.
    fn key_id(&self) -> Vec<u8> {
        let bits = der::element(self.spki, der::SEQUENCE)
            .and_then(|(spki, _)| der::element(spki.content, der::SEQUENCE))
            .and_then(|(_, key)| der::element(key, der::BIT_STRING))
            .map(|(bits, _)| bits.content.get(1..).unwrap_or_default())
            .unwrap_or_default();
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, bits)
            .as_ref()
            .to_vec()
    }
}

/// Checks a certificate pair before `InitializeCluster`: the certificate
/// must carry the key of the cluster's current CSR (AWS may have replaced
/// the first HSM, and with it the CSR, since the certificate was issued),
/// and the trust anchor must be what CloudHSM accepts: a self-signed root
/// CA certificate (with basic constraints when it has extensions) that
/// signed the cluster certificate itself, no intermediate between them.
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
    let csr = CsrParts::read(&csr_der)
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

    if cert.public_key().raw != csr.spki {
        return Err(HandlerError::CsrChanged(format!(
            "the certificate for cluster {cluster_id} was issued for another key than the one in the \
             cluster's current CSR (AWS replaced the first HSM, which makes a new CSR): sign the current CSR"
        )));
    }
    if ca.subject().as_raw() != ca.issuer().as_raw() || ca.verify_signature(None).is_err() {
        return Err(refuse(
            "the CA certificate is not self-signed: the trust anchor must be a root CA".into(),
        ));
    }
    if !ca.extensions().is_empty() && !matches!(ca.basic_constraints(), Ok(Some(_))) {
        return Err(refuse(
            "the CA certificate has X.509v3 extensions but no basic constraints, which CloudHSM requires".into(),
        ));
    }
    if cert.issuer().as_raw() != ca.subject().as_raw()
        || cert.verify_signature(Some(ca.public_key())).is_err()
    {
        return Err(refuse(format!(
            "the cluster certificate was not signed by the given CA certificate (it names {} as its issuer); \
             CloudHSM needs it issued directly by the root CA whose certificate is the trust anchor",
            cert.issuer()
        )));
    }
    Ok(())
}

/// The secrets a user's own PKI answers in, as the sentences name them.
#[derive(Debug, Clone, Copy)]
pub struct SuppliedSecrets<'a> {
    /// The cluster CSR's secret, which the certificate must answer.
    pub csr: &'a str,
    /// The cluster certificate's secret.
    pub certificate: &'a str,
    /// The CA certificate's secret: the trust anchor.
    pub ca: &'a str,
}

/// What is wrong with the certificates a user's own PKI supplied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuppliedProblem {
    /// The certificate was issued for another key than the current CSR's:
    /// the caller publishes the current CSR again.
    StaleCsr(String),
    /// Anything else, as the sentence that says what to do.
    Invalid(String),
}

impl SuppliedProblem {
    /// The sentence.
    #[must_use]
    pub fn sentence(&self) -> &str {
        match self {
            Self::StaleCsr(s) | Self::Invalid(s) => s,
        }
    }
}

/// The certificates of the PEM blocks in a secret's text, checked one by
/// one: each a `CERTIFICATE` block of a valid X.509 certificate.
fn supplied_certificates(
    text: Option<&str>,
    what: &str,
    arn: &str,
    expected: &str,
) -> Result<Vec<Vec<u8>>, SuppliedProblem> {
    let again = "then update the stack again";
    let text = text
        .map(str::trim)
        .filter(|t| !t.is_empty() && !t.starts_with("pending:"))
        .ok_or_else(|| {
            SuppliedProblem::Invalid(format!(
                "the {what} secret {arn} is empty: put {expected} there (PEM, starting with \
                 -----BEGIN CERTIFICATE-----), {again}"
            ))
        })?;
    let not_pem = |detail: String| {
        SuppliedProblem::Invalid(format!(
            "the {what} secret {arn} does not hold a PEM certificate ({detail}): put {expected} there as PEM text \
             (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----), {again}"
        ))
    };
    if !text.starts_with("-----BEGIN") {
        return Err(not_pem("it does not start with -----BEGIN".into()));
    }
    let mut found = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(text.as_bytes()) {
        let block = block.map_err(|e| not_pem(e.to_string()))?;
        if block.label != "CERTIFICATE" {
            return Err(not_pem(format!("it holds a {} block", block.label)));
        }
        if let Err(e) = X509Certificate::from_der(&block.contents) {
            return Err(SuppliedProblem::Invalid(format!(
                "the {what} secret {arn} holds a PEM block that is not an X.509 certificate ({e}): put {expected} \
                 there, {again}"
            )));
        }
        found.push(block.contents);
    }
    if found.is_empty() {
        return Err(not_pem("no PEM block could be read".into()));
    }
    Ok(found)
}

/// The validity of a certificate at `now`, as a sentence when it is not.
fn check_validity(
    cert: &X509Certificate<'_>,
    what: &str,
    arn: &str,
    now: OffsetDateTime,
) -> Result<(), SuppliedProblem> {
    let validity = cert.validity();
    let (from, to) = (
        validity.not_before.to_datetime(),
        validity.not_after.to_datetime(),
    );
    if now < from {
        return Err(SuppliedProblem::Invalid(format!(
            "the {what} in secret {arn} is not valid yet: it is valid from {} (now is {now}). Issue it with a \
             validity that starts now (check the issuing machine's clock), put it there, then update the stack again",
            validity.not_before
        )));
    }
    if now > to {
        return Err(SuppliedProblem::Invalid(format!(
            "the {what} in secret {arn} expired on {}: issue a new one, put it there, then update the stack again",
            validity.not_after
        )));
    }
    Ok(())
}

/// The trust anchor's secret holds a self-signed certificate, or a chain
/// (issuing CA first) in which each certificate is signed by the next and
/// the last is a self-signed root.
fn check_chain(chain: &[X509Certificate<'_>], ca_secret: &str) -> Result<(), SuppliedProblem> {
    let again = "then update the stack again";
    let self_signed = |c: &X509Certificate<'_>| {
        c.subject().as_raw() == c.issuer().as_raw() && c.verify_signature(None).is_ok()
    };
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        unreachable!("supplied_certificates answers at least one")
    };
    if chain.len() == 1 && !self_signed(first) {
        return Err(SuppliedProblem::Invalid(format!(
            "the CA certificate in secret {} is not self-signed (its subject is {}, its issuer {}): CloudHSM's \
             trust anchor is the certificate of a root CA. Put your root CA's certificate there, {again}",
            ca_secret,
            first.subject(),
            first.issuer()
        )));
    }
    if chain.len() > 1 {
        for (i, pair) in chain.windows(2).enumerate() {
            if pair[0].issuer().as_raw() != pair[1].subject().as_raw()
                || pair[0]
                    .verify_signature(Some(pair[1].public_key()))
                    .is_err()
            {
                return Err(SuppliedProblem::Invalid(format!(
                    "the certificate chain in secret {} is broken: certificate {} ({}) is not signed by the one \
                     after it ({}). List the chain from the issuing CA up to the root, {again}",
                    ca_secret,
                    i + 1,
                    pair[0].subject(),
                    pair[1].subject()
                )));
            }
        }
        if !self_signed(last) {
            return Err(SuppliedProblem::Invalid(format!(
                "the certificate chain in secret {} does not end in a self-signed root certificate (the last one, \
                 {}, is issued by {}): add the root CA's certificate at the end, {again}",
                ca_secret,
                last.subject(),
                last.issuer()
            )));
        }
    }
    Ok(())
}

/// Checks the certificates a user's own PKI put into the secrets, before
/// anything is sent to AWS, each problem with the sentence that names the
/// secret and says what to do: a secret empty or not PEM; a certificate
/// expired or not valid yet; a cluster certificate for another key than
/// the cluster's current CSR (AWS may have replaced the first HSM); a CA
/// certificate that is not self-signed, or a chain that does not end in a
/// self-signed root; a cluster certificate the CA did not sign.
pub fn check_supplied(
    csr_pem: &str,
    certificate: Option<&str>,
    ca_certificate: Option<&str>,
    secrets: SuppliedSecrets<'_>,
    now: OffsetDateTime,
) -> Result<(), SuppliedProblem> {
    let again = "then update the stack again";
    let cert_ders = supplied_certificates(
        certificate,
        "cluster certificate",
        secrets.certificate,
        &format!(
            "the certificate your CA issued for the cluster CSR in secret {}",
            secrets.csr
        ),
    )?;
    let ca_ders = supplied_certificates(
        ca_certificate,
        "CA certificate",
        secrets.ca,
        "the self-signed certificate of the root CA that issued the cluster certificate",
    )?;
    let parse = |der| X509Certificate::from_der(der).map(|(_, c)| c);
    let Some(Ok(cert)) = cert_ders.first().map(|d| parse(d)) else {
        return Err(SuppliedProblem::Invalid(format!(
            "the cluster certificate secret {} could not be read",
            secrets.certificate
        )));
    };
    let mut chain = Vec::new();
    for der in &ca_ders {
        chain.push(parse(der).map_err(|e| SuppliedProblem::Invalid(format!("{e}")))?);
    }
    check_validity(&cert, "cluster certificate", secrets.certificate, now)?;
    for ca in &chain {
        check_validity(ca, "CA certificate", secrets.ca, now)?;
    }

    let csr_der = pem_block(csr_pem, "the cluster CSR").map_err(SuppliedProblem::Invalid)?;
    let csr = CsrParts::read(&csr_der).map_err(|e| {
        SuppliedProblem::Invalid(format!("the cluster's current CSR cannot be read ({e})"))
    })?;
    if cert.public_key().raw != csr.spki {
        return Err(SuppliedProblem::StaleCsr(format!(
            "the certificate in secret {} was issued for another key than the one in the cluster's current CSR \
             (AWS may have replaced the first HSM, which makes a new CSR). The current CSR is now in secret {}: sign \
             it with your root CA, put the new certificate into secret {}, {again}",
            secrets.certificate, secrets.csr, secrets.certificate
        )));
    }

    check_chain(&chain, secrets.ca)?;
    let (Some(first), Some(last)) = (chain.first(), chain.last()) else {
        unreachable!("supplied_certificates answers at least one")
    };
    if cert.issuer().as_raw() != first.subject().as_raw()
        || cert.verify_signature(Some(first.public_key())).is_err()
    {
        return Err(SuppliedProblem::Invalid(format!(
            "the certificate in secret {} was not signed by the CA certificate in secret {} (the certificate \
             names {} as its issuer, the CA certificate is {}): put the certificate of the CA that issued it \
             there, or issue the cluster certificate with that CA, {again}",
            secrets.certificate,
            secrets.ca,
            cert.issuer(),
            first.subject()
        )));
    }
    if chain.len() > 1 {
        return Err(SuppliedProblem::Invalid(format!(
            "the CA certificate secret {} holds a chain of {} certificates and the cluster certificate was issued \
             by {}, an intermediate CA: CloudHSM initializes a cluster only with a certificate issued directly by \
             the root CA whose self-signed certificate is the trust anchor. Issue the cluster certificate with \
             the root CA ({}), put it into secret {} and only the root's certificate into secret {}, {again}",
            secrets.ca,
            chain.len(),
            first.subject(),
            last.subject(),
            secrets.certificate,
            secrets.ca
        )));
    }
    if !first.extensions().is_empty() && !matches!(first.basic_constraints(), Ok(Some(_))) {
        return Err(SuppliedProblem::Invalid(format!(
            "the CA certificate in secret {} has X.509v3 extensions but no basic constraints, which CloudHSM \
             requires of a trust anchor: reissue your root CA certificate with basicConstraints CA:TRUE, {again}",
            secrets.ca
        )));
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

    /// A CSR such as rcgen makes, with its key.
    fn simple_csr() -> (String, KeyPair) {
        let key = rsa_key().unwrap();
        let mut params = CertificateParams::default();
        params
            .distinguished_name
            .push(DnType::CommonName, "HSM:cluster-abc:PARTN:1");
        let csr = params.serialize_request(&key).unwrap();
        (csr.pem().unwrap(), key)
    }

    /// Well-formed CSRs that a strict parser refuses or re-encodes; see
    /// tests/fixtures/csr/make.py for how they were made.
    const FIXTURES: &[(&str, &str)] = &[
        ("hsm2m", include_str!("../tests/fixtures/csr/hsm2m.pem")),
        (
            "repeated-attributes",
            include_str!("../tests/fixtures/csr/repeated-attributes.pem"),
        ),
        (
            "unknown-extensions",
            include_str!("../tests/fixtures/csr/unknown-extensions.pem"),
        ),
        ("ec-p384", include_str!("../tests/fixtures/csr/ec-p384.pem")),
        ("ed25519", include_str!("../tests/fixtures/csr/ed25519.pem")),
        (
            "empty-subject",
            include_str!("../tests/fixtures/csr/empty-subject.pem"),
        ),
    ];

    fn parsed(pem: &str) -> Vec<u8> {
        pem_block(pem, "test").unwrap()
    }

    #[test]
    fn the_ephemeral_ca_issues_a_certificate_that_passes_the_checks() {
        let (csr, _) = simple_csr();
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

        let der = parsed(&issued.ca_certificate);
        let (_, ca) = X509Certificate::from_der(&der).unwrap();
        assert!(ca.is_ca());
        assert!(
            ca.subject()
                .to_string()
                .contains("cdk-cloudhsm root CA for cluster-abc")
        );
        let der = parsed(&issued.cluster_certificate);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert_eq!(cert.issuer(), ca.subject());
        assert_eq!(cert.version(), x509_parser::x509::X509Version::V3);
        assert!(!cert.is_ca());
        assert!(
            cert.subject()
                .to_string()
                .contains("HSM:cluster-abc:PARTN:1")
        );
        let aki = cert
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.clone(),
                _ => None,
            });
        let ski = ca
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.clone()),
                _ => None,
            });
        assert_eq!(aki, ski, "the certificate names its CA's key");
        let validity = cert.validity();
        assert!(validity.is_valid());
        assert!(validity.time_to_expiration().unwrap().whole_days() > 3600);
    }

    #[test]
    fn every_well_formed_csr_is_signed_with_its_subject_and_key_copied_byte_for_byte() {
        for (name, csr) in FIXTURES {
            let issued = sign_with_ephemeral_ca("cluster-abc", csr)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let csr_der = parsed(csr);
            let parts = CsrParts::read(&csr_der).unwrap();
            let cert_der = parsed(&issued.cluster_certificate);
            let (_, cert) = X509Certificate::from_der(&cert_der)
                .unwrap_or_else(|e| panic!("{name}: the certificate does not parse: {e}"));
            assert_eq!(cert.subject().as_raw(), parts.subject, "{name}: subject");
            assert_eq!(cert.public_key().raw, parts.spki, "{name}: public key");
            check_pair(
                "cluster-abc",
                csr,
                &issued.cluster_certificate,
                &issued.ca_certificate,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn the_hsm2m_fixture_is_one_a_strict_parser_refuses() {
        // What the ephemeral CA used before: it cannot take an hsm2m CSR.
        let hsm2m = FIXTURES[0].1;
        assert!(rcgen::CertificateSigningRequestParams::from_pem(hsm2m).is_err());
        let issued = sign_with_ephemeral_ca("cluster-abc", hsm2m).unwrap();
        let der = parsed(&issued.cluster_certificate);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        let first_rdn = cert.subject().iter().next().unwrap();
        assert_eq!(
            first_rdn.iter().count(),
            5,
            "C + ST + OU + L + O stay one RDN"
        );
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "HSM:RCN2345B07362:PARTN:25, for FIPS mode"
        );
    }

    #[test]
    fn each_ephemeral_ca_is_new() {
        let (csr, _) = simple_csr();
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
        assert!(
            err.to_string().starts_with(
                "the certificate for cluster cluster-abc cannot initialize it: the cluster certificate was not \
                 signed by the given CA certificate"
            ),
            "{err}"
        );
    }

    #[test]
    fn a_certificate_for_a_replaced_csr_is_refused() {
        let (old_csr, _) = simple_csr();
        let (new_csr, _) = simple_csr();
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
        let (csr, _) = simple_csr();
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
    fn a_certificate_issued_by_an_intermediate_is_refused_with_its_root() {
        // root -> intermediate -> cluster certificate, the root as anchor:
        // CloudHSM wants the anchor to have signed the certificate itself.
        let root_key = rsa_key().unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.distinguished_name.push(DnType::CommonName, "root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let root_cert = root.self_signed(&root_key).unwrap();
        let root_issuer = rcgen::Issuer::new(root, root_key);
        let sub_key = rsa_key().unwrap();
        let mut sub = CertificateParams::new(Vec::<String>::new()).unwrap();
        sub.distinguished_name
            .push(DnType::CommonName, "intermediate");
        sub.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        let _ = sub.signed_by(&sub_key, &root_issuer).unwrap();
        let sub_issuer = rcgen::Issuer::new(sub, sub_key);
        let (csr, key) = simple_csr();
        let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "HSM:cluster-abc:PARTN:1");
        let leaf = leaf.signed_by(&key, &sub_issuer).unwrap();
        let err = check_pair("cluster-abc", &csr, &leaf.pem(), &root_cert.pem()).unwrap_err();
        assert_eq!(err.kind(), handler_core::ErrorKind::PreconditionFailed);
        assert!(
            err.to_string()
                .contains("it names CN=intermediate as its issuer"),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        let (csr, _) = simple_csr();
        let err = check_pair("cluster-abc", &csr, "not a certificate", "x").unwrap_err();
        assert!(
            err.to_string()
                .contains("the cluster certificate is not PEM"),
            "{err}"
        );
        for broken in [
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
            // A certificate is no request.
            &sign_with_ephemeral_ca("cluster-abc", &csr)
                .unwrap()
                .ca_certificate,
        ] {
            let err = sign_with_ephemeral_ca("cluster-abc", broken).unwrap_err();
            assert!(
                err.to_string().starts_with(
                    "the CSR of cluster cluster-abc cannot be read: it is not a PKCS#10 request"
                ),
                "{err}"
            );
        }
    }

    const SECRETS: SuppliedSecrets<'static> = SuppliedSecrets {
        csr: "arn:csr",
        certificate: "arn:cert",
        ca: "arn:ca",
    };

    fn supplied(csr: &str, cert: &str, ca: &str) -> Result<(), SuppliedProblem> {
        check_supplied(
            csr,
            Some(cert),
            Some(ca),
            SECRETS,
            OffsetDateTime::now_utc(),
        )
    }

    /// A root CA with `days` of validity from `start_days` ago, and a
    /// certificate it issues for `csr_key`.
    fn root_and_leaf(csr_key: &KeyPair, start_days: i64, days: i64) -> (String, String) {
        let root_key = rsa_key().unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.distinguished_name.push(DnType::CommonName, "my root");
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let now = OffsetDateTime::now_utc();
        root.not_before = now - Duration::days(start_days);
        root.not_after = now - Duration::days(start_days) + Duration::days(days);
        let root_cert = root.self_signed(&root_key).unwrap();
        let issuer = rcgen::Issuer::new(root, root_key);
        let mut leaf = CertificateParams::new(Vec::<String>::new()).unwrap();
        leaf.distinguished_name
            .push(DnType::CommonName, "HSM:cluster-abc:PARTN:1");
        leaf.not_before = now - Duration::days(start_days);
        leaf.not_after = now - Duration::days(start_days) + Duration::days(days);
        let leaf = leaf.signed_by(csr_key, &issuer).unwrap();
        (leaf.pem(), root_cert.pem())
    }

    #[test]
    fn supplied_certificates_that_answer_the_csr_pass() {
        let (csr, key) = simple_csr();
        let (leaf, root) = root_and_leaf(&key, 1, 3650);
        supplied(&csr, &leaf, &root).unwrap();
    }

    #[test]
    fn each_problem_with_supplied_certificates_has_its_own_sentence() {
        let (csr, key) = simple_csr();
        let (leaf, root) = root_and_leaf(&key, 1, 3650);
        let sentence = |r: Result<(), SuppliedProblem>| r.unwrap_err().sentence().to_owned();

        let empty = check_supplied(
            &csr,
            Some("pending: not issued yet"),
            Some(&root),
            SECRETS,
            OffsetDateTime::now_utc(),
        );
        assert!(sentence(empty).starts_with("the cluster certificate secret arn:cert is empty: put the certificate your CA issued for the cluster CSR in secret arn:csr there"));
        let missing = check_supplied(&csr, Some(&leaf), None, SECRETS, OffsetDateTime::now_utc());
        assert!(sentence(missing).starts_with("the CA certificate secret arn:ca is empty"));
        let garbage = sentence(supplied(&csr, "MIIB...", &root));
        assert!(
            garbage.starts_with(
                "the cluster certificate secret arn:cert does not hold a PEM certificate"
            ),
            "{garbage}"
        );
        let request = sentence(supplied(&csr, &csr, &root));
        assert!(
            request.contains("it holds a CERTIFICATE REQUEST block"),
            "{request}"
        );

        let (other_csr, _) = simple_csr();
        let stale = supplied(&other_csr, &leaf, &root).unwrap_err();
        assert!(matches!(stale, SuppliedProblem::StaleCsr(_)));
        assert!(
            stale
                .sentence()
                .contains("The current CSR is now in secret arn:csr"),
            "{}",
            stale.sentence()
        );

        let (_, other_root) = root_and_leaf(&key, 1, 3650);
        let unsigned = sentence(supplied(&csr, &leaf, &other_root));
        assert!(unsigned.starts_with("the certificate in secret arn:cert was not signed by the CA certificate in secret arn:ca"), "{unsigned}");

        let not_root = sentence(supplied(&csr, &leaf, &leaf));
        assert!(
            not_root.starts_with("the CA certificate in secret arn:ca is not self-signed"),
            "{not_root}"
        );
        let no_root_at_end = sentence(supplied(&csr, &leaf, &format!("{leaf}\n{leaf}")));
        assert!(
            no_root_at_end.contains("is broken")
                || no_root_at_end.contains("does not end in a self-signed root"),
            "{no_root_at_end}"
        );
        let chain = sentence(supplied(&csr, &leaf, &format!("{root}\n{root}")));
        assert!(
            chain.contains("is broken") || chain.contains("holds a chain of 2 certificates"),
            "{chain}"
        );

        let (old_leaf, old_root) = root_and_leaf(&key, 400, 30);
        let expired = sentence(supplied(&csr, &old_leaf, &old_root));
        assert!(
            expired.starts_with("the cluster certificate in secret arn:cert expired on"),
            "{expired}"
        );
        let (future_leaf, future_root) = root_and_leaf(&key, -30, 300);
        let early = sentence(supplied(&csr, &future_leaf, &future_root));
        assert!(
            early.starts_with("the cluster certificate in secret arn:cert is not valid yet"),
            "{early}"
        );
    }
}
