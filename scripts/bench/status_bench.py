#!/usr/bin/env python3
"""`make bench`, status part: `sluice status` of 1M windows (term and html) against loading the state
alone; the HTML report opened in headless Chromium (a screenshot, one mark per window with the right
colours, no request leaving the file); and `sluice plan`'s estimate against the apply it estimates, per
provider, once an earlier apply left history in the state. Prints progress to stderr and writes a
Markdown fragment.

usage: status_bench.py SLUICE_BINARY OUTPUT.md [PARTS]   (PARTS: scale,chromium,estimate; default all)
       env: BENCH_RUNS=3, BENCH_SPEED=10, BENCH_SCREENSHOT=docs/status.png
"""
import datetime as dt
import hashlib
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

BIN, OUT = os.path.abspath(sys.argv[1]), sys.argv[2]
PARTS = (sys.argv[3] if len(sys.argv) > 3 else "scale,chromium,estimate").split(",")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
SPEED = float(os.environ.get("BENCH_SPEED", "10"))
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCREENSHOT = os.environ.get("BENCH_SCREENSHOT", os.path.join(ROOT, "docs", "status.png"))

sys.path.insert(0, HERE)
from benchlib import Sandbox, log, ms  # noqa: E402


def timed(args, cwd=None):
    t0 = time.monotonic()
    p = subprocess.run(args, cwd=cwd, capture_output=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return wall, p.stdout


# ---------------------------------------------------------------------------------------------------
# Scale: 100 enterpret-v2 specs x 10,000 hourly windows, the workload of the plan benchmark.

def scale(work):
    d = os.path.join(work, "scale")
    subprocess.run([sys.executable, os.path.join(HERE, "gen_plan_workload.py"), d, "100", "10000"], check=True,
                   capture_output=True)
    base = [BIN, "status", os.path.join(d, "specs"), "--state", os.path.join(d, "state.json"), "--now", "2030-01-01T00:00:00Z"]
    results = {"load": [], "term": [], "html": [], "json": []}
    html_bytes = 0
    for run in range(RUNS):
        results["load"].append(timed([BIN, "state", "list", "--state", os.path.join(d, "state.json")])[0])
        results["term"].append(timed(base + ["--format", "term", "--width", "120"])[0])
        out = os.path.join(d, "status.html")
        results["html"].append(timed(base + ["--format", "html", "--out", out])[0])
        html_bytes = os.path.getsize(out)
        results["json"].append(timed(base + ["--format", "json", "--out", os.path.join(d, "status.json")])[0])
        log(f"status 1M run {run + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in results.items()))
    _, term = timed(base + ["--format", "term", "--width", "120"])
    shutil.rmtree(d, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    return med, html_bytes, term.decode().splitlines()[0]


# ---------------------------------------------------------------------------------------------------
# Chromium: a small project with every condition, its HTML opened in headless Chromium.

ENDPOINT = "http://127.0.0.1:8480"
FILTERS = {"objectID": "feedback_record"}
DEST = {"type": "directory", "path": "{name}/{start:yyyy-MM-dd/HH}"}
canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
PROBE = {"objectID": "feedback_record", "startTime": "2000-01-01T00:00Z", "endTime": "2000-01-02T00:00Z"}
DATA_FP = hashlib.sha256(("sluice-fingerprint-v1\ndata\nprovider=enterpret-v2\nendpoint=%s\nfilters=%s\nprobe=POST /export/external/v2/export\n%s"
                          % (ENDPOINT, canon(FILTERS), canon(PROBE))).encode()).hexdigest()
DEST_FP = hashlib.sha256(("sluice-fingerprint-v1\ndestination\ntype=directory\nsettings=%s" % canon(DEST)).encode()).hexdigest()
OLD_FP = hashlib.sha256(b"other filters").hexdigest()
COLORS = {  # WindowCondition.color in Sources/SluiceCore/Status/StatusHTML.swift
    "complete": (0x2d, 0xa4, 0x4e), "lookback": (0x8f, 0xd9, 0xa8), "outdated": (0x82, 0x50, 0xdf),
    "submitted": (0x09, 0x69, 0xda), "failed": (0xcf, 0x22, 0x2e), "planned": (0xd0, 0xd7, 0xde),
    "unsettled": (0xe3, 0xb3, 0x41),
}
NOW = dt.datetime(2025, 3, 1)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")


def chromium_project(d):
    """Three hourly specs whose windows' conditions are known here, independently of sluice."""
    os.makedirs(os.path.join(d, "specs"))
    expected = {c: 0 for c in COLORS}
    specs = []
    # a: 48 windows ending 2025-02-27: complete, failed every 7th, submitted every 11th, holes every 5th.
    # b: 24 windows, the first 6 exported with other filters.
    # c: open-ended from 2025-02-28T12:00, settle PT3H, lookback PT4H: 9 due (the last 4 in lookback), 3 unsettled.
    plans = [("status-a", dt.datetime(2025, 2, 25), 48, {}), ("status-b", dt.datetime(2025, 2, 26), 24, {}),
             ("status-c", dt.datetime(2025, 2, 28, 12), None, {"settle": "PT3H", "lookback": "PT4H"})]
    state_specs = []
    for name, start, count, extra in plans:
        window = {"start": fmt(start), "step": "PT1H"}
        if count:
            window["end"] = fmt(start + dt.timedelta(hours=count))
        window.update(extra)
        spec = {"name": name, "provider": "enterpret-v2", "auth": {"tokenEnv": "ENTERPRET_API_TOKEN"}, "endpoint": ENDPOINT,
                "window": window, "filters": FILTERS, "destination": DEST, "freshness": "PT36H"}
        with open(os.path.join(d, "specs", name + ".json"), "w") as f:
            json.dump(spec, f)
        rows = []
        n = count or 12
        for i in range(n):
            s = start + dt.timedelta(hours=i)
            e = s + dt.timedelta(hours=1)
            fp = 0
            if name == "status-a":
                if i % 5 == 4:
                    expected["planned"] += 1
                    continue
                status = "failed" if i % 7 == 6 else "submitted" if i % 11 == 10 else "complete"
            elif name == "status-b":
                status, fp = "complete", (1 if i < 6 else 0)
            else:
                if i >= 9:  # closed less than PT3H before now: not due, not recorded
                    expected["unsettled"] += 1
                    continue
                status = "complete"
            cond = status if status != "complete" else "outdated" if fp else (
                "lookback" if name == "status-c" and e > NOW - dt.timedelta(hours=4) else "complete")
            expected[cond] += 1
            err = "null" if status != "failed" else '"HTTP 500 after 5 retries"'
            files = "[]" if status != "complete" else '[["%s/%s/feedback_record-0.csv",%d,"%s"]]' % (
                name, s.strftime("%Y-%m-%d/%H"), 1000 + i, hashlib.sha256(b"%d" % i).hexdigest())
            rows.append('["%s","%s","%s",%d,1,"%s","job-%s-%d",%s,%s]' % (fmt(s), fmt(e), status, fp, fmt(e + dt.timedelta(minutes=7)),
                                                                        name, i, err, files))
        state_specs.append('{"name": "%s", "provider": "enterpret-v2", "fingerprints": [["%s", "%s"], ["%s", "%s"]], '
                           '"columns": ["start", "end", "status", "fingerprint", "attempts", "updated", "job", "error", "files"], '
                           '"windows": [%s]}' % (name, DATA_FP, DEST_FP, OLD_FP, DEST_FP, ",".join(rows)))
    with open(os.path.join(d, "state.json"), "w") as f:
        f.write('{"format": "sluice-state", "version": 1, "lineage": "status-bench", "serial": 3, "specs": [%s]}\n' % ", ".join(state_specs))
    return expected


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) with zlib alone."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, f"unsupported PNG {depth} {ctype} {interlace}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[i:i + 3]) for i in range(0, stride, bpp)])
        prev = line
    return w, h, rows


