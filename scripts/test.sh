#!/usr/bin/env bash
# Runs every test: Rust lints and tests, the construct's tests, the package
# checks (npm tarball, Python wheel used from Python), the example app's
# synthesized template through cfn-lint, and the tests against emulated AWS.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/build.sh"

cd "$ROOT"
log "Rust: rustfmt, clippy, tests"
cargo fmt --all --check
timed "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# The emulator conformance tests run from pytest, which starts the emulator for them.
timed "cargo test" cargo test --workspace --locked --no-fail-fast --exclude emulator-conformance

log "TypeScript: eslint"
timed "eslint" npx eslint --max-warnings 0 construct/src construct/test cdk-app

log "Python: ruff, mypy"
ruff check --config integ-tests/pyproject.toml integ-tests construct/test/python
mypy --config-file integ-tests/pyproject.toml

log "construct: type-check and tests"
(cd construct && npx tsc -p tsconfig.dev.json && node --test --test-reporter=spec 'test/**/*.test.ts')

log "example app: type-check, synth, cfn-lint"
(cd cdk-app && npx tsc -p tsconfig.json && rm -rf cdk.out && npx cdk synth --quiet)
cfn-lint --ignore-checks W3005 -- cdk-app/cdk.out/*.template.json

log "Python consumer: the wheel in a fresh venv synthesizes a stack"
timed "Python consumer test" python -m pytest -q construct/test/python

log "emulated AWS: the emulator's rules, the lifecycle runner, the cluster lifecycles"
timed "tests against emulated AWS" python -m pytest -q integ-tests/tests

log "IAM: which statement of the example app's roles allowed which requests in those tests"
(cd integ-tests && python -m emulator.authz.report .reports/iam-usage.json ../cdk-app/cdk.out/*.template.json)
