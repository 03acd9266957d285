#!/usr/bin/env bash
# The main job on a fresh clone: start the sandbox (the five imitation APIs, at 60x speed so a provider
# job takes a fraction of a second), validate the example specs, plan them, apply them into
# ./demo-output/, then apply again to show that a second apply has nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(${SWIFT:-swift} build ${SWIFT_FLAGS:-} --show-bin-path)/sluice"
port="${SLUICE_DEMO_PORT:-8480}"

# The example specs point at http://127.0.0.1:8480; every sandbox provider accepts this token.
export OPENWEB_EXPORT_TOKEN=sandbox-token ENTERPRET_API_TOKEN=sandbox-token USERPILOT_API_KEY=sandbox-token COVEO_API_KEY=sandbox-token

echo "== sluice validate specs/examples"
"$bin" validate specs/examples

log="$(mktemp)"
"$bin" sandbox --port "$port" --storage-port "$((port + 1))" --speed 60 >"$log" 2>&1 &
sandbox=$!
trap 'kill "$sandbox" 2>/dev/null || true; wait "$sandbox" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 50); do
  grep -q '^storage: ' "$log" && break
  kill -0 "$sandbox" 2>/dev/null || { cat "$log"; echo "the sandbox did not start (is port $port free? set SLUICE_DEMO_PORT)"; exit 1; }
  sleep 0.1
done
echo "== sluice sandbox"
cat "$log"

state=demo-output/.sluice/state.json
now=2025-01-10T00:00:00Z
echo "== sluice plan specs/examples"
"$bin" plan specs/examples --state "$state" --now "$now"

echo "== sluice apply specs/examples (into ./demo-output/)"
"$bin" apply specs/examples --state "$state" --now "$now" --output demo-output --auto-approve \
  --poll-interval 200ms --log-format plain

echo "== sluice apply specs/examples, again"
"$bin" apply specs/examples --state "$state" --now "$now" --output demo-output --auto-approve --log-format plain

echo "== demo-output/"
find demo-output -name _manifest.json | sort | sed 's|/_manifest.json$||'