def count_marks(rows, color, min_height=16):
    """Connected regions of exactly `color` at least `min_height` pixels tall: the timeline marks (22 px),
    not the 12 px legend squares."""
    h, w = len(rows), len(rows[0])
    seen = set()
    marks = 0
    for y in range(h):
        for x in range(w):
            if rows[y][x] != color or (x, y) in seen:
                continue
            stack, top, bottom = [(x, y)], y, y
            seen.add((x, y))
            while stack:
                cx, cy = stack.pop()
                top, bottom = min(top, cy), max(bottom, cy)
                for nx, ny in ((cx + 1, cy), (cx - 1, cy), (cx, cy + 1), (cx, cy - 1)):
                    if 0 <= nx < w and 0 <= ny < h and (nx, ny) not in seen and rows[ny][nx] == color:
                        seen.add((nx, ny))
                        stack.append((nx, ny))
            if bottom - top + 1 >= min_height:
                marks += 1
    return marks


def page_requests(netlog):
    """URLs the page asked for, from Chromium's network log: requests started on behalf of a file:// page
    (its network isolation key), not the browser's own background ones (initiator "not an origin")."""
    with open(netlog) as f:
        d = json.load(f)
    types = {v: k for k, v in d["constants"]["logEventTypes"].items()}
    urls = []
    for e in d["events"]:
        p = e.get("params") or {}
        if types.get(e["type"]) == "URL_REQUEST_START_JOB" and (
                "file://" in str(p.get("network_isolation_key", "")) or p.get("initiator") not in (None, "not an origin")):
            urls.append(p.get("url", ""))
    return urls


