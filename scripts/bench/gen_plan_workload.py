# Generates 100 enterpret-v2 specs x 10,000 hourly windows and a state recording all of them
# with the fingerprints sluice computes (docs/planning.md describes their inputs).
import sys, os, json, hashlib, datetime as d
out = sys.argv[1]; nspecs = int(sys.argv[2]); per = int(sys.argv[3])
os.makedirs(out + "/specs", exist_ok=True)
canon = lambda v: json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
endpoint = "http://127.0.0.1:8480"
filters = {"objectID": "feedback_record"}
dest = {"type": "directory", "path": "{name}/{start:yyyy-MM-dd/HH}"}
probe = {"objectID": "feedback_record", "startTime": "2000-01-01T00:00Z", "endTime": "2000-01-02T00:00Z"}
data_fp = hashlib.sha256(("sluice-fingerprint-v1\ndata\nprovider=enterpret-v2\nendpoint=%s\nfilters=%s\nprobe=POST /export/external/v2/export\n%s" % (endpoint, canon(filters), canon(probe))).encode()).hexdigest()
dest_fp = hashlib.sha256(("sluice-fingerprint-v1\ndestination\ntype=directory\nsettings=%s" % canon(dest)).encode()).hexdigest()
base = d.datetime(2020, 1, 1)
end = base + d.timedelta(hours=per)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
for k in range(nspecs):
    spec = {"name": "spec-%03d" % k, "provider": "enterpret-v2", "auth": {"tokenEnv": "ENTERPRET_API_TOKEN"},
            "endpoint": endpoint, "window": {"start": fmt(base), "end": fmt(end), "step": "PT1H"},
            "filters": filters, "destination": dest}
    open(out + "/specs/spec-%03d.json" % k, "w").write(json.dumps(spec, indent=2))
with open(out + "/state.json", "w") as f:
    f.write('{\n  "format": "sluice-state",\n  "version": 1,\n  "lineage": "bench",\n  "serial": 1,\n  "specs": [')
    for k in range(nspecs):
        f.write(('\n' if k == 0 else ',\n') + '    {\n      "name": "spec-%03d",\n      "provider": "enterpret-v2",\n      "fingerprints": [["%s", "%s"]],\n      "columns": ["start", "end", "status", "fingerprint", "attempts", "updated", "job", "error", "files"],\n      "windows": [' % (k, data_fp, dest_fp))
        rows = []
        for i in range(per):
            s = base + d.timedelta(hours=i); e = s + d.timedelta(hours=1); u = e + d.timedelta(minutes=7)
            sha = hashlib.sha256(b"%d-%d" % (k, i)).hexdigest()
            rows.append('\n        ["%s","%s","complete",0,1,"%s","3f2c9a7e-%04d-%06d",null,[["spec-%03d/%s/feedback_record-0.csv",%d,"%s"]]]' % (fmt(s), fmt(e), fmt(u), k, i, k, s.strftime("%Y-%m-%d/%H"), 1000 + i, sha))
        f.write(",".join(rows))
        f.write('\n      ]\n    }')
    f.write('\n  ]\n}\n')
print(data_fp, dest_fp)
