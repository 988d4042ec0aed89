"""X.509 helpers for the emulated cluster: CSR generation and certificate checks.

The cluster CSR is real (RSA 2048 like AWS's), and its private key stays in the
emulator so that InitializeCluster can check the customer's signed certificate.
"""

import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


class CertificateError(ValueError):
    """A certificate given by the caller is malformed or does not verify."""


def new_cluster_key() -> rsa.RSAPrivateKey:
    """The key pair an HSM generates for the cluster CSR."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def cluster_csr(cluster_id: str, hsm_id: str, key: rsa.RSAPrivateKey) -> str:
    """A PEM CSR for the cluster, signed by `key`, shaped like an hsm2m.medium cluster CSR.

    `openssl req -text` shows a real one's subject as `C=US + ST=CA + OU=LS2 + L=SanJose +
    O=Marvell, CN=HSM:<serial>:PARTN:<n>, for FIPS mode`: the first RDN is multi-valued
    (which strict CSR parsers refuse) and the CN has a comma in it. The serial stands in
    for the HSM's, made from the HSM id; the partition number from the cluster id.
    """
    serial = hsm_id.removeprefix("hsm-").upper()
    partition = sum(cluster_id.encode()) % 32
    subject = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                    x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "LS2"),
                    x509.NameAttribute(NameOID.LOCALITY_NAME, "SanJose"),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Marvell"),
                ]
            ),
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(NameOID.COMMON_NAME, f"HSM:{serial}:PARTN:{partition}, for FIPS mode")]
            ),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def self_signed(common_name: str) -> str:
    """A throw-away self-signed certificate standing in for AWS/manufacturer certs."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(pem: str, what: str) -> x509.Certificate:
    """Parse one PEM certificate or raise CertificateError naming `what`."""
    try:
        return x509.load_pem_x509_certificate(pem.encode())
    except (ValueError, TypeError) as err:
        raise CertificateError(f"{what} is not a valid PEM-encoded X.509 certificate") from err


def same_certificate(left_pem: str, right_pem: str) -> bool:
    """True when both PEM strings hold the same certificate (whitespace-insensitive)."""
    try:
        left = x509.load_pem_x509_certificate(left_pem.encode())
        right = x509.load_pem_x509_certificate(right_pem.encode())
    except ValueError:
        return False
    return left.public_bytes(serialization.Encoding.DER) == right.public_bytes(serialization.Encoding.DER)


def check_signed_cluster_cert(signed_pem: str, trust_anchor_pem: str, key: rsa.RSAPrivateKey) -> None:
    """Check the pair as InitializeCluster does.

    The signed cert must carry the CSR's key and be issued directly by the trust anchor,
    which must be one self-signed certificate (RFC 5280; with basic constraints when it
    has X.509v3 extensions): "the certificate used to sign the HSM CSR must be directly
    available, and thus must be the root certificate".
    """
    signed = load_certificate(signed_pem, "SignedCert")
    if trust_anchor_pem.count("-----BEGIN CERTIFICATE-----") > 1:
        raise CertificateError(
            "TrustAnchor must be one self-signed certificate, not a chain: the certificate that signed the "
            "cluster CSR must be the root certificate"
        )
    anchor = load_certificate(trust_anchor_pem, "TrustAnchor")
    public_der = serialization.PublicFormat.SubjectPublicKeyInfo
    if signed.public_key().public_bytes(serialization.Encoding.DER, public_der) != key.public_key().public_bytes(
        serialization.Encoding.DER, public_der
    ):
        raise CertificateError(
            "SignedCert does not match the cluster CSR: its public key differs from the CSR's. "
            "Re-read Certificates.ClusterCsr and sign that CSR."
        )
    try:
        anchor.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature) as err:
        raise CertificateError(
            f"TrustAnchor ({anchor.subject.rfc4514_string()}) is not a self-signed certificate: "
            "the certificate that signed the cluster CSR must be the root certificate"
        ) from err
    if len(anchor.extensions) > 0:
        try:
            anchor.extensions.get_extension_for_class(x509.BasicConstraints)
        except x509.ExtensionNotFound as err:
            raise CertificateError(
                "TrustAnchor has X509v3 extensions but no Basic Constraints extension, which RFC 5280 requires"
            ) from err
    try:
        signed.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature) as err:
        raise CertificateError(
            f"SignedCert was not issued by the TrustAnchor ({anchor.subject.rfc4514_string()}): {err or 'bad signature'}"
        ) from err
