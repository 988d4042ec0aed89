#!/usr/bin/env bash
# The tests against emulated AWS only: the emulator's rules, the lifecycle
# runner, and the example app's cluster lifecycles with the real handlers.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/build.sh"
cd "$ROOT"
timed "tests against emulated AWS" python -m pytest -q integ-tests/tests
