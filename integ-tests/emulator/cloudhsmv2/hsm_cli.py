"""Server side of the stand-in `cloudhsm-cli`: the HSM user database operations.

The CLI script (../cli/cloudhsm_cli.py) parses arguments like AWS CloudHSM CLI (SDK 5)
and POSTs one operation to `/_emulator/hsm-cli`, with the instance it runs on and the
content of its `customerCA.crt`; this module connects as the client would (network.py:
security group rules both ways, the trust anchor) and answers with the CLI's JSON
shape `{"error_code": 0, "data": ...}` (non-zero error_code on failure).
"""

import re
from typing import Any

from ..core.runtime import RUNTIME
from . import network
from .exceptions import CloudHsmClientError
from .models import Cluster, HsmUser, cloudhsmv2_backends

ROLES = ("admin", "crypto-user")
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,31}$")


class CliError(Exception):
    """A failed CLI operation; its message becomes the `data` of the JSON output."""


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one CLI operation and return the CLI's JSON output."""
    with RUNTIME.lock:
        try:
            operation = OPERATIONS.get(request.get("operation", ""))
            if operation is None:
                raise CliError(f"unknown operation {request.get('operation')!r}")
            cluster = _connect(request)
            return {"error_code": 0, "data": operation(cluster, request.get("args") or {}, request.get("credentials"))}
        except CliError as err:
            return {"error_code": 1, "data": str(err)}


def _connect(request: dict[str, Any]) -> Cluster:
    """The cluster the CLI is configured for, reachable through at least one ACTIVE HSM."""
    account_id, region = str(request.get("account_id", "")), str(request.get("region", ""))
    if region not in cloudhsmv2_backends[account_id]:
        raise CliError(f"Failed to connect: no CloudHSM in region {region!r}")
    hsm_backend = cloudhsmv2_backends[account_id][region]
    cluster_id, hsm_ip = request.get("cluster_id"), request.get("hsm_ip")
    if cluster_id:
        try:
            cluster = hsm_backend.get_cluster(cluster_id)
        except CloudHsmClientError as err:
            raise CliError(f"Cluster {cluster_id} not found") from err
    elif hsm_ip:
        found = [c for c in hsm_backend.clusters.values() if c.find_hsm(eni_ip=hsm_ip)]
        if not found:
            raise CliError(f"Failed to connect to HSM at {hsm_ip}: no HSM has this address")
        cluster = found[0]
    else:
        raise CliError("No cluster configured: run configure-cli -a <HSM IP> or pass --cluster-id")
    active = cluster.active_hsms()
    if not active:
        raise CliError(f"Failed to connect to cluster {cluster.cluster_id}: it has no ACTIVE HSM")
    # The client connects to the HSM it was configured with (any one of the cluster's otherwise).
    hsm = next((h for h in active if h.eni_ip == hsm_ip), active[0])
    try:
        network.check_path(account_id, region, request.get("instance_id"), cluster, hsm)
        network.check_trust_anchor(cluster, hsm, request.get("ca_certificate"))
    except network.Unreachable as err:
        raise CliError(str(err)) from err
    return cluster


def _password(args: dict[str, Any]) -> str:
    password = args.get("password") or ""
    if not 7 <= len(password) <= 32:
        raise CliError("Password must be 7 to 32 characters long")
    return password


def _user(cluster: Cluster, username: str, role: str) -> HsmUser:
    user = cluster.users.get(username.lower())
    if user is None or user.role != role:
        raise CliError(f"User {username} with role {role} not found")
    return user


def _authenticate(cluster: Cluster, credentials: dict[str, Any] | None, role: str | None = None) -> HsmUser:
    """The user behind CLOUDHSM_PIN/CLOUDHSM_ROLE (or a login session), checked."""
    if not credentials:
        raise CliError("Not logged in: set CLOUDHSM_ROLE and CLOUDHSM_PIN=<username>:<password>, or log in first")
    user = cluster.users.get(str(credentials.get("username", "")).lower())
    if user is None or user.role != credentials.get("role") or user.password != credentials.get("password"):
        raise CliError("Invalid username, role or password")
    if role and user.role != role:
        raise CliError(f"This operation needs the {role} role; {user.username} is {user.role}")
    return user


