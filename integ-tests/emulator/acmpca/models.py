"""What moto's Private CA lacks: idempotency tokens and pending issuance.

`IssuanceBackend` (one per account and region) remembers, per CA, the idempotency
tokens of the last five (scaled) minutes and when each certificate becomes
retrievable. moto's own backend keeps the CAs and the certificates.
"""

from moto.core.base_backend import BackendDict, BaseBackend

from ..core.runtime import RUNTIME

# AWS seconds, divided by the time scale like every other latency.
TOKEN_LIFETIME = 300.0
ISSUE_LATENCY = 10.0


class IssuanceBackend(BaseBackend):
    """Idempotency tokens and issue times of one account and region."""

    def __init__(self, region_name: str, account_id: str):
        super().__init__(region_name, account_id)
        # (CA ARN, token) -> (certificate ARN, when the token was first used)
        self.tokens: dict[tuple[str, str], tuple[str, float]] = {}
        # certificate ARN -> when GetCertificate starts returning it
        self.ready_at: dict[str, float] = {}

    def earlier(self, ca_arn: str, token: str | None) -> str | None:
        """The certificate an unexpired token was first used for, whatever the CSR was then."""
        if not token:
            return None
        found = self.tokens.get((ca_arn, token))
        if found is None or RUNTIME.now() - found[1] > TOKEN_LIFETIME / RUNTIME.time_scale:
            return None
        return found[0]

    def issued(self, ca_arn: str, token: str | None, certificate_arn: str) -> None:
        now = RUNTIME.now()
        if token:
            self.tokens[(ca_arn, token)] = (certificate_arn, now)
        self.ready_at[certificate_arn] = now + ISSUE_LATENCY / RUNTIME.time_scale

    def pending(self, certificate_arn: str) -> bool:
        return RUNTIME.now() < self.ready_at.get(certificate_arn, 0.0)


issuance_backends = BackendDict(IssuanceBackend, "acm-pca")
