#!/usr/bin/env bash
# The main job on a fresh clone: validate the example specs (and, as later stages land, start the
# sandbox, plan and apply them into ./demo-output/).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(${SWIFT:-swift} build ${SWIFT_FLAGS:-} --show-bin-path)/sluice"

echo "== sluice validate specs/examples"
"$bin" validate specs/examples
