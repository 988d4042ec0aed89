"""IAM as AWS enforces it: principals, policy evaluation, and the hooks that feed them.

`install()` patches moto so that
- attaching an AWS managed policy (AmazonSSMManagedInstanceCore, say) loads that one
  policy from moto's bundled copy of AWS's managed policies, instead of failing;
- creating a role or changing its policies is noted, for the propagation knob;
- Step Functions' service integrations call as the state machine's role (temporary
  credentials of that role, instead of moto's fixed key), through a client made once
  per role session.
The check itself is `enforce.AUTHORIZER`, called by the WSGI app for every request.
"""

import functools
import json
import sys
import threading
from typing import Any

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, IAMBackend
from moto.stepfunctions.parser.asl.utils import boto_client

from ..core.runtime import RUNTIME
from .enforce import AUTHORIZER
from .principals import Credentials, assume_role

AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@functools.cache
def _managed_policy_data() -> dict[str, Any]:
    return dict(json.loads(aws_managed_policies_data))


def _load_aws_managed(backend: IAMBackend, arn: str) -> None:
    """Put one AWS managed policy into the backend, if AWS has it and it is not there yet."""
    if not arn.startswith(AWS_MANAGED_PREFIX) or arn in backend.managed_policies:
        return
    name = arn.rsplit("/", 1)[-1]
    data = _managed_policy_data().get(name)
    if data is None:
        return
    policy = AWSManagedPolicy.from_data(name, backend.account_id, backend.region_name, data)
    backend.managed_policies[policy.arn] = policy


_moto_attach_role_policy = IAMBackend.attach_role_policy
_moto_put_role_policy = IAMBackend.put_role_policy
_moto_detach_role_policy = IAMBackend.detach_role_policy
_moto_create_role = IAMBackend.create_role


def _attach_role_policy(self: IAMBackend, policy_arn: str, role_name: str) -> None:
    _load_aws_managed(self, policy_arn)
    _moto_attach_role_policy(self, policy_arn, role_name)
    AUTHORIZER.policies_changed(self.get_role(role_name).arn)


def _detach_role_policy(self: IAMBackend, policy_arn: str, role_name: str) -> None:
    _moto_detach_role_policy(self, policy_arn, role_name)
    AUTHORIZER.policies_changed(self.get_role(role_name).arn)


def _put_role_policy(self: IAMBackend, role_name: str, policy_name: str, policy_json: str) -> None:
    _moto_put_role_policy(self, role_name, policy_name, policy_json)
    AUTHORIZER.policies_changed(self.get_role(role_name).arn)


def _create_role(self: IAMBackend, *args: Any, **kwargs: Any) -> Any:
    role = _moto_create_role(self, *args, **kwargs)
    AUTHORIZER.policies_changed(role.arn)
    return role


_moto_boto_client_for = boto_client.boto_client_for


# The clients of Step Functions tasks, by region, service and credentials: boto3 takes tens of
# milliseconds to make one, and the interpreter asks for one per task. Role sessions last until
# the emulator is reset, when this is emptied too.
_TASK_CLIENTS: dict[tuple[str, str, Credentials | None], Any] = {}
_TASK_CLIENTS_LOCK = threading.Lock()


def _boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """A client for a Step Functions task, signed as the state machine's role."""
    role_arn = getattr(state_credentials, "role_arn", None)
    credentials = assume_role(role_arn, "states") if role_arn else None
    key = (region, service, credentials)
    with _TASK_CLIENTS_LOCK:
        client = _TASK_CLIENTS.get(key)
        if client is None:
            client = _moto_boto_client_for(region=region, service=service, state_credentials=state_credentials)
            if credentials is not None:
                import boto3  # noqa: PLC0415 - only the patched path needs it

                client = boto3.client(
                    service_name=service,
                    region_name=region,
                    endpoint_url=client.meta.endpoint_url,
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key,
                    aws_session_token=credentials.session_token,
                    config=client.meta.config,
                )
            _TASK_CLIENTS[key] = client
    return client


def _forget_task_clients() -> None:
    with _TASK_CLIENTS_LOCK:
        _TASK_CLIENTS.clear()


def install() -> None:
    IAMBackend.attach_role_policy = _attach_role_policy  # type: ignore[method-assign]
    IAMBackend.detach_role_policy = _detach_role_policy  # type: ignore[method-assign]
    IAMBackend.put_role_policy = _put_role_policy  # type: ignore[method-assign]
    IAMBackend.create_role = _create_role  # type: ignore[method-assign]
    boto_client.boto_client_for = _boto_client_for
    # The interpreter's modules imported the function by name: point them at ours too.
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is _moto_boto_client_for:
            module.boto_client_for = _boto_client_for  # type: ignore[attr-defined]
    RUNTIME.on_reset(AUTHORIZER.reset)
    RUNTIME.on_reset(_forget_task_clients)
