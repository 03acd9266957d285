#!/usr/bin/env python3
"""Refresh at scale (issue 17): `sluice plan` against a state of 100,000 complete windows whose
directory destination holds every window (its folder, `_manifest.json` and its one file at the
recorded size), with --refresh=false (the baseline: read the state and plan), --refresh=true (the
default: stat the manifest and each file) and --refresh=full (read each manifest, hash each file).
Medians of BENCH_RUNS (3) after one warm-up run, page cache warm, in one process tree; the ratio is
against --refresh=false of the same run.

usage: refresh_bench.py SLUICE_BINARY OUT.md
env: BENCH_GEN_DIR (reuse DIR/refresh100000 across runs), BENCH_RUNS=3, BENCH_REFRESH_WINDOWS=100000
"""
import hashlib, json, os, shutil, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
WINDOWS = int(os.environ.get("BENCH_REFRESH_WINDOWS", "100000"))


def log(text):
    print(text, file=sys.stderr, flush=True)


def materialize(gen):
    """Writes every recorded window into gen/out as sluice publishes it: its folder, its file (zeros,
    at the recorded size) and a manifest listing it; the state's SHA-256 are rewritten to the files'."""
    out = os.path.join(gen, "out")
    if os.path.exists(os.path.join(gen, ".materialized")):
        return out
    shutil.rmtree(out, ignore_errors=True)
    with open(os.path.join(gen, "state.json")) as f:
        state = json.load(f)
    n = 0
    hashes = {}
    for spec in state["specs"]:
        files = spec["columns"].index("files")
        data_fp, destination_fp = spec["fingerprints"][0]
        for window in spec["windows"]:
            listed = []
            for entry in window[files]:
                path, size, _sha = entry
                if size not in hashes:
                    hashes[size] = hashlib.sha256(bytes(size)).hexdigest()
                entry[2] = hashes[size]
                full = os.path.join(out, path)
                folder = os.path.dirname(full)
                os.makedirs(folder, exist_ok=True)
                with open(full, "wb") as d:
                    d.truncate(size)
                listed.append({"path": os.path.basename(path), "bytes": size, "sha256": hashes[size], "records": None})
            manifest = {"sluiceManifest": 1, "spec": spec["name"], "provider": spec["provider"],
                        "window": {"start": window[0], "end": window[1]}, "providerJobID": window[6],
                        "request": {"method": "POST", "path": "/export", "fields": {}}, "files": listed,
                        "fingerprints": {"data": data_fp, "destination": destination_fp}, "exportedAt": window[5]}
            with open(os.path.join(folder, "_manifest.json"), "w") as m:
                json.dump(manifest, m)
            n += 1
    with open(os.path.join(gen, "state.json"), "w") as f:
        json.dump(state, f)
    open(os.path.join(gen, ".materialized"), "w").close()
    log(f"materialized {n} windows under {out}")
    return out


def plan(binary, gen, out, mode):
    start = time.monotonic()
    done = subprocess.run([binary, "plan", os.path.join(gen, "specs"), "--state", os.path.join(gen, "state.json"),
                           "--output", out, "--now", "2030-01-01T00:00:00Z", f"--refresh={mode}"],
                          capture_output=True, text=True)
    wall = time.monotonic() - start
    if done.returncode != 0:
        sys.exit(f"plan --refresh={mode} failed: {done.stderr.strip()}")
    return wall, done.stdout


def main():
    binary, out_md = sys.argv[1], sys.argv[2]
    reuse = os.environ.get("BENCH_GEN_DIR")
    work = tempfile.mkdtemp() if not reuse else None
    base = reuse or work
    gen = os.path.join(base, f"refresh{WINDOWS}")
    if not os.path.exists(os.path.join(gen, "state.json")):
        per = 10_000
        subprocess.run([sys.executable, os.path.join(HERE, "gen_plan_workload.py"), gen, str(WINDOWS // per), str(per)],
                       check=True, capture_output=True)
    out = materialize(gen)
    rows = {}
    for mode in ("false", "true", "full"):
        plan(binary, gen, out, mode)  # warm-up
        walls = []
        for _ in range(RUNS):
            wall, text = plan(binary, gen, out, mode)
            walls.append(wall)
        if mode != "false" and f"Refreshed {WINDOWS} windows against their destinations" not in text:
            sys.exit(f"--refresh={mode}: the plan did not refresh every window:\n{text[-600:]}")
        if "No changes." not in text:
            sys.exit(f"--refresh={mode}: the plan has changes:\n{text[-600:]}")
        rows[mode] = statistics.median(walls)
        log(f"plan {WINDOWS} windows --refresh={mode}: {walls}")
    base_s = rows["false"]
    lines = [f"| `--refresh={m}` | {rows[m]:.2f} s | {rows[m] - base_s:+.2f} s | {rows[m] / base_s:.2f} |" for m in ("false", "true", "full")]
    table = "\n".join(["| plan of 100,000 complete directory windows | wall (median) | refresh's share | ratio to `false` |",
                       "|---|---|---|---|"] + lines)
    with open(out_md, "w") as f:
        f.write(table + "\n")
    print(table)
    if work:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
