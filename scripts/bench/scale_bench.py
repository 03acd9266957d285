#!/usr/bin/env python3
"""`make bench`, scale part: bulk-load throughput of the table destinations, and apply with 1, 2 and 4
workers sharing one plan through a PostgreSQL state. Needs the servers of scripts/test-services.sh
(SLUICE_TEST_POSTGRES_URL). Prints progress to stderr and writes a Markdown fragment.

usage: scale_bench.py SLUICE_BINARY OUTPUT.md     (env: BENCH_RUNS=3, BENCH_SPEED=10, BENCH_ROWS=200000)
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


def bulk_load(work):
    """`sluice load-bench`: one window of ROWS generated rows committed through the destination."""
    results = {}
    for engine in ["sqlite", "postgres"]:
        rates = []
        for _ in range(RUNS):
            env = dict(os.environ)
            if engine == "sqlite":
                db = os.path.join(work, f"load-{uuid.uuid4().hex[:6]}.sqlite")
                args = ["--sqlite", db]
                name = None
            else:
                url, name = new_database()
                env["BENCH_LOAD_URL"] = url
                args = ["--postgres-url-env", "BENCH_LOAD_URL"]
            p = subprocess.run([BIN, "load-bench", "--rows", str(ROWS)] + args, env=env, capture_output=True, text=True)
            if name:
                drop_database(name)
            m = re.search(r"\(([\d.]+) rows/s\)", p.stdout)
            if p.returncode != 0 or not m:
                raise SystemExit(f"load-bench {engine} failed: {p.stdout}{p.stderr}")
            rates.append(float(m.group(1)))
            log(f"load {engine}: {rates[-1]:.0f} rows/s")
        results[engine] = statistics.median(rates)
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
        scaling = worker_scaling(sandbox, work)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)
    lines = ["## Bulk load into tables", ""]
    lines.append(f"`sluice load-bench --rows {ROWS}`: one window of {ROWS} generated rows (an Enterpret v2-like CSV)")
    lines.append("staged, parsed and committed through the destination: upsert by key plus the window's")
    lines.append("`_sluice_windows` row in one transaction. Target >= 50,000 rows/s.")
    lines.append("")
    lines.append("| destination | rows/s (median) |")
    lines.append("|---|---|")
    for engine, rate in load.items():
        lines.append(f"| {engine} | {rate:,.0f} |")
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
