#!/usr/bin/env bash
# Runs every benchmark and rewrites BENCHMARKS.md with the figures of this run:
# provisioning against AWS's lower bound (the example app's lifecycle against
# the emulator), the handlers' size, cold start and memory against a Python
# peer, and the example app's synth time and resource counts.
# Options are passed on to `python -m bench` (--rounds, --time-scale, ...).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BENCH_STARTED="$(date +%s)"
export BENCH_STARTED
bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build-handlers.sh"
(cd "$ROOT/construct" && timed "jsii compile" npx jsii --silence-warnings=reserved-word)
cd "$ROOT/integ-tests"
timed "the benchmarks" python -m bench "$@"
