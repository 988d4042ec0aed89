#!/usr/bin/env bash
# Builds every Lambda handler for arm64 and x86_64 with cargo-lambda and puts
# the binaries where the construct ships them:
#   construct/assets/<handler>/<arch>/bootstrap
# plus construct/assets/manifest.json, whose hashes (of the build inputs, not
# of the binaries) become the CDK asset hashes.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ASSETS="$ROOT/construct/assets"

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

manifest_hash() { # handler arch
  node -e 'const m=require(process.argv[1]);process.stdout.write(((m.handlers[process.argv[2]]||{})[process.argv[3]]||{}).hash||"")' \
    "$ASSETS/manifest.json" "$1" "$2" 2>/dev/null || true
}

declare -A HASH
for arch in "${ARCHES[@]}"; do
  HASH[$arch]="$(fingerprint "$arch")"
  fresh=1
  for handler in "${HANDLERS[@]}"; do
    if [ ! -x "$ASSETS/$handler/$arch/bootstrap" ] || [ "$(manifest_hash "$handler" "$arch")" != "${HASH[$arch]}" ]; then
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
      mkdir -p "$ASSETS/$handler/$arch"
      install -m 0755 "$cached/$handler/bootstrap" "$ASSETS/$handler/$arch/bootstrap"
    done
    continue
  fi
  flag="--x86-64"; [ "$arch" = arm64 ] && flag="--arm64"
  out="$CARGO_TARGET_DIR/lambda-$arch"
  bins=(); for handler in "${HANDLERS[@]}"; do bins+=(--bin "$handler"); done
  timed "release build for $arch" \
    cargo lambda build --release --locked "$flag" --lambda-dir "$out" "${bins[@]}" --manifest-path "$ROOT/Cargo.toml"
  for handler in "${HANDLERS[@]}"; do
    mkdir -p "$ASSETS/$handler/$arch" "$cached/$handler"
    install -m 0755 "$out/$handler/bootstrap" "$ASSETS/$handler/$arch/bootstrap"
    install -m 0755 "$out/$handler/bootstrap" "$cached/$handler/bootstrap"
  done
  touch "$cached/complete"
done
# Keep the eight newest cached builds.
if [ -d "$CACHE/handlers" ]; then
  (cd "$CACHE/handlers" && ls -1t | tail -n +9 | xargs -r rm -rf --)
fi

# The manifest lists every handler and architecture with its hash and size.
{
  echo '{'
  echo '  "handlers": {'
  for i in "${!HANDLERS[@]}"; do
    handler="${HANDLERS[$i]}"
    echo "    \"$handler\": {"
    for j in "${!ARCHES[@]}"; do
      arch="${ARCHES[$j]}"
      size=$(stat -c %s "$ASSETS/$handler/$arch/bootstrap")
      sep=","; [ "$j" = $(( ${#ARCHES[@]} - 1 )) ] && sep=""
      echo "      \"$arch\": { \"hash\": \"${HASH[$arch]}\", \"bytes\": $size }$sep"
    done
    sep=","; [ "$i" = $(( ${#HANDLERS[@]} - 1 )) ] && sep=""
    echo "    }$sep"
  done
  echo '  }'
  echo '}'
} > "$ASSETS/manifest.json.tmp"
mv "$ASSETS/manifest.json.tmp" "$ASSETS/manifest.json"
for handler in "${HANDLERS[@]}"; do
  for arch in "${ARCHES[@]}"; do
    log "$handler/$arch/bootstrap: $(stat -c %s "$ASSETS/$handler/$arch/bootstrap") bytes"
  done
done
