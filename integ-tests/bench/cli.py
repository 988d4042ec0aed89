"""`python -m bench`: run every benchmark and rewrite BENCHMARKS.md with its figures.

Needs the handlers built (scripts/build-handlers.sh) and the construct compiled
(jsii), as `npm run bench` (scripts/bench.sh) does first.
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from runner.assets import REPO_ROOT

from . import handlers, provisioning, template
from .report import Report, read_fresh_clone, render

DEFAULT_ROUNDS = 3
DEFAULT_TIME_SCALE = 300.0
DEFAULT_COLD_STARTS = 7
DEFAULT_SYNTHS = 3
DEFAULT_GROWTH_ROUNDS = 1


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory_kib = next(
        int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")
    )

    def output(*command: str) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=30).stdout.strip()
        except OSError:
            return "unknown"

    return {
        "nproc": str(os.cpu_count()),
        "memory": f"{memory_kib / 2**20:.1f} GiB",
        "cpu": cpu,
        "kernel": platform.release(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "node": output("node", "--version"),
        "commit": output("git", "rev-parse", "--short", "HEAD"),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> Report:
    report = Report(machine=machine(), time_scale=args.time_scale, rounds=args.rounds, cold_starts=args.cold_starts)
    work = Path(tempfile.mkdtemp(prefix="cdk-cloudhsm-bench-"))
    report.log_dir = str(work)
    report.fresh_clone = read_fresh_clone()

    log(f"template economy: {args.synths} synths of the example app")
    for i in range(args.synths):
        report.synth_seconds.append(template.timed_synth(work / f"synth{i}"))
    synthesized = template.load(work / "synth0")
    report.counts, report.cluster_counts = template.counts(synthesized)
    report.total_resources = template.total_resources(synthesized)
    report.memory_sizes = template.memory_sizes(synthesized)

    log("handler sizes")
    report.sizes = handlers.sizes()

    log("synthesizing the app variants for the lifecycle and the growth rounds")
    templates = {name: provisioning.synth(work / f"app-{name}", context) for name, context in provisioning.APPS.items()}
    growing = {
        n: provisioning.synth(work / f"app-{n}-hsms", context) for n, context in provisioning.GROWTH_APPS.items()
    }
    report.synth_commands = {
        name: provisioning.synth_command(Path(f"<out>/app-{name}"), context) for name, context in provisioning.APPS.items()
    }
    report.synth_commands.update(
        {
            f"{n}-hsms": provisioning.synth_command(Path(f"<out>/app-{n}-hsms"), context)
            for n, context in provisioning.GROWTH_APPS.items()
        }
    )

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    from emulator import start_emulator
    from emulator.core.runtime import LATENCY

    report.latency = dict(LATENCY)
    emulator = start_emulator(time_scale=args.time_scale)
    try:
        log(f"cold starts: {args.cold_starts} of each handler and of its Python peer, alternating")
        report.cold_starts_measured = handlers.compare(emulator.endpoint, args.cold_starts, work)
        with (work / "lifecycle.log").open("w") as lifecycle_log:
            for i in range(args.rounds):
                log(f"lifecycle round {i + 1} of {args.rounds} at time scale {args.time_scale:g}")
                measured = provisioning.one_round(emulator, templates, lifecycle_log)
                log(provisioning.summary_line(measured))
                report.rounds_measured.append(measured)
            for i in range(args.growth_rounds):
                log(f"growth round {i + 1} of {args.growth_rounds}: {', '.join(map(str, growing))} HSMs")
                measured = provisioning.growth_round(emulator, growing, lifecycle_log)
                log(provisioning.summary_line(measured))
                report.growth_measured.append(measured)
    finally:
        emulator.stop()
    return report


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    top.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS, help=f"lifecycle rounds (default {DEFAULT_ROUNDS})")
    top.add_argument(
        "--time-scale", type=float, default=DEFAULT_TIME_SCALE, help=f"emulator time scale (default {DEFAULT_TIME_SCALE:g})"
    )
    top.add_argument(
        "--cold-starts",
        type=int,
        default=DEFAULT_COLD_STARTS,
        help=f"cold starts per handler and peer (default {DEFAULT_COLD_STARTS})",
    )
    top.add_argument(
        "--growth-rounds",
        type=int,
        default=DEFAULT_GROWTH_ROUNDS,
        help=f"rounds of creates of 2, 6, 12 and 28 HSMs (default {DEFAULT_GROWTH_ROUNDS})",
    )
    top.add_argument("--synths", type=int, default=DEFAULT_SYNTHS, help=f"timed synths (default {DEFAULT_SYNTHS})")
    top.add_argument("--output", default=str(REPO_ROOT / "BENCHMARKS.md"), help="the report to write (default BENCHMARKS.md)")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    report = run(args)
    report.total_seconds = time.monotonic() - started
    # scripts/bench.sh passes when it began, so that setup and build count too.
    if os.environ.get("BENCH_STARTED"):
        report.whole_seconds = time.time() - float(os.environ["BENCH_STARTED"])
    report.command_line = " ".join(["python -m bench", *(argv if argv is not None else sys.argv[1:])]).strip()
    Path(args.output).write_text(render(report))
    log(f"wrote {args.output} in {report.total_seconds / 60:.1f} min (logs in {report.log_dir})")
    return 0
