"""One tab-separated line from a `bpprof.check` JSON report, for scripts/lib/check-runs.sh:

status, throughput change, its interval, Enrich CPU/record change, its interval, the titles of the
error findings, and the `function` of the error finding on Enrich's cpu_per_record ("-" when
absent). Changes in percent with one decimal, intervals as "[low, high]".
"""
import json
import sys

with open(sys.argv[1]) as f:
    report = json.load(f)


def percent(comparison):
    if not comparison or comparison.get("change") is None:
        return "-", "-"
    interval = comparison.get("interval")
    text = "[%+.1f, %+.1f]" % (interval[0] * 100, interval[1] * 100) if interval else "-"
    return "%+.1f%%" % (comparison["change"] * 100), text


enrich = next(
    (m for t in report.get("tasks", []) if t["name"] == "Enrich"
     for m in t["metrics"] if m["metric"] == "cpu_per_record"),
    None,
)
errors = [f for f in report.get("findings", []) if f["severity"] == "error"]
enrich_error = next(
    (f for f in errors if f.get("task") == "Enrich" and f.get("metric") == "cpu_per_record"),
    None,
)
print("\t".join([
    report["status"],
    *percent(report.get("throughput")),
    *percent(enrich),
    "; ".join(f["title"] for f in errors) or "-",
    (enrich_error or {}).get("function") or "-",
]))
