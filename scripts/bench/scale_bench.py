#!/usr/bin/env python3
"""`make bench`, scale part: bulk loads into the table destinations side by side with `sqlite3 .import` and
`psql \\copy` on the same rows, and apply with 1, 2 and 4
workers sharing one plan through a PostgreSQL state. Needs the servers of scripts/test-services.sh
(SLUICE_TEST_POSTGRES_URL). Prints progress to stderr and writes a Markdown fragment.

usage: scale_bench.py SLUICE_BINARY OUTPUT.md     (env: BENCH_RUNS=3, BENCH_SPEED=10, BENCH_ROWS=200000,
                                                   BENCH_SCALE_ONLY=load for the bulk loads alone)
"""
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid

BIN, OUT = os.path.abspath(sys.argv[1]), sys.argv[2]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SPEED = float(os.environ.get("BENCH_SPEED", "10"))
ROWS = int(os.environ.get("BENCH_ROWS", "200000"))
PG = os.environ.get("SLUICE_TEST_POSTGRES_URL")
JOB_SECONDS = 10.0
NOW = "2025-03-01T00:00:00Z"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Sandbox, log, ms  # noqa: E402


def new_database():
    name = "bench_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", PG, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parts = urllib.parse.urlsplit(PG)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name)), name


def drop_database(name):
    subprocess.run(["psql", PG, "-q", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], capture_output=True)


COLUMNS = ["record_id", "version", "object_id", "source", "created_at", "updated_at", "rating", "language", "author", "text"]


def write_csv(path, rows):
    """The rows `sluice load-bench` generates (an Enterpret v2-like CSV, quoted text with commas)."""
    sources = ["zendesk", "intercom", "appstore", "survey"]
    with open(path, "w") as f:
        f.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            f.write(f"r-{i},{1 + i % 3},feedback_record,{sources[i % 4]},2025-01-01T00:{i % 60:02d}:00Z,"
                    f"2025-01-02T00:00:00Z,{i % 5 + 1},en,user{i % 997}@example.com,"
                    f"\"Feedback number {i}, with a comma and \"\"quotes\"\"\"\n")


def timed(args, **kw):
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"{args[0]} failed: {p.stdout}{p.stderr}")
    return time.monotonic() - t0, p.stdout


def sluice_load(args, csv, env=None):
    _, out = timed([BIN, "load-bench", "--csv", csv] + args, env=env)
    m = re.search(r"loaded (\d+) rows in ([\d.]+) s", out)
    if not m or int(m.group(1)) != ROWS:
        raise SystemExit(f"load-bench: {out}")
    return float(m.group(2))


def bulk_load(work):
    """The same CSV of ROWS rows loaded by `sluice load-bench --csv` (the commit: parse, upsert by key, the
    window's `_sluice_windows` row, one transaction) and by the engine's own loader, into an empty table
    with the same key, then again into the table that now holds every row (sluice: every row an upsert
    that wins; the engine: its loader into a temporary table, then one INSERT ... ON CONFLICT DO UPDATE)."""
    csv = os.path.join(work, "rows.csv")
    write_csv(csv, ROWS)
    cols_sql = ", ".join(f"{c} TEXT" + (" NOT NULL" if c == "record_id" else "") for c in COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    samples = {k: [] for k in ["sqlite", "sqlite3", "postgres", "psql"]}
    for run in range(RUNS):
        # SQLite
        db = os.path.join(work, f"load-{run}.sqlite")
        empty = sluice_load(["--sqlite", db], csv)
        full = sluice_load(["--sqlite", db], csv)
        samples["sqlite"].append((empty, full))
        ref = os.path.join(work, f"ref-{run}.sqlite")
        timed(["sqlite3", ref, f"CREATE TABLE t ({cols_sql}, PRIMARY KEY (record_id)) STRICT"])
        e, _ = timed(["sqlite3", ref, ".mode csv", f".import --skip 1 {csv} t"])
        f, _ = timed(["sqlite3", ref, f"CREATE TEMP TABLE s ({cols_sql}) STRICT", ".mode csv", f".import --skip 1 {csv} s",
                      f"INSERT INTO t SELECT * FROM s WHERE true ON CONFLICT (record_id) DO UPDATE SET {sets}"])
        samples["sqlite3"].append((e, f))
        for path in (db, ref):
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)
        log(f"load sqlite run {run + 1}: sluice {empty:.2f} s / {full:.2f} s, sqlite3 .import {e:.2f} s / {f:.2f} s")
        # PostgreSQL
        url, name = new_database()
        env = dict(os.environ, BENCH_LOAD_URL=url)
        empty = sluice_load(["--postgres-url-env", "BENCH_LOAD_URL"], csv, env)
        full = sluice_load(["--postgres-url-env", "BENCH_LOAD_URL"], csv, env)
        samples["postgres"].append((empty, full))
        timed(["psql", url, "-q", "-c", f"CREATE TABLE t ({cols_sql}, PRIMARY KEY (record_id))"])
        e, _ = timed(["psql", url, "-q", "-c", f"\\copy t FROM '{csv}' WITH (FORMAT csv, HEADER true)"])
        f, _ = timed(["psql", url, "-q", "-c", f"CREATE TEMP TABLE s ({cols_sql})",
                      "-c", f"\\copy s FROM '{csv}' WITH (FORMAT csv, HEADER true)",
                      "-c", f"INSERT INTO t SELECT * FROM s ON CONFLICT (record_id) DO UPDATE SET {sets}"])
        samples["psql"].append((e, f))
        drop_database(name)
        log(f"load postgres run {run + 1}: sluice {empty:.2f} s / {full:.2f} s, psql \\copy {e:.2f} s / {f:.2f} s")
    med = lambda k, i: statistics.median(x[i] for x in samples[k])
    ratio = lambda ours, theirs, i: statistics.median(t[i] / o[i] for o, t in zip(samples[ours], samples[theirs]))
    results = {}
    for engine, tool in [("sqlite", "sqlite3 .import"), ("postgres", "psql \\copy")]:
        ref = "sqlite3" if engine == "sqlite" else "psql"
        results[engine] = dict(tool=tool, empty=med(engine, 0), full=med(engine, 1), ref_empty=med(ref, 0),
                               ref_full=med(ref, 1), ratio_empty=ratio(engine, ref, 0), ratio_full=ratio(engine, ref, 1))
    return results


