#!/usr/bin/env bash
# Benchmarks (never part of `make test`); results go to docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "No benchmarks yet: they arrive with the planner, the sandbox and apply (issues 3 to 6)."
