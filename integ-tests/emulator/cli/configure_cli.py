"""Stand-in for `/opt/cloudhsm/bin/configure-cli`: records which HSM (or cluster) to use.

Accepts `-a <HSM IP>` (or `--hsm-ip-address`) and `--cluster-id <id>`, like the real
tool; other options (`--hsm-ca-cert`, `--region`, ...) are accepted and ignored. Writes
`$EMULATOR_CLOUDHSM_ROOT/etc/cloudhsm-cli.cfg`, which the stand-in cloudhsm-cli reads.
"""

import argparse
import json
import os
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="configure-cli")
    parser.add_argument("-a", "--hsm-ip-address", dest="hsm_ip")
    parser.add_argument("--cluster-id")
    parsed, _ignored = parser.parse_known_args(argv)
    if not parsed.hsm_ip and not parsed.cluster_id:
        print("configure-cli: give -a <HSM IP> or --cluster-id <id>", file=sys.stderr)
        return 2
    config = Path(os.environ.get("EMULATOR_CLOUDHSM_ROOT", "/opt/cloudhsm")) / "etc" / "cloudhsm-cli.cfg"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(json.dumps({"hsm_ip": parsed.hsm_ip, "cluster_id": parsed.cluster_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