def write_spec(folder, provider, windows, step, filters, endpoint):
    start = "2025-01-01T00:00:00Z"
    if step == "PT1H":
        end = f"2025-01-0{1 + windows // 24}T{windows % 24:02d}:00:00Z"
        path = "{name}/{start:yyyy-MM-dd/HH}"
    else:
        end = (datetime.date(2025, 1, 1) + datetime.timedelta(days=windows)).isoformat() + "T00:00:00Z"
        path = "{name}/{start:yyyy-MM-dd}"
    spec = {"name": f"scale-{provider}", "provider": provider, "auth": {"tokenEnv": "BENCH_TOKEN"},
            "endpoint": endpoint, "window": {"start": start, "end": end, "step": step},
            "filters": filters, "destination": {"type": "directory", "path": path}}
    os.makedirs(os.path.join(folder, "specs"), exist_ok=True)
    with open(os.path.join(folder, "specs", "spec.json"), "w") as f:
        json.dump(spec, f)


def workers_run(sandbox, folder, workers, parallelism):
    """Plans once into a fresh PostgreSQL state, then runs `workers` apply processes on the saved plan;
    returns the wall time until the last one exits, and the sandbox's counters."""
    url, name = new_database()
    env = dict(os.environ, BENCH_TOKEN="sandbox-token", SLUICE_STATE_URL=url)
    state = ["--state", "postgres", "--state-url-env", "SLUICE_STATE_URL"]
    try:
        p = subprocess.run([BIN, "plan", "specs", "--now", NOW, "--out", "plan.json"] + state, cwd=folder, env=env,
                           capture_output=True, text=True)
        if p.returncode not in (0, 2):
            raise SystemExit(f"plan failed: {p.stdout}{p.stderr}")
        sandbox.reset()
        args = [BIN, "apply", "plan.json", "--auto-approve", "--output", "out", "--log-format", "json",
                "--parallelism", str(parallelism), "--poll-interval", ms(1 / SPEED), "--poll-max", ms(60 / SPEED),
                "--limit-window", ms(60 / SPEED), "--lease", ms(30 / SPEED)] + state
        t0 = time.monotonic()
        procs = [subprocess.Popen(args, cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        outs = [p.communicate() for p in procs]
        wall = time.monotonic() - t0
        for p, (o, e) in zip(procs, outs):
            if p.returncode != 0:
                raise SystemExit(f"a worker failed ({p.returncode}): {e[-2000:]}")
        exported = 0
        for o, _ in outs:
            for line in o.splitlines():
                if line.startswith("{"):
                    event = json.loads(line)
                    if event.get("event") == "finished":
                        exported += event.get("exported", 0)
        return wall, exported, sandbox.stats()
    finally:
        shutil.rmtree(os.path.join(folder, "out"), ignore_errors=True)
        drop_database(name)


def worker_scaling(sandbox, work):
    job = JOB_SECONDS / SPEED
    rows = []
    cases = [
        # Not bound by an API limit: 48 OpenWeb jobs, 4 in flight per worker.
        dict(provider="openweb", windows=48, step="P1D", filters={}, parallelism=4, workers=[1, 2, 4],
             bound=lambda n: -(-48 // (4 * n)) * job, why="48 jobs, 4 per worker at a time"),
        # Bound by the API: Enterpret v2's 10 exports a minute, whatever the number of workers.
        dict(provider="enterpret-v2", windows=30, step="PT1H", filters={"objectID": "feedback_record"}, parallelism=4,
             workers=[1, 2], bound=lambda n: 2 * 60 / SPEED, why="30 exports at 10 a minute"),
    ]
    for case in cases:
        folder = os.path.join(work, case["provider"])
        write_spec(folder, case["provider"], case["windows"], case["step"], case["filters"], sandbox.api)
        walls = {}
        for n in case["workers"]:
            samples = []
            for _ in range(RUNS):
                wall, exported, stats = workers_run(sandbox, folder, n, case["parallelism"])
                if exported != case["windows"]:
                    raise SystemExit(f"{n} workers exported {exported} of {case['windows']} windows")
                limited = sum(v.get("429", 0) for p in stats["providers"].values() for v in p.values())
                samples.append(wall)
                log(f"{case['provider']} x{n}: {wall:.2f} s, 429s {limited}")
            walls[n] = statistics.median(samples)
        for n in case["workers"]:
            rows.append(dict(provider=case["provider"], windows=case["windows"], workers=n, wall=walls[n],
                             speedup=walls[case["workers"][0]] / walls[n], bound=case["bound"](n), why=case["why"]))
    return rows


def main():
    if not PG:
        raise SystemExit("scale_bench.py needs SLUICE_TEST_POSTGRES_URL (run it through scripts/test-services.sh)")
    work = tempfile.mkdtemp(prefix="sluice-bench-scale-")
    sandbox = Sandbox(BIN, SPEED)
    try:
        load = bulk_load(work)
        # BENCH_SCALE_ONLY=load: the bulk loads alone (a quick look while working on them).
        scaling = [] if os.environ.get("BENCH_SCALE_ONLY") == "load" else worker_scaling(sandbox, work)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = ["## Bulk load into tables", ""]
    lines.append(f"One CSV of {ROWS:,} rows (an Enterpret v2-like export: 10 columns, quoted text with commas),")
    lines.append("loaded in the same run by `sluice load-bench --csv F` (the destination's commit: parse, upsert by")
    lines.append("key, the window's `_sluice_windows` row, one transaction; the file's digest comes from the copy, as")
    lines.append("apply's comes from the download) and by the engine's own loader into a table with the same key")
    lines.append("(`sqlite3 .import`, `psql \\copy ... CSV HEADER`, whole process timed). \"full\": the same rows again")
    lines.append("into the table holding them (sluice: every row an upsert that wins; the engine: its loader into a")
    lines.append("temporary table, then one `INSERT ... SELECT ... ON CONFLICT DO UPDATE`). Ratio = the engine's")
    lines.append(f"time / sluice's, median of {RUNS} per-run ratios. Targets: >= 0.7 empty, >= 0.5 full; >= 50,000 rows/s.")
    lines.append("")
    lines.append("| destination | sluice empty | yardstick empty | ratio | sluice full | yardstick full | ratio | sluice rows/s (empty) |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for engine, r in load.items():
        lines.append(f"| {engine} vs {r['tool']} | {r['empty']:.2f} s | {r['ref_empty']:.2f} s | {r['ratio_empty']:.2f} | "
                     f"{r['full']:.2f} s | {r['ref_full']:.2f} s | {r['ratio_full']:.2f} | {ROWS / r['empty']:,.0f} |")
    lines.append("")
    lines.append("## Workers sharing one plan")
    lines.append("")
    lines.append(f"One `sluice sandbox --speed {SPEED:g}`, a fresh PostgreSQL state per run, one saved plan applied by N")
    lines.append("`sluice apply` processes started together (`--state postgres`); wall = until the last exits.")
    lines.append("Target: >= 1.8x at 2 workers where no API limit binds; an API-bound workload stays at its bound.")
    lines.append("")
    lines.append("| provider | windows | workers | wall (median) | speed-up vs 1 | lower bound | why |")
    lines.append("|---|---|---|---|---|---|---|")
    for r in scaling:
        lines.append(f"| {r['provider']} | {r['windows']} | {r['workers']} | {r['wall']:.2f} s | {r['speedup']:.2f}x | {r['bound']:.2f} s | {r['why']} |")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


main()
