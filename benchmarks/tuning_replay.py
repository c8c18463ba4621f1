"""What a site tuning file costs replay: the same corpus with and without ``--tuning``.

    python benchmarks/tuning_replay.py [--records 200000] [--tuning docs/tuning.example.yml] [--platform all]

Generates (once, cached under benchmarks/out/) the corpus of benchmarks/corpus.py, then runs
replay in a fresh subprocess per measurement (so peak memory is its own) without and with the
tuning file, and prints records/s, the tuned run's share of the untuned speed, alerts and peak RSS.
The allowlist filter builds each platform's view of a record only for records whose eventSource
the lane's detections read, so the cost grows with the sign-in share, not the corpus.
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


def measure(corpus, platform, tuning_path):
    from harness.detections import load_all
    from harness.project import Layout
    from harness.replay import Replay
    from harness.tuning import load

    layout = Layout(ROOT)
    dets = load_all(layout.detections)
    tuning = load(tuning_path, dets) if tuning_path else None
    alerts = []
    start = time.perf_counter()
    job = Replay(layout, dets, ["splunk", "elastic"] if platform == "all" else [platform],
                 on_alert=lambda alert, variant=None: alerts.append(alert), tuning=tuning).run([str(corpus)])
    return job.reader.stats["records"], time.perf_counter() - start, len(alerts)


def run_child(corpus, platform, tuning_path):
    cmd = [sys.executable, __file__, "--child", "--corpus", str(corpus), "--platform", platform]
    if tuning_path:
        cmd += ["--tuning", str(tuning_path)]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200000)
    parser.add_argument("--platform", default="all", choices=["splunk", "elastic", "all"])
    parser.add_argument("--tuning", default=str(ROOT / "docs" / "tuning.example.yml"))
    parser.add_argument("--corpus", help="use this NDJSON file instead of generating one")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        n, secs, alerts = measure(args.corpus, args.platform, args.tuning or None)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(json.dumps({"records": n, "seconds": secs, "alerts": alerts, "peak_mb": peak}))
        return
    from benchmarks.corpus import generate

    corpus = Path(args.corpus) if args.corpus else HERE / "out" / ("corpus-%d.ndjson" % args.records)
    if not corpus.exists():
        corpus.parent.mkdir(parents=True, exist_ok=True)
        generate(str(corpus) + ".tmp", args.records)
        os.replace(str(corpus) + ".tmp", corpus)
    plain = run_child(corpus, args.platform, "")
    tuned = run_child(corpus, args.platform, args.tuning)
    base = plain["records"] / plain["seconds"]
    print("corpus: %s (%s records), platform %s" % (corpus, format(plain["records"], ","), args.platform))
    print("%-10s %12s %10s %8s %9s" % ("replay", "records/s", "vs plain", "alerts", "peak MB"))
    for name, r in (("plain", plain), ("tuned", tuned)):
        rate = r["records"] / r["seconds"]
        print("%-10s %12s %9.0f%% %8d %9.0f" % (name, format(int(rate), ","), 100.0 * rate / base, r["alerts"],
                                              r["peak_mb"]))


if __name__ == "__main__":
    main()
