"""Per-instance sandboxes in which SSM AWS-RunShellScript commands really run.

Each EC2 instance gets a directory under the emulator's sandbox root with shims for
`sudo` (just runs its command), `dnf` (installs from the stand-in package source,
packages.py) and `sleep` (sleeps at the emulator's time scale). A fake `/opt/cloudhsm`
(bin/cloudhsm-cli, bin/configure-cli, etc/) appears only once `dnf install` of the
cloudhsm-cli rpm worked (install_cli). Paths starting with `/opt/cloudhsm/` in a script
are rewritten into the sandbox, so `sudo /opt/cloudhsm/bin/configure-cli -a 10.0.0.5` works.
"""

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CLI_DIR = Path(__file__).resolve().parents[1] / "cli"
SUDO_SHIM = """#!/bin/bash
# Stand-in sudo: drop options (and -u/-g arguments), run the command as is.
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in -u|-g|-C|-h|-p) shift 2 ;; --) shift; break ;; *) shift ;; esac
done
exec "$@"
"""
SLEEP_SHIM = """#!/bin/bash
# Stand-in sleep: N seconds of AWS time pass at the emulator's time scale.
if [[ $# -eq 1 && $1 =~ ^[0-9]+(\\.[0-9]+)?$ && -n ${EMULATOR_TIME_SCALE:-} ]]; then
  exec /bin/sleep "$(awk -v s="$1" -v k="$EMULATOR_TIME_SCALE" 'BEGIN { printf "%.3f", s / k }')"
fi
exec /bin/sleep "$@"
"""


@dataclass
class Outcome:
    """What a finished script produced."""

    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False


def _tool(path: Path, script: str) -> None:
    path.write_text(f'#!/bin/bash\nexec "{sys.executable}" "{CLI_DIR / script}" "$@"\n')
    path.chmod(0o755)


def _shim(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def prepare(root: str, instance_id: str) -> Path:
    """Create (once) and return the sandbox directory of an instance (without the CLI)."""
    home = Path(root) / instance_id
    shims = home / "shims"
    if not shims.exists():
        shims.mkdir(parents=True, exist_ok=True)
        _shim(shims / "sudo", SUDO_SHIM)
        _shim(shims / "dnf", f'#!/bin/bash\nexec "{sys.executable}" "{Path(__file__).with_name("dnf.py")}" "$@"\n')
        _shim(shims / "sleep", SLEEP_SHIM)
    return home


def install_cli(home: Path) -> None:
    """What installing the cloudhsm-cli rpm does: /opt/cloudhsm with the CLI and configure-cli."""
    bin_dir = home / "opt" / "cloudhsm" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    (home / "opt" / "cloudhsm" / "etc").mkdir(exist_ok=True)
    _tool(bin_dir / "cloudhsm-cli", "cloudhsm_cli.py")
    _tool(bin_dir / "configure-cli", "configure_cli.py")


def run(home: Path, commands: list[str], env: dict[str, str], timeout: float) -> Outcome:
    """Run the command lines as one bash script in the sandbox; kill it after `timeout` s."""
    cloudhsm_root = home / "opt" / "cloudhsm"
    script = "\n".join(commands).replace("/opt/cloudhsm/", f"{cloudhsm_root}/") + "\n"
    script_path = home / "_script.sh"
    script_path.write_text(script)
    environment = {
        # The venv's bin holds the AWS CLI (Amazon Linux has it too).
        "PATH": f"{home / 'shims'}:{cloudhsm_root / 'bin'}:{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "EMULATOR_CLOUDHSM_ROOT": str(cloudhsm_root),
        # No instance metadata here: credentials come only from the instance profile (env).
        "AWS_EC2_METADATA_DISABLED": "true",
        **env,
    }
    process = subprocess.Popen(
        ["bash", str(script_path)],
        cwd=home,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        return Outcome(process.returncode, stdout, stderr)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        return Outcome(-1, stdout, stderr, timed_out=True)
