"""AWS Private CA as it issues: moto's handlers, with IssueCertificate and GetCertificate
behaving as AWS documents them.

- IssueCertificate refuses a CA that is not ACTIVE (`InvalidStateException`; a root CA
  still PENDING_CERTIFICATE may issue its own certificate) and a CSR
  that is not PKCS#10 (`MalformedCSRException`). A repeated `IdempotencyToken` within
  five (scaled) minutes returns the first certificate's ARN, even when the CSR differs:
  AWS does not compare the requests, so a caller must change the token with the CSR.
- GetCertificate answers `RequestInProgressException` until the (scaled) issue
  latency has passed.
- The `CertificateChain` is the issuing CA's certificate followed by that CA's own
  chain, up to the root: one certificate for a root CA, more for a subordinate one.
"""

import base64
import json
from typing import Any

from cryptography import x509
from moto.acmpca.models import CertificateAuthority
from moto.acmpca.responses import ACMPCAResponse

from ..core.runtime import RUNTIME
from .exceptions import InvalidStateException, MalformedCSRException, RequestInProgressException
from .models import IssuanceBackend, issuance_backends

ROOT_CA_TEMPLATE = "template/RootCACertificate/V1"


def _pem(value: str | bytes) -> bytes:
    """A chain as ImportCertificateAuthorityCertificate stored it (moto keeps its base64) as PEM."""
    raw = value.encode() if isinstance(value, str) else value
    return (raw if raw.lstrip().startswith(b"-----") else base64.b64decode(raw)).strip()


class PrivateCaResponse(ACMPCAResponse):
    """moto's Private CA handlers with idempotency, status, pending issuance and chains."""

    @property
    def issuance(self) -> IssuanceBackend:
        return issuance_backends[self.current_account][self.region]

    def issue_certificate(self) -> str:
        params: dict[str, Any] = json.loads(self.body)
        ca_arn = params.get("CertificateAuthorityArn", "")
        token = params.get("IdempotencyToken")
        with RUNTIME.lock:
            ca: CertificateAuthority = self.acmpca_backend.describe_certificate_authority(ca_arn)
            own_root = str(params.get("TemplateArn", "")).endswith(ROOT_CA_TEMPLATE)
            if ca.status != "ACTIVE" and not (own_root and ca.status == "PENDING_CERTIFICATE"):
                raise InvalidStateException(
                    f"The certificate authority {ca_arn} is not in the correct state to issue certificates: "
                    f"its status is {ca.status}"
                )
            earlier = self.issuance.earlier(ca_arn, token)
            if earlier:
                return json.dumps({"CertificateArn": earlier})
            try:
                x509.load_pem_x509_csr(base64.b64decode(params.get("Csr", "")))
            except ValueError as err:
                raise MalformedCSRException(f"The CSR is not a valid PKCS#10 request: {err}") from err
            certificate_arn = json.loads(super().issue_certificate())["CertificateArn"]
            if not own_root:
                chain = ca.certificate_bytes.strip()
                if ca.certificate_chain:
                    chain += b"\n" + _pem(ca.certificate_chain)
                ca.issued_certificates_certificate_chains[certificate_arn] = chain
            self.issuance.issued(ca_arn, token, certificate_arn)
            return json.dumps({"CertificateArn": certificate_arn})

    def get_certificate(self) -> str:
        params: dict[str, Any] = json.loads(self.body)
        with RUNTIME.lock:
            if self.issuance.pending(params.get("CertificateArn", "")):
                raise RequestInProgressException("The request to issue the certificate is still in progress")
            return super().get_certificate()
