#!/usr/bin/env python3
"""Two sluice builds on one backfill, alternating, so neither pays for the other's order.

A backfill of N daily OpenWeb windows (parallelism 16, sandbox --speed 100, the sandbox of the first
binary) is applied ROUNDS times by each binary in turn, into a fresh folder under WORK each time.
Prints per run: binary, wall s, user s, sys s (GNU time), and the API calls the sandbox counted.
WORK on tmpfs (/dev/shm/...) removes the file system's memory of earlier runs' deletions.

usage: ab_backfill.py N BINARY [BINARY...]   env: WORK (default a temp dir), ROUNDS=2
"""
import datetime, json, os, shutil, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Sandbox, ms  # noqa: E402

SPEED = 100
N = int(sys.argv[1])
bins = [os.path.abspath(b) for b in sys.argv[2:]]
work = os.environ.get("WORK") or tempfile.mkdtemp(prefix="sluice-ab-")
sandbox = Sandbox(bins[0], SPEED)


def write_spec(folder):
    end = (datetime.date(1970, 1, 1) + datetime.timedelta(days=N)).isoformat()
    os.makedirs(os.path.join(folder, "ow"), exist_ok=True)
    json.dump({"name": "bench-openweb", "provider": "openweb", "auth": {"tokenEnv": "BENCH_TOKEN"},
               "endpoint": sandbox.api,
               "window": {"start": "1970-01-01T00:00:00Z", "end": end + "T00:00:00Z", "step": "P1D"},
               "filters": {}, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"}},
              open(os.path.join(folder, "ow", "spec.json"), "w"))


try:
    for _ in range(int(os.environ.get("ROUNDS", "2"))):
        for b in bins:
            shutil.rmtree(work, ignore_errors=True)
            write_spec(work)
            sandbox.reset()
            cmd = ["/usr/bin/time", "-f", "%e %U %S", b, "apply", "ow", "--auto-approve", "--now", "2030-01-01T00:00:00Z",
                   "--output", "out", "--state", "state.json", "--log-format", "json", "--parallelism", "16",
                   "--poll-interval", ms(1 / SPEED), "--poll-max", ms(10 / SPEED), "--limit-window", ms(60 / SPEED)]
            p = subprocess.run(cmd, cwd=work, env=dict(os.environ, BENCH_TOKEN="sandbox-token"), capture_output=True, text=True)
            print(os.path.basename(b), p.stderr.strip().split("\n")[-1], "calls", sandbox.total(), flush=True)
finally:
    sandbox.stop()
    shutil.rmtree(work, ignore_errors=True)
