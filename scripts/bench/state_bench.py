#!/usr/bin/env python3
"""`make bench`, state part: what the file state costs apply and plan as it grows.

1. apply 12 new OpenWeb windows against an empty file state and against states holding 100k and 1M
   windows (10 and 100 enterpret-v2 specs x 10,000 hourly windows, scripts/bench/gen_plan_workload.py);
2. plan 1M windows against the full 1M state;
3. a backfill from an empty state: 2k, 5k, 10k, 20k daily OpenWeb windows, total time and the state's
   time per change (SLUICE_STATE_TIMINGS, which the file store fills when it releases its lock);
4. with PostgreSQL (SLUICE_TEST_POSTGRES_URL, as scripts/test-services.sh sets it, and psql): 1 and 2 again with
   the same states copied into PostgreSQL by `sluice state migrate`, runs alternating with the file store's,
   and plan at every size for both.

With --baseline OTHER_SLUICE the same workloads run with that binary too (a build of the commit before),
so ratios come from one run; the baseline's backfill stops at BENCH_BASELINE_BACKFILL_MAX windows (its
cost per change grows with the state). Prints progress to stderr and writes a Markdown fragment.

usage: state_bench.py SLUICE_BINARY OUTPUT.md [--baseline OTHER_SLUICE]
env: BENCH_GEN_DIR (reuse states generated as DIR/genN), BENCH_RUNS=3, BENCH_SPEED=100, BENCH_STATE_SIZES="0 100000 1000000",
     BENCH_BACKFILL="2000 5000 10000 20000", BENCH_BASELINE_BACKFILL_MAX=5000
"""
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

args = sys.argv[1:]
BASELINE = None
if "--baseline" in args:
    k = args.index("--baseline")
    BASELINE = os.path.abspath(args[k + 1])
    del args[k:k + 2]
BIN, OUT = os.path.abspath(args[0]), args[1]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
# 100, not 1000: at --speed 1000 OpenWeb's one-hour download links last 3.6 s, and a backfill of 5,000
# windows whose commits wait on fsync drew "403 Request has expired" and submitted windows again.
SPEED = float(os.environ.get("BENCH_SPEED", "100"))
SIZES = [int(x) for x in os.environ.get("BENCH_STATE_SIZES", "0 100000 1000000").split()]
BACKFILL = [int(x) for x in os.environ.get("BENCH_BACKFILL", "2000 5000 10000 20000").split()]
BASELINE_BACKFILL_MAX = int(os.environ.get("BENCH_BASELINE_BACKFILL_MAX", "5000"))
NOW = "2030-01-01T00:00:00Z"
HERE = os.path.dirname(os.path.abspath(__file__))

sys.path.insert(0, HERE)
from benchlib import Sandbox, log, ms  # noqa: E402


def write_openweb(folder, endpoint, start, days):
    end = (datetime.date.fromisoformat(start) + datetime.timedelta(days=days)).isoformat()
    spec = {"name": "bench-openweb", "provider": "openweb", "auth": {"tokenEnv": "BENCH_TOKEN"}, "endpoint": endpoint,
            "window": {"start": start + "T00:00:00Z", "end": end + "T00:00:00Z", "step": "P1D"}, "filters": {},
            "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}}
    os.makedirs(os.path.join(folder, "ow"), exist_ok=True)
    with open(os.path.join(folder, "ow", "spec.json"), "w") as f:
        json.dump(spec, f)


def timed(cmd, cwd, env=None):
    """Wall seconds and peak RSS (MiB) of a command, via GNU time."""
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        log(p.stdout[-1500:], p.stderr[-1500:])
        raise SystemExit(f"failed: {' '.join(cmd)}")
    rss = int(p.stderr.strip().splitlines()[-1]) / 1024
    return wall, rss


PG_URL = os.environ.get("SLUICE_TEST_POSTGRES_URL") if shutil.which("psql") else None


def apply(binary, folder, env, parallelism=4, state="state.json"):
    cmd = [binary, "apply", "ow", "--auto-approve", "--now", NOW, "--output", "out", "--state", state,
           "--log-format", "json", "--parallelism", str(parallelism), "--poll-interval", ms(1 / SPEED),
           "--poll-max", ms(10 / SPEED), "--limit-window", ms(60 / SPEED)]
    return timed(cmd, folder, env)


def timings(path):
    """The file store's last timing line, as a dict of floats."""
    if not os.path.exists(path):
        return {}
    lines = open(path).read().split("\n")
    last = [line for line in lines if line.strip()][-1]
    out = {}
    for part in last.split():
        key, value = part.split("=", 1)
        try:
            out[key] = float(value)
        except ValueError:
            pass
    os.remove(path)
    return out


def rewrite_by_sluice(path):
    """gen_plan_workload.py writes the state without the spec index sluice writes after the specs; a state
    sluice has written once (any compaction, `state migrate`) has it, so the benchmark measures that."""
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - (1 << 20)))
        if b'"specIndex"' in f.read():
            return
    rewritten = path + ".sluice"
    subprocess.run([BIN, "state", "migrate", "--state", path, "--to", rewritten], check=True, capture_output=True)
    os.replace(rewritten, path)
    for leftover in (path + ".backup", rewritten + ".backup"):
        if os.path.exists(leftover):
            os.remove(leftover)


