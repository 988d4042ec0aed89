#!/usr/bin/env bash
# Builds everything: the Rust handlers (arm64 and x86_64), the jsii library,
# and its npm and Python packages (construct/dist/).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/setup.sh"
bash "$ROOT/scripts/build-handlers.sh"
cd "$ROOT/construct"
timed "jsii compile" npx jsii --silence-warnings=reserved-word
timed "jsii-pacmak (npm + Python packages)" npx jsii-pacmak --targets js python
log "packages: $(cd "$ROOT/construct" && ls dist/js/*.tgz dist/python/*.whl | tr '\n' ' ')"
