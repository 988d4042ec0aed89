"""Per-instance sandboxes in which SSM AWS-RunShellScript commands really run.

Each EC2 instance gets a directory under the emulator's sandbox root holding a fake
`/opt/cloudhsm` (bin/cloudhsm-cli, bin/configure-cli, etc/) and a `sudo` shim that
just runs its command. Paths starting with `/opt/cloudhsm/` in a script are rewritten
into the sandbox, so `sudo /opt/cloudhsm/bin/configure-cli -a 10.0.0.5` works.
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


def prepare(root: str, instance_id: str) -> Path:
    """Create (once) and return the sandbox directory of an instance."""
    home = Path(root) / instance_id
    bin_dir = home / "opt" / "cloudhsm" / "bin"
    if not bin_dir.exists():
        bin_dir.mkdir(parents=True)
        (home / "opt" / "cloudhsm" / "etc").mkdir()
        (home / "shims").mkdir()
        _tool(bin_dir / "cloudhsm-cli", "cloudhsm_cli.py")
        _tool(bin_dir / "configure-cli", "configure_cli.py")
        sudo = home / "shims" / "sudo"
        sudo.write_text(SUDO_SHIM)
        sudo.chmod(0o755)
    return home


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