def binaries():
    return [("before", BASELINE), ("after", BIN)] if BASELINE else [("after", BIN)]


def no_refresh(binary):
    """`--refresh=false` for builds that refresh (issue 17): plan's time is measured, not the
    generated state's missing folders."""
    helps = subprocess.run([binary, "plan", "--help"], capture_output=True, text=True).stdout
    return ["--refresh=false"] if "--refresh" in helps else []


def apply_against_states(work, sandbox):
    rows = {}
    for size in SIZES:
        folder = os.path.join(work, f"s{size}")
        os.makedirs(folder, exist_ok=True)
        template = None
        reuse = os.environ.get("BENCH_GEN_DIR")
        if size and reuse and os.path.exists(os.path.join(reuse, f"gen{size}", "state.json")):
            gen = os.path.join(reuse, f"gen{size}")  # generated before (BENCH_GEN_DIR/genN), kept
            template = os.path.join(gen, "state.json")
        elif size:
            gen = os.path.join(work, f"gen{size}")
            subprocess.run([sys.executable, os.path.join(HERE, "gen_plan_workload.py"), gen, str(size // 10000), "10000"],
                           check=True, capture_output=True)
            template = os.path.join(gen, "state.json")
        if template:
            rewrite_by_sluice(template)
        write_openweb(folder, sandbox.api, "2029-01-01", 12)
        for label, binary in binaries():
            walls, rsss, state_s = [], [], []
            for _ in range(RUNS):
                shutil.rmtree(os.path.join(folder, "out"), ignore_errors=True)
                for leftover in ("state.json", "state.json.backup", "state.json.journal"):
                    if os.path.exists(os.path.join(folder, leftover)):
                        os.remove(os.path.join(folder, leftover))
                if template:
                    shutil.copyfile(template, os.path.join(folder, "state.json"))
                sandbox.reset()
                tfile = os.path.join(folder, "timings.txt")
                env = dict(os.environ, BENCH_TOKEN="sandbox-token", SLUICE_STATE_TIMINGS=tfile)
                wall, rss = apply(binary, folder, env)
                t = timings(tfile)
                walls.append(wall)
                rsss.append(rss)
                if t:
                    state_s.append(t.get("change_seconds", 0) + t.get("unlock_seconds", 0))
                log(f"apply 12 against {size} windows ({label}): {wall:.2f} s, {rss:.0f} MiB, state {t}")
            rows[(size, label)] = (statistics.median(walls), statistics.median(rsss),
                                   statistics.median(state_s) if state_s else None)
        if size == 1_000_000:
            for label, binary in binaries():
                walls, rsss = [], []
                for _ in range(RUNS):
                    wall, rss = timed([binary, "plan", "specs", "--state", "state.json", "--now", NOW] + no_refresh(binary), gen)
                    walls.append(wall)
                    rsss.append(rss)
                    log(f"plan 1M ({label}): {wall:.2f} s, {rss:.0f} MiB")
                rows[("plan", label)] = (statistics.median(walls), statistics.median(rsss), None)
        if PG_URL:
            rows.update(postgres_against(size, folder, template, gen if size else None, sandbox))
        if template and not template.startswith(reuse or "//"):
            shutil.rmtree(os.path.dirname(template))
    return rows


def psql(sql):
    subprocess.run(["psql", PG_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


def postgres_against(size, folder, template, gen, sandbox):
    """The same 12-window apply with the state in PostgreSQL (a copy of `template` made by `sluice state
    migrate`), runs alternating with the file store's; and plan of the generated specs from both."""
    env = dict(os.environ, BENCH_TOKEN="sandbox-token", SLUICE_STATE_URL=PG_URL)
    psql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    if template:
        subprocess.run([BIN, "state", "migrate", "--state", template, "--to", "postgres", "--force"], env=env,
                       check=True, capture_output=True)
    out = {}
    walls = {"file": [], "postgres": []}
    for _ in range(RUNS):
        for store in ("file", "postgres"):
            shutil.rmtree(os.path.join(folder, "out"), ignore_errors=True)
            if store == "file":
                for leftover in ("state.json", "state.json.backup", "state.json.journal"):
                    if os.path.exists(os.path.join(folder, leftover)):
                        os.remove(os.path.join(folder, leftover))
                if template:
                    shutil.copyfile(template, os.path.join(folder, "state.json"))
            else:
                # The 12 windows the last run added go; the shared plan's tables start empty.
                psql("DO $$ BEGIN IF to_regclass('sluice_windows') IS NOT NULL THEN "
                     "DELETE FROM sluice_windows WHERE spec = 'bench-openweb'; END IF; "
                     "IF to_regclass('sluice_claims') IS NOT NULL THEN DELETE FROM sluice_claims; DELETE FROM sluice_plans; END IF; END $$")
            sandbox.reset()
            wall, _ = apply(BIN, folder, env, state="state.json" if store == "file" else "postgres")
            walls[store].append(wall)
            log(f"apply 12 against {size} windows, {store} state: {wall:.2f} s")
    for store in walls:
        out[("pg-apply", size, store)] = statistics.median(walls[store])
    if gen:
        plans = {"file": [], "postgres": []}
        for _ in range(RUNS):
            for store in plans:
                wall, rss = timed([BIN, "plan", "specs"] + no_refresh(BIN) + ["--state", "state.json" if store == "file" else "postgres",
                                   "--now", NOW], gen, env)
                plans[store].append((wall, rss))
                log(f"plan {size} windows, {store} state: {wall:.2f} s, {rss:.0f} MiB")
        for store in plans:
            out[("pg-plan", size, store)] = (statistics.median(w for w, _ in plans[store]),
                                             statistics.median(r for _, r in plans[store]))
    return out


def backfill(work, sandbox):
    rows = {}
    for n in BACKFILL:
        for label, binary in binaries():
            if label == "before" and n > BASELINE_BACKFILL_MAX:
                continue
            folder = os.path.join(work, f"b{n}-{label}")
            walls, per_change = [], []
            for _ in range(1 if n >= 10000 else RUNS):
                shutil.rmtree(folder, ignore_errors=True)
                write_openweb(folder, sandbox.api, "1970-01-01", n)
                sandbox.reset()
                tfile = os.path.join(folder, "timings.txt")
                env = dict(os.environ, BENCH_TOKEN="sandbox-token", SLUICE_STATE_TIMINGS=tfile)
                wall, _ = apply(binary, folder, env, parallelism=16)
                t = timings(tfile)
                walls.append(wall)
                if t.get("changes"):
                    per_change.append(1000 * (t["change_seconds"] + t.get("unlock_seconds", 0)) / t["changes"])
                log(f"backfill {n} ({label}): {wall:.1f} s, state {t}")
            rows[(n, label)] = (statistics.median(walls), statistics.median(per_change) if per_change else None)
            shutil.rmtree(folder, ignore_errors=True)
    return rows


def main():
    work = tempfile.mkdtemp(prefix="sluice-state-bench-")
    sandbox = Sandbox(BIN, SPEED)
    try:
        applied = apply_against_states(work, sandbox)
        filled = backfill(work, sandbox)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)
    labels = [label for label, _ in binaries()]
    out = ["## File state at scale", "",
           f"`scripts/bench/state_bench.py` (medians of {RUNS} runs; sandbox --speed {SPEED:g}). \"state\" is what the file",
           "store spent recording changes and compacting at the lock's release (SLUICE_STATE_TIMINGS; the build",
           "before the journal has no such timer).", ""]
    out.append("| workload | " + " | ".join(f"{label}: wall | {label}: peak RSS" for label in labels) + " | after: state |")
    out.append("|---|" + "---|---|" * len(labels) + "---|")
    for size in SIZES:
        cells = []
        for label in labels:
            wall, rss, _ = applied[(size, label)]
            cells += [f"{wall:.2f} s", f"{rss:.0f} MiB"]
        state = applied[(size, "after")][2]
        out.append(f"| apply 12 new OpenWeb windows, state of {size:,} windows | " + " | ".join(cells)
                   + (f" | {state:.3f} s |" if state is not None else " | - |"))
    if ("plan", "after") in applied:
        cells = []
        for label in labels:
            wall, rss, _ = applied[("plan", label)]
            cells += [f"{wall:.2f} s", f"{rss:.0f} MiB"]
        out.append("| plan 1,000,000 windows, full state | " + " | ".join(cells) + " | - |")
    if PG_URL:
        out += ["", "PostgreSQL state against the file state (same states, runs alternating; the server as "
                "scripts/test-services.sh starts it):", "",
                "| workload | file | PostgreSQL | ratio |", "|---|---|---|---|"]
        for size in SIZES:
            f, p = applied[("pg-apply", size, "file")], applied[("pg-apply", size, "postgres")]
            out.append(f"| apply 12 new OpenWeb windows, state of {size:,} windows | {f:.2f} s | {p:.2f} s | {p / f:.2f} |")
        for size in SIZES:
            if ("pg-plan", size, "file") in applied:
                (f, fr), (p, pr) = applied[("pg-plan", size, "file")], applied[("pg-plan", size, "postgres")]
                out.append(f"| plan {size:,} windows, full state | {f:.2f} s, {fr:.0f} MiB | {p:.2f} s, {pr:.0f} MiB | {p / f:.2f} |")
    out += ["", "Backfill from an empty state (daily OpenWeb windows, --parallelism 16):", "",
            "| windows | " + " | ".join(f"{label}: total" for label in labels) + " | after: state per change |",
            "|---|" + "---|" * len(labels) + "---|"]
    for n in BACKFILL:
        cells = []
        for label in labels:
            r = filled.get((n, label))
            cells.append(f"{r[0]:.1f} s" if r else "not run")
        per = filled[(n, "after")][1]
        out.append(f"| {n:,} | " + " | ".join(cells) + (f" | {per:.3f} ms |" if per is not None else " | - |"))
    with open(OUT, "w") as f:
        f.write("\n".join(out) + "\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
