"""Who signs a request: the administrator, or a role session with temporary credentials.

The runner (playing CloudFormation) and the tests sign with `ADMIN_ACCESS_KEY`, which
is allowed everything. Everything else signs with credentials the emulator issued
through STS AssumeRole (moto's STS backend) for a role: a Lambda function's execution
role, a state machine's role, an instance profile's role. A key the emulator never
issued is refused, as AWS refuses an unknown key.
"""

from dataclasses import dataclass

from moto.iam.models import Role, iam_backends
from moto.sts.models import sts_backends

from ..core.runtime import RUNTIME

ADMIN_ACCESS_KEY = "testing"
ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Principal:
    arn: str  # the session ARN, or the administrator's user ARN
    account: str
    role_arn: str = ""  # empty for the administrator

    @property
    def admin(self) -> bool:
        return not self.role_arn

    @property
    def role_name(self) -> str:
        return self.role_arn.rsplit("/", 1)[-1]

    def role(self) -> Role | None:
        """The IAM role behind the session, if it (still) exists."""
        backend = iam_backends[self.account]["aws"]
        for role in backend.roles.values():
            if role.arn == self.role_arn:
                return role
        return None


ADMIN = Principal(arn=f"arn:aws:iam::{ACCOUNT}:user/administrator", account=ACCOUNT)


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str

    def environment(self) -> dict[str, str]:
        """As the AWS SDKs and CLI read them from the environment."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
        }


_SESSIONS: dict[tuple[str, str], Credentials] = {}


def assume_role(role_arn: str, session_name: str) -> Credentials:
    """Temporary credentials for a role session (STS AssumeRole, as Lambda, Step Functions and EC2 do).

    One session per role and session name until the emulator is reset (credentials of a
    warm process stay valid, as AWS's last hours)."""
    account = role_arn.split(":")[4] or ACCOUNT
    backend = sts_backends[account]["aws"]
    with RUNTIME.lock:
        known = _SESSIONS.get((role_arn, session_name))
        if known is not None and backend.get_assumed_role_from_access_key(known.access_key_id) is not None:
            return known
        session = backend.assume_role(
            region_name="us-east-1",
            role_session_name=session_name[:64],
            role_arn=role_arn,
            policy="",
            duration=43200,
            external_id="",
        )
        credentials = Credentials(session.access_key_id, session.secret_access_key, session.session_token)
        _SESSIONS[(role_arn, session_name)] = credentials
    return credentials


def principal_of(access_key_id: str) -> Principal | None:
    """The principal a key belongs to; None for a key the emulator never issued."""
    if access_key_id == ADMIN_ACCESS_KEY:
        return ADMIN
    backend = sts_backends[ACCOUNT]["aws"]
    session = backend.get_assumed_role_from_access_key(access_key_id)
    if session is None:
        return None
    return Principal(arn=session.arn, account=session.account_id, role_arn=session.role_arn)
