#!/usr/bin/env bash
# Builds every Lambda handler for arm64 and x86_64 with cargo-lambda and puts
# the binaries where the construct ships them:
#   construct/assets/<handler>/<arch>/bootstrap
# plus construct/assets/manifest.json, whose hashes (of the build inputs, not
# of the binaries) become the CDK asset hashes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ "${#HANDLERS[@]}" -gt 0 ] || { echo "no handlers listed: is Node installed (npm run setup)?" >&2; exit 1; }
bootstrap() { node "$ROOT/scripts/handlers.mjs" path "$1" "$2"; }

# What the binaries are made from: handler sources, manifests, the lock file
# and the toolchain. The same inputs give the same hash on every machine.
fingerprint() {
  local arch="$1"
  {
    (cd "$ROOT" && find handlers Cargo.toml Cargo.lock -type f \
      -not -path '*/target/*' -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    rustc -vV
    cargo lambda --version
    python-zig version 2>/dev/null || true
    echo "arch=$arch"
  } | sha256sum | cut -d' ' -f1
}

manifest_hash() { node "$ROOT/scripts/handlers.mjs" hash "$1" "$2"; }

declare -A HASH
for arch in "${ARCHES[@]}"; do
  HASH[$arch]="$(fingerprint "$arch")"
  fresh=1
  for handler in "${HANDLERS[@]}"; do
    if [ ! -x "$(bootstrap "$handler" "$arch")" ] || [ "$(manifest_hash "$handler" "$arch")" != "${HASH[$arch]}" ]; then
      fresh=0
    fi
  done
  if [ "$fresh" = 1 ]; then
    log "handlers for $arch are up to date"
    continue
  fi
  cached="$CACHE/handlers/${HASH[$arch]}"
  if [ -f "$cached/complete" ]; then
    log "handlers for $arch: same inputs as a build on this machine, taken from $cached"
    for handler in "${HANDLERS[@]}"; do
      target="$(bootstrap "$handler" "$arch")"
      mkdir -p "$(dirname "$target")"
      install -m 0755 "$cached/$handler/bootstrap" "$target"
    done
    continue
  fi
  flag="--x86-64"; [ "$arch" = arm64 ] && flag="--arm64"
  out="$CARGO_TARGET_DIR/lambda-$arch"
  bins=(); for handler in "${HANDLERS[@]}"; do bins+=(--bin "$handler"); done
  timed "release build for $arch" \
    cargo lambda build --release --locked "$flag" --lambda-dir "$out" "${bins[@]}" --manifest-path "$ROOT/Cargo.toml"
  for handler in "${HANDLERS[@]}"; do
    target="$(bootstrap "$handler" "$arch")"
    mkdir -p "$(dirname "$target")" "$cached/$handler"
    install -m 0755 "$out/$handler/bootstrap" "$target"
    install -m 0755 "$out/$handler/bootstrap" "$cached/$handler/bootstrap"
  done
  touch "$cached/complete"
done
# Keep the eight newest cached builds.
if [ -d "$CACHE/handlers" ]; then
  (cd "$CACHE/handlers" && ls -1t | tail -n +9 | xargs -r rm -rf --)
fi

# The manifest lists every handler and architecture with its hash and size.
hashes=(); for arch in "${ARCHES[@]}"; do hashes+=("$arch=${HASH[$arch]}"); done
node "$ROOT/scripts/handlers.mjs" manifest "${hashes[@]}"
for handler in "${HANDLERS[@]}"; do
  for arch in "${ARCHES[@]}"; do
    log "$handler/$arch/bootstrap: $(stat -c %s "$(bootstrap "$handler" "$arch")") bytes"
  done
done