def open_in_chromium(browser, d, html, png, netlog, size="1100,700"):
    args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
            "--force-color-profile=srgb", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync", "--disable-extensions", "--user-data-dir=" + os.path.join(d, "profile"),
            "--window-size=" + size, "--log-net-log=" + netlog, "--screenshot=" + png, "file://" + html]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if not os.path.exists(png) or not os.path.exists(netlog):
        raise SystemExit(f"chromium took no screenshot or wrote no network log ({p.returncode}): {p.stderr[-2000:]}")


def chromium(work):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        return None, "not run: Debian's `chromium` is not installed (apt-get install chromium)"
    d = os.path.join(work, "chromium")
    expected = chromium_project(d)
    html = os.path.join(d, "status.html")
    timed([BIN, "status", "specs", "--state", "state.json", "--now", fmt(NOW), "--format", "html", "--out", html], cwd=d)
    text = open(html).read()
    import re
    urls = re.findall(r"(?:src|href)\s*=\s*[\"']?\s*(?:https?:)?//", text) + re.findall(r"https?://", text)
    png = os.path.join(d, "shot.png")
    netlog = os.path.join(d, "netlog.json")
    open_in_chromium(browser, d, html, png, netlog)
    _, _, rows = png_pixels(png)
    found = {c: count_marks(rows, rgb) for c, rgb in COLORS.items()}
    outside = [u for u in page_requests(netlog) if not u.startswith(("file:", "data:", "about:"))]
    # The control: a page asking for an image on a closed local port must show up in the same check.
    control = os.path.join(d, "control.html")
    with open(control, "w") as f:
        f.write('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>\n')
    control_log = os.path.join(d, "control-netlog.json")
    open_in_chromium(browser, d, control, os.path.join(d, "control.png"), control_log, size="200,100")
    control_seen = page_requests(control_log)
    os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
    shutil.copyfile(png, SCREENSHOT)
    ok = found == expected and not urls and not outside and "http://127.0.0.1:9/x.png" in control_seen
    return dict(expected=expected, found=found, urls=urls, outside=outside, control=control_seen, ok=ok), None


# ---------------------------------------------------------------------------------------------------
# Estimate: plan's estimate with history against the apply it estimates.

WORKLOADS = [
    dict(provider="userpilot", windows=8, step="P1D", filters={"format": "json"}),
    dict(provider="enterpret-v2", windows=30, step="PT1H", filters={"objectID": "feedback_record"}),
    dict(provider="openweb", windows=16, step="P1D", filters={}),
    dict(provider="coveo", windows=16, step="P1D", filters={"tables": ["searches", "clicks"]}),
    dict(provider="enterpret-v1", windows=16, step="P1D", filters={"pageSize": 200}),
]


