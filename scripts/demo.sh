#!/usr/bin/env bash
# The main job: build the library, synthesize the example app for review,
# then run its whole lifecycle against the local AWS emulator: create (2 AZs x
# 1 HSM), update (2 HSMs per subnet), delete. Arguments go to every synth of
# the example app: `npm run demo -- -c keyStore=destroy` adds a KMS key store
# and a key to the lifecycle. The example's functions run on the host's
# architecture here (its default, arm64, elsewhere).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
app_context=("$@")

# Only what the demo runs: the handlers for this machine's architecture (the
# emulator runs no other) and the library, not the packages.
arch="$(host_arch)"
bash "$ROOT/scripts/setup.sh"
HANDLER_ARCHES="$arch" bash "$ROOT/scripts/build-handlers.sh"
(cd "$ROOT/construct" && timed "jsii compile" npx jsii --silence-warnings=reserved-word)
app_context=(-c "handlerArchitecture=$arch" "${app_context[@]}")
cd "$ROOT/cdk-app"
rm -rf cdk.out cdk.out.emulator
timed "cdk synth of the example app" npx cdk synth --quiet "${app_context[@]}"
template="$ROOT/cdk-app/cdk.out/CloudHsmExample.template.json"
log "template to review: $template"
log "resources: $(node -e 'const t=require(process.argv[1]);const c={};for(const r of Object.values(t.Resources))c[r.Type]=(c[r.Type]||0)+1;console.log(Object.entries(c).map(([k,v])=>`${v} ${k}`).join(", "))' "$template")"

# The template as reviewed: the emulator runs its waits, retries and timeouts on
# its own clock, as it runs AWS's latencies.
npx cdk synth --quiet "${app_context[@]}" -c hsmsPerSubnet=2 -o cdk.out.emulator/update

log "lifecycle against the emulator: create, update to 2 HSMs per subnet, delete"
cd "$ROOT/integ-tests"
timed "the emulated lifecycle" python -m runner lifecycle \
  --template "$template" \
  --update-template "$ROOT/cdk-app/cdk.out.emulator/update/CloudHsmExample.template.json"
