"""Stand-in for `/opt/cloudhsm/bin/configure-cli`: records which HSM (or cluster) to use.

Accepts `-a <HSM IP> [<HSM IP> ...]` (or `--hsm-ip-address`) and `--cluster-id <id>`,
and `--hsm-ca-cert <file>` (default `/opt/cloudhsm/etc/customerCA.crt`), like the real
tool; other options (`--region`, ...) are accepted and ignored. Writes
`$EMULATOR_CLOUDHSM_ROOT/etc/cloudhsm-cli.cfg`, which the stand-in cloudhsm-cli reads.
"""

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="configure-cli")
    parser.add_argument("-a", "--hsm-ip-address", dest="hsm_ips", nargs="+")
    parser.add_argument("--cluster-id")
    parser.add_argument("--hsm-ca-cert")
    parsed, _ignored = parser.parse_known_args(argv)
    if not parsed.hsm_ips and not parsed.cluster_id:
        print("configure-cli: give -a <HSM IP> or --cluster-id <id>", file=sys.stderr)
        return 2
    config = Path(os.environ.get("EMULATOR_CLOUDHSM_ROOT", "/opt/cloudhsm")) / "etc" / "cloudhsm-cli.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    first = parsed.hsm_ips[0] if parsed.hsm_ips else None
    settings = {"hsm_ip": first, "hsm_ips": parsed.hsm_ips or [], "cluster_id": parsed.cluster_id}
    if parsed.hsm_ca_cert:
        settings["hsm_ca_cert"] = parsed.hsm_ca_cert
    config.write_text(json.dumps(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