def write_spec(folder, w, endpoint, windows):
    start = dt.datetime(2025, 1, 1)
    delta = dt.timedelta(hours=windows) if w["step"] == "PT1H" else dt.timedelta(days=windows)
    path = "{name}/{start:yyyy-MM-dd/HH}" if w["step"] == "PT1H" else "{name}/{start:yyyy-MM-dd}"
    spec = {"name": f"bench-{w['provider']}", "provider": w["provider"], "auth": {"tokenEnv": "BENCH_TOKEN"},
            "endpoint": endpoint, "window": {"start": fmt(start), "end": fmt(start + delta), "step": w["step"]},
            "filters": w["filters"], "destination": {"type": "directory", "path": path}}
    os.makedirs(os.path.join(folder, "specs"), exist_ok=True)
    with open(os.path.join(folder, "specs", "spec.json"), "w") as f:
        json.dump(spec, f)


def estimate(work):
    sandbox = Sandbox(BIN, SPEED)
    env = dict(os.environ, BENCH_TOKEN="sandbox-token")
    poll_flags = ["--poll-interval", ms(1 / SPEED), "--poll-max", ms(60 / SPEED)]
    flags = poll_flags + ["--limit-window", ms(60 / SPEED)]
    rows = []
    try:
        for w in WORKLOADS:
            runs = []
            for run in range(RUNS):
                sandbox.reset()
                folder = tempfile.mkdtemp(prefix="sluice-estimate-", dir=work)
                apply = [BIN, "apply", "specs", "--auto-approve", "--now", "2025-03-01T00:00:00Z", "--output", "out",
                         "--state", "state.json", "--log-format", "json"] + flags
                # The first apply leaves history; then the range doubles and plan estimates the second apply.
                write_spec(folder, w, sandbox.api, w["windows"])
                first = subprocess.run(apply, cwd=folder, env=env, capture_output=True, text=True)
                if first.returncode != 0:
                    raise SystemExit(f"apply failed: {first.stderr[-2000:]}")
                time.sleep(60 / SPEED)  # let the API's minute pass, as it would between two real applies
                write_spec(folder, w, sandbox.api, 2 * w["windows"])
                # plan is told apply's poll flags (the estimate's poll schedule), as a user would.
                plan = subprocess.run([BIN, "plan", "specs", "--state", "state.json", "--now", "2025-03-01T00:00:00Z", "--json"]
                                      + poll_flags,
                                      cwd=folder, env=env, capture_output=True, text=True)
                est = json.loads(plan.stdout)["estimate"]
                calls0 = sandbox.total()
                t0 = time.monotonic()
                second = subprocess.run(apply, cwd=folder, env=env, capture_output=True, text=True)
                wall = time.monotonic() - t0
                calls = sandbox.total() - calls0
                if second.returncode != 0:
                    raise SystemExit(f"apply failed: {second.stderr[-2000:]}")
                runs.append(dict(est=est["seconds"], wall=wall, est_calls=est["calls"], calls=calls,
                                 measured=all(l["job_seconds_measured"] for l in est["lanes"]), text=est["text"]))
                log(f"estimate {w['provider']} run {run + 1}: estimated {est['seconds']:.1f} s, {est['calls']} calls; "
                    f"apply {wall:.2f} s, {calls} calls")
                shutil.rmtree(folder, ignore_errors=True)
            med = lambda f: statistics.median(f(r) for r in runs)
            rows.append(dict(provider=w["provider"], windows=w["windows"], est=med(lambda r: r["est"]), wall=med(lambda r: r["wall"]),
                             ratio=med(lambda r: r["est"] / r["wall"]), est_calls=med(lambda r: r["est_calls"]),
                             calls=med(lambda r: r["calls"]), calls_ratio=med(lambda r: r["est_calls"] / max(1, r["calls"])),
                             measured=all(r["measured"] for r in runs), text=runs[0]["text"]))
    finally:
        sandbox.stop()
    return rows


