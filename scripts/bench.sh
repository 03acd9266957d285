#!/usr/bin/env bash
# `make bench`: benchmarks (never part of `make test`). Prints tables and writes docs/benchmarks.md.
# Plan at scale: plan time and peak RSS against a state recording every window, and the state write
# time, for 10k, 100k and 1M windows (100 enterpret-v2 specs x N hourly windows). Then apply against
# the sandbox (scripts/bench/apply_bench.py): each API's own limits, the vendors' sample scripts, API
# calls per window, and a 1 GiB download against curl; then (scripts/bench/scale_bench.py) bulk loads
# into SQLite and PostgreSQL and 1, 2, 4 workers sharing a plan. Medians of 3 runs (BENCH_RUNS).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(${SWIFT:-swift} build -c release ${SWIFT_FLAGS:-} --show-bin-path)/sluice"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
runs=${BENCH_RUNS:-3}
sizes=${BENCH_SIZES:-"100 1000 10000"}

# Runs a command, printing "seconds peak_kib" (GNU time).
measure() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

rows=()
for per in $sizes; do
  dir="$work/w$per"
  python3 scripts/bench/gen_plan_workload.py "$dir" 100 "$per" >/dev/null
  windows=$((100 * per))
  plan_s=(); plan_kib=(); write_s=()
  for _ in $(seq "$runs"); do
    read -r s kib < <(measure "$bin" plan "$dir/specs" --state "$dir/state.json" --now 2030-01-01T00:00:00Z --refresh=false)
    plan_s+=("$s"); plan_kib+=("$kib")
    # A state write: load + save of the whole state (forgetting one window), minus a load alone.
    cp "$dir/state.json" "$dir/copy.json"
    read -r ws _ < <(measure "$bin" state rm spec-050@2020-01-01T00:00:00Z --state "$dir/copy.json")
    read -r ls _ < <(measure "$bin" state list --state "$dir/copy.json")
    write_s+=("$(awk -v a="$ws" -v b="$ls" 'BEGIN { print a - b }')")
    rm -f "$dir/copy.json" "$dir/copy.json.backup"
  done
  p=$(printf '%s\n' "${plan_s[@]}" | median)
  m=$(printf '%s\n' "${plan_kib[@]}" | median)
  w=$(printf '%s\n' "${write_s[@]}" | median)
  rows+=("| $windows | $p s | $((m / 1024)) MiB | $(printf '%.2f' "$w") s |")
  rm -rf "$dir"
done

# Sandbox start: from launching `sluice sandbox` to both base URLs printed (ready to serve).
start_ms=()
for _ in 1 2 3 4 5; do
  log="$work/sandbox.log"
  t0=$(date +%s%N)
  "$bin" sandbox --port 0 --storage-port 0 >"$log" 2>&1 &
  pid=$!
  until grep -q '^storage: ' "$log"; do sleep 0.005; done
  t1=$(date +%s%N)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  start_ms+=("$(( (t1 - t0) / 1000000 ))")
done
sandbox_ms=$(printf '%s\n' "${start_ms[@]}" | median)
echo "sandbox ready in ${sandbox_ms} ms (median of 5; target < 1000 ms)"

echo "validate benchmark (10,000 specs)..."
python3 scripts/bench/validate_bench.py "$bin" --markdown "$work/validate.md" >/dev/null

echo "apply benchmarks (several minutes)..."
python3 scripts/bench/apply_bench.py "$bin" "$work/apply.md" >/dev/null

# `sluice status` at 1M windows, its HTML in headless Chromium (docs/status.png), plan's estimate vs apply.
echo "status benchmarks (a few minutes)..."
python3 scripts/bench/status_bench.py "$bin" "$work/status.md" >/dev/null
# The file state at scale: apply 12 windows against 0 / 100k / 1M recorded windows, plan 1M, and a
# backfill curve (scripts/bench/state_bench.py; BENCH_BASELINE=OTHER_SLUICE adds a before column).
echo "state benchmarks (several minutes)..."
python3 scripts/bench/state_bench.py "$bin" "$work/state.md" ${BENCH_BASELINE:+--baseline "$BENCH_BASELINE"} >/dev/null

