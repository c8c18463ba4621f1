"""Replay speed against bare JSON parsing, on the same file, in the same run.

    python benchmarks/replay_speed.py [--records 1000000] [--platform splunk|elastic|all ...]

Generates (once, cached under benchmarks/out/) an NDJSON corpus of CloudTrail records (~5% sign-in),
then measures, each in a fresh subprocess so that peak memory is its own:
  parse   - read every line and json.loads it (the same json library replay uses): the ceiling;
  replay  - `awssignin replay --format jsonl` over the same file, per platform choice.
Prints records/s, the ratio to the bare parse, and peak RSS. Goals (issues #2, #4): replay with the
Splunk path >= 50% of the parse speed and < 300 MB; with both platforms >= 30%.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "addon" / "lib"))


def measure_parse(path):
    n = 0
    start = time.perf_counter()
    with open(path, "rb") as handle:
        for line in handle:
            json.loads(line)
            n += 1
    return n, time.perf_counter() - start


def measure_replay(path, platform):
    from harness.detections import load_all
    from harness.project import Layout
    from harness.replay import Replay

    layout = Layout(ROOT)
    dets = load_all(layout.detections)
    alerts = []
    start = time.perf_counter()
    job = Replay(layout, dets, ["splunk", "elastic"] if platform == "all" else [platform],
                 on_alert=alerts.append).run([str(path)])
    return job.reader.stats["records"], time.perf_counter() - start, len(alerts)


def child(args):
    if args.child == "parse":
        n, secs = measure_parse(args.corpus)
        alerts = 0
    else:
        n, secs, alerts = measure_replay(args.corpus, args.child)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"records": n, "seconds": secs, "alerts": alerts, "peak_mb": peak_kb / 1024.0}))


def run_child(kind, corpus):
    out = subprocess.run([sys.executable, __file__, "--child", kind, "--corpus", str(corpus)],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1000000)
    parser.add_argument("--platform", action="append", choices=["splunk", "elastic", "all"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help="use this NDJSON file instead of generating one")
    args = parser.parse_args()
    if args.child:
        return child(args)
    from benchmarks.corpus import generate

    corpus = Path(args.corpus) if args.corpus else HERE / "out" / ("corpus-%d.ndjson" % args.records)
    if not corpus.exists():
        corpus.parent.mkdir(parents=True, exist_ok=True)
        print("generating %s ..." % corpus, file=sys.stderr)
        generate(str(corpus) + ".tmp", args.records)
        os.replace(str(corpus) + ".tmp", corpus)
    size = corpus.stat().st_size
    parse = run_child("parse", corpus)
    base = parse["records"] / parse["seconds"]
    print("corpus: %s (%s records, %.0f MB)" % (corpus, format(parse["records"], ","), size / 1e6))
    print("%-16s %12s %10s %8s %9s" % ("measurement", "records/s", "vs parse", "alerts", "peak MB"))
    print("%-16s %12s %9.0f%% %8s %9.0f" % ("parse", format(int(base), ","), 100.0, "-", parse["peak_mb"]))
    for platform in args.platform or ["splunk", "all"]:
        r = run_child(platform, corpus)
        rate = r["records"] / r["seconds"]
        print("%-16s %12s %9.0f%% %8d %9.0f" % ("replay " + platform, format(int(rate), ","), 100.0 * rate / base,
                                               r["alerts"], r["peak_mb"]))


if __name__ == "__main__":
    main()
