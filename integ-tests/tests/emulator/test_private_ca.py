"""AWS Private CA as it issues: idempotency tokens, CA status, pending issuance, chains."""

import time

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ROOT_TEMPLATE = "arn:aws:acm-pca:::template/RootCACertificate/V1"
SUBORDINATE_TEMPLATE = "arn:aws:acm-pca:::template/SubordinateCACertificate_PathLen0/V1"
VALIDITY = {"Type": "YEARS", "Value": 5}


def csr(common_name: str) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.PEM)


def wait_for(pca, ca_arn: str, certificate_arn: str) -> dict:
    for _ in range(200):
        try:
            return pca.get_certificate(CertificateAuthorityArn=ca_arn, CertificateArn=certificate_arn)
        except ClientError as err:
            assert err.response["Error"]["Code"] == "RequestInProgressException"
            time.sleep(0.05)
    raise AssertionError("never issued")


def new_ca(pca, name: str, kind: str = "ROOT", parent: str | None = None) -> str:
    """An ACTIVE CA: a root signs itself, a subordinate is signed by `parent`."""
    arn = pca.create_certificate_authority(
        CertificateAuthorityConfiguration={
            "KeyAlgorithm": "RSA_2048",
            "SigningAlgorithm": "SHA256WITHRSA",
            "Subject": {"CommonName": name},
        },
        CertificateAuthorityType=kind,
    )["CertificateAuthorityArn"]
    request = pca.get_certificate_authority_csr(CertificateAuthorityArn=arn)["Csr"]
    issuer = parent or arn
    issued = pca.issue_certificate(
        CertificateAuthorityArn=issuer, Csr=request.encode(), SigningAlgorithm="SHA256WITHRSA",
        TemplateArn=SUBORDINATE_TEMPLATE if parent else ROOT_TEMPLATE, Validity=VALIDITY,
    )["CertificateArn"]
    got = wait_for(pca, issuer, issued)
    chain = {} if parent is None else {"CertificateChain": got["CertificateChain"].encode()}
    pca.import_certificate_authority_certificate(CertificateAuthorityArn=arn, Certificate=got["Certificate"].encode(), **chain)
    return arn


@pytest.fixture
def pca(client, emulator):
    emulator.configure(time_scale=100)  # 10 AWS seconds of issuance = 0.1 s
    return client("acm-pca")


def test_the_same_token_and_csr_give_the_same_certificate(pca):
    ca = new_ca(pca, "root")
    request = csr("HSM:one:PARTN:1")
    first = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=request, SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY, IdempotencyToken="t1",
    )["CertificateArn"]
    again = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=request, SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY, IdempotencyToken="t1",
    )["CertificateArn"]
    other = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=request, SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY, IdempotencyToken="t2",
    )["CertificateArn"]
    assert again == first
    assert other != first


def test_the_same_token_with_another_csr_still_gives_the_first_certificate(pca):
    """AWS does not compare the requests: the token alone decides, for five minutes."""
    ca = new_ca(pca, "root")
    first = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=csr("HSM:old:PARTN:1"), SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
        IdempotencyToken="same",
    )["CertificateArn"]
    second = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=csr("HSM:new:PARTN:1"), SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
        IdempotencyToken="same",
    )["CertificateArn"]
    assert second == first
    certificate = x509.load_pem_x509_certificate(wait_for(pca, ca, second)["Certificate"].encode())
    assert certificate.subject.rfc4514_string() == "CN=HSM:old:PARTN:1"


def test_a_token_expires_after_five_scaled_minutes(pca, emulator):
    ca = new_ca(pca, "root")
    emulator.configure(time_scale=3000)  # five minutes = 0.1 s
    request = csr("HSM:one:PARTN:1")
    first = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=request, SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY, IdempotencyToken="t",
    )["CertificateArn"]
    time.sleep(0.15)
    later = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=request, SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY, IdempotencyToken="t",
    )["CertificateArn"]
    assert later != first


def test_a_certificate_is_pending_for_a_while_after_issue(pca):
    ca = new_ca(pca, "root")
    arn = pca.issue_certificate(
        CertificateAuthorityArn=ca, Csr=csr("HSM:one:PARTN:1"), SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
    )["CertificateArn"]
    with pytest.raises(ClientError) as err:
        pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=arn)
    assert err.value.response["Error"]["Code"] == "RequestInProgressException"
    time.sleep(0.15)  # 10 AWS seconds at 100
    assert pca.get_certificate(CertificateAuthorityArn=ca, CertificateArn=arn)["Certificate"].startswith("-----BEGIN")


@pytest.mark.parametrize("status", ["DISABLED", "PENDING_CERTIFICATE"])
def test_a_ca_that_is_not_active_refuses_to_issue(pca, status):
    if status == "DISABLED":
        ca = new_ca(pca, "root")
        pca.update_certificate_authority(CertificateAuthorityArn=ca, Status="DISABLED")
    else:
        ca = pca.create_certificate_authority(
            CertificateAuthorityConfiguration={
                "KeyAlgorithm": "RSA_2048", "SigningAlgorithm": "SHA256WITHRSA", "Subject": {"CommonName": "new"},
            },
            CertificateAuthorityType="ROOT",
        )["CertificateAuthorityArn"]
    with pytest.raises(ClientError) as err:
        pca.issue_certificate(
            CertificateAuthorityArn=ca, Csr=csr("HSM:one:PARTN:1"), SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
        )
    assert err.value.response["Error"]["Code"] == "InvalidStateException"
    assert status in err.value.response["Error"]["Message"]


def test_a_malformed_csr_is_refused(pca):
    ca = new_ca(pca, "root")
    with pytest.raises(ClientError) as err:
        pca.issue_certificate(
            CertificateAuthorityArn=ca, Csr=b"not a csr", SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
        )
    assert err.value.response["Error"]["Code"] == "MalformedCSRException"


def test_chains_run_from_the_issuing_ca_to_the_root(pca):
    root = new_ca(pca, "root")
    sub = new_ca(pca, "subordinate", kind="SUBORDINATE", parent=root)
    root_pem = pca.get_certificate_authority_certificate(CertificateAuthorityArn=root)["Certificate"]
    sub_pem = pca.get_certificate_authority_certificate(CertificateAuthorityArn=sub)["Certificate"]

    from_root = pca.issue_certificate(
        CertificateAuthorityArn=root, Csr=csr("HSM:r:PARTN:1"), SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
    )["CertificateArn"]
    chain = x509.load_pem_x509_certificates(wait_for(pca, root, from_root)["CertificateChain"].encode())
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=root"]

    from_sub = pca.issue_certificate(
        CertificateAuthorityArn=sub, Csr=csr("HSM:s:PARTN:1"), SigningAlgorithm="SHA256WITHRSA", Validity=VALIDITY,
    )["CertificateArn"]
    got = wait_for(pca, sub, from_sub)
    chain = x509.load_pem_x509_certificates(got["CertificateChain"].encode())
    assert [c.subject.rfc4514_string() for c in chain] == ["CN=subordinate", "CN=root"]
    assert chain[0] == x509.load_pem_x509_certificate(sub_pem.encode())
    assert chain[1] == x509.load_pem_x509_certificate(root_pem.encode())
    leaf = x509.load_pem_x509_certificate(got["Certificate"].encode())
    leaf.verify_directly_issued_by(chain[0])
    chain[0].verify_directly_issued_by(chain[1])
