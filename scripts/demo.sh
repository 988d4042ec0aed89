#!/usr/bin/env bash
# The main job: build the library and synthesize the example app.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bash "$ROOT/scripts/build.sh"
cd "$ROOT/cdk-app"
rm -rf cdk.out
timed "cdk synth of the example app" npx cdk synth --quiet
template="$ROOT/cdk-app/cdk.out/CloudHsmExample.template.json"
log "template: $template"
log "resources: $(node -e 'const t=require(process.argv[1]);const c={};for(const r of Object.values(t.Resources))c[r.Type]=(c[r.Type]||0)+1;console.log(Object.entries(c).map(([k,v])=>`${v} ${k}`).join(", "))' "$template")"
