"""What a signed HTTP request asks for: its signer's key, its service, action and parameters.

Three wire protocols reach the emulator from the principals IAM evaluates: JSON
(`X-Amz-Target: <prefix>.<Action>`, parameters in the JSON body: CloudHSM, Secrets
Manager, SSM, ACM Private CA, Step Functions, KMS, CloudWatch Logs), query
(`Action=<Action>` in a form body: EC2, IAM, STS) and Lambda's REST paths. The body is
read once and put back for moto.
"""

import io
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/[^/]+/([^/]+)/([^/]+)/aws4_request")
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")


@dataclass(frozen=True)
class SignedRequest:
    access_key_id: str
    region: str
    service: str  # the SigV4 signing name, which is also the IAM prefix of every service used here
    action: str  # the API operation, such as CreateCluster or InvokeFunction
    params: dict[str, Any]
    protocol: str  # "json", "query" or "rest"

    @property
    def iam_action(self) -> str:
        return f"{self.service}:{self.action}"


def read_body(environ: dict[str, Any]) -> bytes:
    """The request body, with a fresh stream left in its place for whoever reads next."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _query_params(body: bytes, query_string: str) -> dict[str, Any]:
    """Form parameters, flat (`IpPermissions.1.FromPort`), first value of each."""
    pairs = urllib.parse.parse_qsl(query_string) + urllib.parse.parse_qsl(body.decode("utf-8", "replace"))
    params: dict[str, Any] = {}
    for key, value in pairs:
        params.setdefault(key, value)
    return params


def parse(environ: dict[str, Any]) -> SignedRequest | None:
    """The signed request, or None when it carries no SigV4 signature (the emulator's own API)."""
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match is None:
        return None
    access_key_id, region, service = match.groups()
    body = read_body(environ)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            params = {}
        return SignedRequest(access_key_id, region, service, target.rsplit(".", 1)[-1], params, "json")
    path = environ.get("PATH_INFO", "")
    invoke = _LAMBDA_INVOKE.match(path)
    if service == "lambda":
        if invoke:
            name = urllib.parse.unquote(invoke.group("name"))
            return SignedRequest(access_key_id, region, service, "InvokeFunction", {"FunctionName": name}, "rest")
        return SignedRequest(access_key_id, region, service, f"{environ.get('REQUEST_METHOD')} {path}", {}, "rest")
    params = _query_params(body, environ.get("QUERY_STRING", ""))
    return SignedRequest(access_key_id, region, service, str(params.get("Action", "")), params, "query")
