#!/usr/bin/env bash
# Installs every tool the build and tests need. Idempotent: a second run on a
# ready machine takes about a second.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt "$NODE_MAJOR" ]; then
  log "installing Node $NODE_MAJOR ($NODE_PACKAGE) into .tools/node"
  mkdir -p "$TOOLS/node"
  npm install --no-save --no-audit --no-fund --prefix "$TOOLS/node" "$NODE_PACKAGE" >/dev/null
  hash -r
  [ "$(node_major)" -ge "$NODE_MAJOR" ] || { echo "Node $NODE_MAJOR did not install" >&2; exit 1; }
fi

stamp="$VENV/.requirements.sha256"
want="$(sha256sum "$ROOT/requirements-dev.txt" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing the Python tools into .venv"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet -r "$ROOT/requirements-dev.txt"
  echo "$want" > "$stamp"
fi

for target in aarch64-unknown-linux-gnu x86_64-unknown-linux-gnu; do
  if ! rustup target list --installed | grep -qx "$target"; then
    log "adding the Rust target $target"
    rustup target add "$target"
  fi
done
for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    rustup component add "$component"
  fi
done

lock="$ROOT/package-lock.json"
stamp="$ROOT/node_modules/.lock.sha256"
if [ -f "$lock" ]; then
  want="$(sha256sum "$lock" | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing npm packages (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
  fi
else
  log "no package-lock.json yet: npm install"
  (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error)
fi
