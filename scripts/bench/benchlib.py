"""What the benchmark scripts share: progress lines, durations as sluice flags, and a `sluice sandbox`
process on free ports."""
import json
import re
import subprocess
import sys
import urllib.request


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def ms(seconds):
    return f"{max(1, round(seconds * 1000))}ms"


class Sandbox:
    def __init__(self, binary, speed):
        self.proc = subprocess.Popen([binary, "sandbox", "--port", "0", "--storage-port", "0", "--speed", str(speed)],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        urls = {}
        while "storage" not in urls:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("the sandbox did not start")
            m = re.match(r"^(api|storage): (\S+)", line)
            if m:
                urls[m.group(1)] = m.group(2)
        self.api = urls["api"]

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.api + path, data=body, method=method)
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())

    def reset(self):
        self.call("POST", "/_sandbox/reset", b"")

    def total(self):
        return self.call("GET", "/_sandbox/stats")["total"]

    def stats(self):
        return self.call("GET", "/_sandbox/stats")

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
