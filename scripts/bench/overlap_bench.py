#!/usr/bin/env python3
"""`make bench`, the overlap part (issue 38): what asking past each window's end costs.

OpenWeb, Coveo and Userpilot requests reach the window's end under every reading of the vendor's `to`
(docs/providers); under the inclusive reading, which the sandbox gives by default, the records at the
end come too and are trimmed. A 16-window backfill per provider runs twice in one process, against the
default sandbox (the overlap bites) and against the provider's `*-exclusive-to` variant (the request is
the window exactly: what the earlier rendering fetched under the inclusive reading). The difference is
the overlap's cost: bytes over the wire, API calls, records and bytes trimmed. Medians of BENCH_RUNS.

usage: overlap_bench.py SLUICE_BINARY OUTPUT.md      (env: BENCH_RUNS=3, BENCH_SPEED=10)
"""
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

BIN, OUT = os.path.abspath(sys.argv[1]), sys.argv[2]
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SPEED = float(os.environ.get("BENCH_SPEED", "10"))
NOW = "2025-06-01T00:00:00Z"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import log, ms  # noqa: E402

WORKLOADS = [
    # provider, step, filters, the variant under which `to` is exclusive
    ("openweb", "P1D", {}, "openweb-exclusive-to"),
    ("coveo", "P1D", {"tables": ["searches", "clicks"]}, "coveo-exclusive-to"),
    ("userpilot", "P1D", {"format": "json"}, "userpilot-exclusive-to"),
    ("userpilot", "P7D", {"format": "json"}, "userpilot-exclusive-to"),
]
WINDOWS = 16


class Sandbox:
    def __init__(self, variants):
        args = [BIN, "sandbox", "--port", "0", "--storage-port", "0", "--speed", str(SPEED)]
        for v in variants:
            args += ["--variant", v]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        urls = {}
        while "storage" not in urls:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("the sandbox did not start")
            key, _, value = line.partition(": ")
            if key in ("api", "storage"):
                urls[key] = value.split()[0]
        self.api = urls["api"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def run(provider, step, filters, variants):
    sandbox = Sandbox(variants)
    work = tempfile.mkdtemp(prefix="sluice-overlap-")
    try:
        days = 1 if step == "P1D" else 7
        end = (datetime.date(2025, 1, 1) + datetime.timedelta(days=WINDOWS * days)).isoformat() + "T00:00:00Z"
        spec = {
            "name": f"overlap-{provider}", "provider": provider, "auth": {"tokenEnv": "BENCH_TOKEN"},
            "endpoint": sandbox.api, "window": {"start": "2025-01-01T00:00:00Z", "end": end, "step": step},
            "filters": filters, "destination": {"type": "directory", "path": "{name}/{start:yyyy-MM-dd}"},
        }
        os.makedirs(os.path.join(work, "specs"))
        with open(os.path.join(work, "specs", "spec.json"), "w") as f:
            json.dump(spec, f)
        args = [BIN, "apply", "specs", "--auto-approve", "--now", NOW, "--output", "out", "--state", "state.json",
                "--log-format", "json", "--limit-window", ms(60 / SPEED), "--poll-interval", ms(1 / SPEED),
                "--poll-max", ms(60 / SPEED)]
        p = subprocess.run(args, cwd=work, env=dict(os.environ, BENCH_TOKEN="sandbox-token"), capture_output=True, text=True)
        events = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        done = next((e for e in events if e["event"] == "finished"), None)
        if p.returncode != 0 or not done or done["exported"] != WINDOWS:
            raise SystemExit(f"{provider} {variants}: apply failed ({p.returncode}): {p.stdout[-2000:]} {p.stderr[-2000:]}")
        records = sum(e.get("records") or 0 for e in events if e["event"] == "completed")
        return dict(bytes=done["bytes"], calls=done["api_calls"], trimmed=done["trimmed"],
                    trimmed_bytes=done["trimmed_bytes"], records=records, wall=done["wall_ms"])
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)


def main():
    rows = []
    for provider, step, filters, exclusive in WORKLOADS:
        overlap, exact = [], []
        for i in range(RUNS):
            log(f"overlap: {provider} {step} run {i + 1}/{RUNS}")
            overlap.append(run(provider, step, filters, []))
            exact.append(run(provider, step, filters, [exclusive]))

        def med(results, key):
            return statistics.median(r[key] for r in results)
        if med(overlap, "records") != med(exact, "records"):
            raise SystemExit(f"{provider}: the windows hold {med(overlap, 'records')} records with the overlap, {med(exact, 'records')} without")
        extra = med(overlap, "bytes") - med(exact, "bytes")
        rows.append(f"| {provider} | {step} | {WINDOWS} | {med(exact, 'records'):.0f} | {med(exact, 'bytes') / 1024:.0f} KiB | "
                    f"{med(overlap, 'bytes') / 1024:.0f} KiB | {extra / 1024:+.0f} KiB ({100 * extra / max(1, med(exact, 'bytes')):+.1f} %) | "
                    f"{med(exact, 'calls'):.0f} → {med(overlap, 'calls'):.0f} | {med(overlap, 'trimmed'):.0f} "
                    f"({med(overlap, 'trimmed_bytes') / 1024:.0f} KiB) |")
    text = ("| provider | step | windows | records kept | downloaded, `to` exclusive (the window exactly) | "
            "downloaded, `to` inclusive (the overlap) | overlap's extra bytes | API calls | records trimmed (unpacked bytes) |\n"
            "|---|---|---|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n")
    print(text)
    with open(OUT, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