def main():
    work = tempfile.mkdtemp(prefix="sluice-status-bench-")
    md = []
    try:
        if "scale" in PARTS:
            log("status at 1M windows...")
            med, html_bytes, first = scale(work)
            md += ["## Status at scale", "",
                   "`sluice status` of the plan benchmark's workload: 100 enterpret-v2 specs x 10,000 hourly windows",
                   "(1,000,000 windows, all recorded), the whole command: validate the specs, load the state, classify",
                   "every window, render. \"state load\" is `sluice state list` (load alone) in the same runs.",
                   f"Medians of {RUNS}. Targets: term <= 1 s, html <= 3 s and <= 5 MB.", "",
                   "| | median | minus state load |", "|---|---|---|",
                   f"| state load (`state list`) | {med['load']:.2f} s | |",
                   f"| `status --format term --width 120` | {med['term']:.2f} s | {med['term'] - med['load']:.2f} s |",
                   f"| `status --format html --out F` | {med['html']:.2f} s | {med['html'] - med['load']:.2f} s |",
                   f"| `status --format json --out F` | {med['json']:.2f} s | {med['json'] - med['load']:.2f} s |",
                   "", f"HTML size at 1M windows: {html_bytes / 1e6:.2f} MB (240 marks per spec, 42 windows a mark).",
                   f"Term header: `{first}`", ""]
        if "chromium" in PARTS:
            log("status html in chromium...")
            r, why = chromium(work)
            md += ["## Status HTML in a browser", ""]
            if r is None:
                md += [why, ""]
            else:
                md += ["`sluice status --format html` of three specs with every condition, opened in headless Debian",
                       "`chromium` (`--screenshot`, `--log-net-log`). Marks are counted in the screenshot's pixels:",
                       "regions of exactly each condition's colour, 22 px tall (the legend's squares are 12 px). The",
                       "expected counts come from how the bench wrote the state, not from sluice.", "",
                       "| condition | expected marks | marks in the screenshot |", "|---|---|---|"]
                md += [f"| {c} | {r['expected'][c]} | {r['found'][c]} |" for c in COLORS]
                md += ["", f"URLs in src/href or http(s):// in the file: {len(r['urls'])}. Requests the page made, from",
                       f"Chromium's network log (requests on behalf of the file:// page, not the browser's own): {len(r['outside'])}.",
                       f"Control page with one `<img src=\"http://127.0.0.1:9/x.png\">`: the same check saw {', '.join(r['control']) or 'nothing'}.",
                       f"Result: {'PASS' if r['ok'] else 'FAIL'}. The screenshot is docs/status.png.", ""]
                if not r["ok"]:
                    log(f"chromium check FAILED: {r}")
        if "estimate" in PARTS:
            log("plan estimates against apply (several minutes)...")
            rows = estimate(work)
            md += ["## Plan's estimate against apply", "",
                   f"One `sluice sandbox --speed {SPEED:g}`; per provider a first apply of N windows (history in the state),",
                   "then the range doubled, `sluice plan --json`'s estimate of the next apply, and that apply measured",
                   f"(`--poll-interval {ms(1 / SPEED)} --poll-max {ms(60 / SPEED)} --limit-window {ms(60 / SPEED)}`). Target: estimate within",
                   f"+/-20 % of the wall time once history exists. Medians of {RUNS}.", "",
                   "| provider | new windows | estimate | apply wall | estimate / wall | estimated calls | calls | history used | plan says |",
                   "|---|---|---|---|---|---|---|---|---|"]
            md += [f"| {r['provider']} | {r['windows']} | {r['est']:.1f} s | {r['wall']:.2f} s | {r['ratio']:.2f} | "
                   f"{r['est_calls']:.0f} | {r['calls']:.0f} | {'yes' if r['measured'] else 'no'} | {r['text']} |" for r in rows]
            md += [""]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    with open(OUT, "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
