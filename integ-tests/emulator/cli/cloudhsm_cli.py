"""Stand-in for AWS CloudHSM CLI (SDK 5) `cloudhsm-cli`, talking to the emulator over HTTP.

Single command mode, as in the real CLI:
    cloudhsm-cli cluster activate [--password P] [--cluster-id C]
    cloudhsm-cli user create --username U --role crypto-user|admin [--password P]
    cloudhsm-cli user list | user delete --username U --role R
    cloudhsm-cli user change-password --username U --role R [--password P]
    cloudhsm-cli login --username U --role R [--password P] | logout
    cloudhsm-cli cluster hsm-info
A missing --password is read from stdin (a second line must confirm it, when given).
Credentials come from CLOUDHSM_ROLE and CLOUDHSM_PIN=<username>:<password>, or from a
previous `login` in the same sandbox. The cluster comes from --cluster-id or from the
configuration written by `configure-cli -a <HSM IP>`.

Each request carries the instance it runs on and the content of the HSM CA certificate
file (`etc/customerCA.crt`, or configure-cli's `--hsm-ca-cert`): the emulator connects
only through the security groups and with the cluster's trust anchor, as the client does.

Environment set by the emulator: EMULATOR_ENDPOINT, EMULATOR_ACCOUNT_ID,
EMULATOR_REGION, EMULATOR_INSTANCE_ID, EMULATOR_CLOUDHSM_ROOT (the sandbox's /opt/cloudhsm).
"""

import argparse
import json
import os
import sys
import urllib.request
from pathlib import Path

ROOT = Path(os.environ.get("EMULATOR_CLOUDHSM_ROOT", "/opt/cloudhsm"))
CONFIG = ROOT / "etc" / "cloudhsm-cli.cfg"
SESSION = ROOT / "run" / "cli-session.json"
NEEDS_PASSWORD = {"cluster activate", "user create", "user change-password", "login"}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cloudhsm-cli")
    commands = root.add_subparsers(dest="command", required=True)

    def command(sub: argparse._SubParsersAction, name: str, *options: str) -> None:
        p = sub.add_parser(name)
        p.add_argument("--cluster-id")
        for option in options:
            p.add_argument(f"--{option}", required=option != "password")

    cluster = commands.add_parser("cluster").add_subparsers(dest="sub", required=True)
    command(cluster, "activate", "password")
    command(cluster, "hsm-info")
    user = commands.add_parser("user").add_subparsers(dest="sub", required=True)
    command(user, "list")
    command(user, "create", "username", "role", "password")
    command(user, "delete", "username", "role")
    command(user, "change-password", "username", "role", "password")
    command(commands, "login", "username", "role", "password")
    command(commands, "logout")
    return root


def read_password() -> str:
    """The password from stdin, as typed at the real CLI's prompt(s)."""
    lines = sys.stdin.read().splitlines() if not sys.stdin.isatty() else []
    if not lines:
        return ""
    if len(lines) > 1 and lines[1] != lines[0]:
        raise SystemExit(emit({"error_code": 1, "data": "Passwords do not match"}))
    return lines[0]


def credentials() -> dict | None:
    """Credentials from CLOUDHSM_PIN/CLOUDHSM_ROLE, else from a `login` session."""
    pin, role = os.environ.get("CLOUDHSM_PIN"), os.environ.get("CLOUDHSM_ROLE")
    if pin and role and ":" in pin:
        username, password = pin.split(":", 1)
        return {"username": username, "password": password, "role": role}
    if SESSION.exists():
        return json.loads(SESSION.read_text())
    return None


def ca_certificate(config: dict) -> str | None:
    """The content of the HSM CA certificate file the TLS connection checks HSMs against."""
    path = Path(config.get("hsm_ca_cert") or ROOT / "etc" / "customerCA.crt")
    return path.read_text() if path.is_file() else None


def call(operation: str, args: dict, cluster_id: str | None) -> dict:
    config = json.loads(CONFIG.read_text()) if CONFIG.exists() else {}
    request = {
        "account_id": os.environ["EMULATOR_ACCOUNT_ID"],
        "region": os.environ["EMULATOR_REGION"],
        "instance_id": os.environ.get("EMULATOR_INSTANCE_ID"),
        "ca_certificate": ca_certificate(config),
        "cluster_id": cluster_id or config.get("cluster_id"),
        "hsm_ip": config.get("hsm_ip"),
        "operation": operation,
        "args": args,
        "credentials": credentials(),
    }
    http = urllib.request.Request(
        os.environ["EMULATOR_ENDPOINT"] + "/_emulator/hsm-cli",
        data=json.dumps(request).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(http, timeout=30) as response:
        return json.loads(response.read())


def emit(output: dict) -> int:
    print(json.dumps(output, indent=2))
    return 0 if output.get("error_code") == 0 else 1


def main(argv: list[str]) -> int:
    parsed = parser().parse_args(argv)
    operation = " ".join(filter(None, [parsed.command, getattr(parsed, "sub", None)]))
    args = {k: v for k, v in vars(parsed).items() if k not in ("command", "sub", "cluster_id") and v is not None}
    if operation in NEEDS_PASSWORD and "password" not in args:
        args["password"] = read_password()
    output = call(operation, args, parsed.cluster_id)
    if output.get("error_code") == 0 and operation == "login":
        SESSION.parent.mkdir(parents=True, exist_ok=True)
        SESSION.write_text(json.dumps({"username": args["username"], "role": args["role"], "password": args["password"]}))
    if output.get("error_code") == 0 and operation == "logout":
        SESSION.unlink(missing_ok=True)
    return emit(output)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