def _activate(cluster: Cluster, args: dict[str, Any], credentials: Any) -> str:
    if cluster.state == "ACTIVE":
        raise CliError("Cluster is already activated")
    if cluster.state != "INITIALIZED":
        raise CliError(f"Cluster {cluster.cluster_id} is {cluster.state}: initialize it before activating")
    admin = cluster.users["admin"]
    admin.password = _password(args)
    admin.role = "admin"
    cluster.state = "ACTIVE"
    return "Cluster activation successful"


def _user_list(cluster: Cluster, args: dict[str, Any], credentials: Any) -> dict[str, Any]:
    active = [hsm.hsm_id for hsm in cluster.active_hsms()]
    users = [user.public_json(active) for user in cluster.users.values()]
    appliance = {
        "username": "app_user",
        "role": "internal(APPLIANCE_USER)",
        "locked": "false",
        "mfa": [],
        "cluster-coverage": "full",
    }
    return {"users": users + [appliance]}


def missing_on(cluster: Cluster, username: str, hsm_ids: list[str]) -> dict[str, Any]:
    """Emulator knob: the user is absent from these HSMs' user databases (they fell out of sync)."""
    user = cluster.users.get(username.lower())
    if user is None:
        raise CliError(f"User {username} not found")
    unknown = [h for h in hsm_ids if cluster.find_hsm(hsm_id=h) is None]
    if unknown:
        raise CliError(f"Cluster {cluster.cluster_id} has no HSM {', '.join(unknown)}")
    user.missing_on = set(hsm_ids)
    return {"username": user.username, "missing_on": sorted(user.missing_on)}


def _user_create(cluster: Cluster, args: dict[str, Any], credentials: Any) -> dict[str, str]:
    _authenticate(cluster, credentials, "admin")
    username, role = str(args.get("username", "")), args.get("role")
    if not _USERNAME.match(username):
        raise CliError("Username must be 1 to 31 letters, digits or underscores")
    if role not in ROLES:
        raise CliError(f"Role must be one of {', '.join(ROLES)}")
    if username.lower() in cluster.users:
        raise CliError(f"User {username.lower()} already exists")
    cluster.users[username.lower()] = HsmUser(username.lower(), role, _password(args))
    return {"username": username.lower(), "role": role}


def _user_delete(cluster: Cluster, args: dict[str, Any], credentials: Any) -> dict[str, str]:
    admin = _authenticate(cluster, credentials, "admin")
    user = _user(cluster, str(args.get("username", "")), str(args.get("role", "")))
    if user is admin:
        raise CliError("You cannot delete the user you are logged in as")
    del cluster.users[user.username]
    return {"username": user.username, "role": user.role}


def _user_change_password(cluster: Cluster, args: dict[str, Any], credentials: Any) -> dict[str, str]:
    caller = _authenticate(cluster, credentials)
    user = _user(cluster, str(args.get("username", "")), str(args.get("role", "")))
    if caller is not user and caller.role != "admin":
        raise CliError("Only an admin can change another user's password")
    user.password = _password(args)
    return {"username": user.username, "role": user.role}


def _login(cluster: Cluster, args: dict[str, Any], credentials: Any) -> dict[str, str]:
    login = {"username": args.get("username"), "role": args.get("role"), "password": args.get("password")}
    user = _authenticate(cluster, login)
    user.logged_in = True
    return {"username": user.username, "role": user.role}


def _logout(cluster: Cluster, args: dict[str, Any], credentials: Any) -> str:
    user = _authenticate(cluster, credentials)
    user.logged_in = False
    return "Logout successful"


def _hsm_info(cluster: Cluster, args: dict[str, Any], credentials: Any) -> dict[str, Any]:
    return {
        "hsms": [
            {
                "vendor": "Marvell Semiconductors, Inc.",
                "model": cluster.hsm_type,
                "hsm-id": h.hsm_id,
                "ip": h.eni_ip,
                "state": h.state,
            }
            for h in cluster.hsms
        ]
    }


OPERATIONS = {
    "cluster activate": _activate,
    "cluster hsm-info": _hsm_info,
    "user list": _user_list,
    "user create": _user_create,
    "user delete": _user_delete,
    "user change-password": _user_change_password,
    "login": _login,
    "logout": _logout,
}
