"""`sluice validate` over 10,000 specs (the example specs in specs/examples, copied under unique names): wall time of the
whole command, median of N runs, for one binary or, given a second, against that baseline in the same run.

Usage: python3 scripts/bench/validate_bench.py BIN [BASELINE_BIN] [--runs N] [--specs N] [--markdown FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import log

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_specs(directory, count):
    examples = sorted(f for f in os.listdir(os.path.join(ROOT, "specs/examples")) if f.endswith(".json"))
    texts = [json.load(open(os.path.join(ROOT, "specs/examples", f))) for f in examples]
    for i in range(count):
        spec = dict(texts[i % len(texts)])
        spec["name"] = f"{spec['name']}-{i:05d}"[:63]
        with open(os.path.join(directory, f"spec-{i:05d}.json"), "w") as f:
            json.dump(spec, f, indent=2)


def run(binary, directory):
    t0 = time.perf_counter()
    p = subprocess.run([binary, "validate", directory], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"{binary} validate failed ({p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("baseline", nargs="?")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--specs", type=int, default=10_000)
    ap.add_argument("--markdown")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        write_specs(work, args.specs)
        binaries = [("sluice", args.binary)] + ([("baseline", args.baseline)] if args.baseline else [])
        times = {name: [] for name, _ in binaries}
        run(args.binary, work)  # warm the page cache
        for _ in range(args.runs):
            # Interleaved, so a noisy neighbour hits both alike.
            for name, binary in binaries:
                times[name].append(run(binary, work))
        medians = {name: statistics.median(v) for name, v in times.items()}
        for name, v in times.items():
            log(f"{name}: median {medians[name]:.3f} s of {', '.join(f'{x:.3f}' for x in v)}")
        lines = ["## Validate at scale", "",
                 f"`sluice validate DIR` over {args.specs} specs (the example specs under unique names), the whole",
                 f"command with the full validator (JSON, the job-spec schema, sluice's rules, cross-file checks).",
                 f"Median of {args.runs} runs; target <= 1 s.", ""]
        row = f"| {args.specs} specs | {medians['sluice']:.3f} s |"
        if args.baseline:
            lines += ["| workload | sluice (median) | baseline (median) | ratio |", "|---|---|---|---|",
                      row + f" {medians['baseline']:.3f} s | {medians['sluice'] / medians['baseline']:.2f} |"]
        else:
            lines += ["| workload | sluice (median) |", "|---|---|", row]
        text = "\n".join(lines) + "\n"
        print(text)
        if args.markdown:
            open(args.markdown, "w").write(text)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