# Refresh (issue 17): plan of 100,000 complete directory windows with --refresh=false / true / full.
echo "refresh benchmark (a few minutes the first time: it writes 100,000 window folders)..."
{
  echo "## Refresh at scale (issue 17)"
  echo
  echo "\`sluice plan\` of 100,000 complete enterpret-v2 windows (10 specs x 10,000 hourly) whose directory"
  echo "destination holds every window as sluice publishes it (folder, \`_manifest.json\`, one file), page"
  echo "cache warm, medians of 3 after a warm-up (scripts/bench/refresh_bench.py). Target: refresh of"
  echo "100,000 directory windows <= 2 s by default. S3 refresh makes one ListObjectsV2 per spec (paged)."
  echo
  python3 scripts/bench/refresh_bench.py "$bin" "$work/refresh-table.md" >/dev/null
  cat "$work/refresh-table.md"
} > "$work/refresh.md"

# The overlap (issue 38): a 16-window backfill per provider whose request reaches past the window's end,
# against the default sandbox (inclusive `to`) and the provider's *-exclusive-to variant, in one run.
echo "overlap benchmark (a few minutes)..."
{
  echo "## Overlap (issue 38)"
  echo
  echo "OpenWeb, Coveo and Userpilot ask for \`to\` = e so that no reading of the vendor's \`to\` loses a record;"
  echo "under the inclusive reading (the sandbox's default) the records at e come too and are trimmed. Each row"
  echo "is a 16-window backfill run against the default sandbox and against its \`*-exclusive-to\` variant (the"
  echo "request is then the window exactly: what the earlier \`to\` = e − 1 unit fetched under the inclusive"
  echo "reading), medians of $runs (scripts/bench/overlap_bench.py). The windows hold the same records both ways."
  echo
  python3 scripts/bench/overlap_bench.py "$bin" "$work/overlap-table.md" >/dev/null
  cat "$work/overlap-table.md"
} > "$work/overlap.md"

# Bulk loads into SQLite and PostgreSQL, and workers sharing a plan: `make bench` runs this script under
# scripts/test-services.sh, which provides the PostgreSQL server.
if [ -n "${SLUICE_TEST_POSTGRES_URL:-}" ]; then
  echo "scale benchmarks (several minutes)..."
  python3 scripts/bench/scale_bench.py "$bin" "$work/scale.md" >/dev/null
else
  printf '## Bulk load and workers\n\nNot run: no PostgreSQL (run `make bench`, which starts one).\n' > "$work/scale.md"
fi

table="| windows | plan (median) | plan peak RSS | state write (median) |
|---|---|---|---|
$(printf '%s\n' "${rows[@]}")"
echo "$table"

{
  echo "# Benchmarks"
  echo
  echo "Produced by \`make bench\` (scripts/bench.sh, scripts/bench/apply_bench.py) on $(date -u +%Y-%m-%d), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB,"
  echo "$(uname -sr), release build. Medians of $runs runs; machines here are shared and noisy."
  echo
  echo "## Plan at scale"
  echo
  echo "100 enterpret-v2 specs with N hourly windows each, against a state that records every window as"
  echo "exported (so every window is compared, and all are unchanged). \"plan\" is the whole command:"
  echo "validate the specs, load the state, plan, print. \"state write\" is \`sluice state rm\` of one window"
  echo "(load + atomic save of the whole state, fsync included) minus \`sluice state list\` (load alone)."
  echo "Targets at 1M windows: plan <= 2 s and <= 512 MiB, state write <= 2 s."
  echo
  echo "$table"
  echo
  echo "## Sandbox start"
  echo
  echo "From launching \`sluice sandbox --port 0 --storage-port 0\` to both base URLs printed (the listeners"
  echo "are bound and serving): ${sandbox_ms} ms, median of 5 (target < 1 s)."
  echo
  cat "$work/validate.md"
  echo
  cat "$work/apply.md"
  echo
  cat "$work/status.md"
  cat "$work/state.md"
  echo
  cat "$work/refresh.md"
  echo
  cat "$work/overlap.md"
  echo
  cat "$work/scale.md"
} > docs/benchmarks.md
cat "$work/apply.md" "$work/status.md" "$work/scale.md"
echo "wrote docs/benchmarks.md"
