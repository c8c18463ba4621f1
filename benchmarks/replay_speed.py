"""Replay speed against bare JSON parsing, on the same input, in the same run.

    python benchmarks/replay_speed.py [--records 1000000] [--form ndjson|tree ...]
                                      [--detections all|phase1 ...] [--platform all|splunk|elastic ...]
                                      [--repeat 2] [--strict-too]

Generates (once, cached under benchmarks/out/) an NDJSON corpus of CloudTrail records (~5% sign-in,
``corpus.py``) and, for ``--form tree``, the same records as a CloudTrail tree of ``.json.gz`` files
(``{"Records": [...]}``, as CloudTrail delivers them). Then measures, each in a fresh subprocess so
that peak memory is its own:

  parse json    - read the input and ``json.loads`` every line (NDJSON) or every file (tree);
  parse orjson  - the same with ``orjson.loads``: the speed goal of issue 10 (replay at least as fast);
  replay        - ``harness.replay.Replay`` (what ``awssignin replay`` runs) over the same input, with
                  the whole catalog (``all``) or the five Phase 1 detections (``phase1``), per platform
                  choice; records/s are the input's records over the run's wall time.

Each measurement runs ``--repeat`` times and the best is reported (the machine may be shared).
"""

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "addon" / "lib"))

PHASE1 = ("root_console_login", "root_console_brute_force", "console_login_without_mfa", "signin_token_abuse",
          "root_password_recovery_requested")
RECORDS_PER_FILE = 500  # CloudTrail files hold up to a few hundred records each (5-minute deliveries)


# -- inputs ---------------------------------------------------------------------------------------

def ndjson_corpus(records):
    from benchmarks.corpus import generate

    path = HERE / "out" / ("corpus-%d.ndjson" % records)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        print("generating %s ..." % path, file=sys.stderr)
        generate(str(path) + ".tmp", records)
        os.replace(str(path) + ".tmp", path)
    return path


def tree_corpus(ndjson, records):
    """The NDJSON corpus as a CloudTrail tree: AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/*.json.gz."""
    root = HERE / "out" / ("tree-%d" % records)
    done = root / ".complete"
    if done.exists():
        return root
    print("writing %s ..." % root, file=sys.stderr)
    day = root / "AWSLogs" / "111122223333" / "CloudTrail" / "eu-west-1" / "2026" / "03" / "10"
    day.mkdir(parents=True, exist_ok=True)
    batch, serial = [], 0

    def flush():
        name = "111122223333_CloudTrail_eu-west-1_20260310T%04dZ_%08d.json.gz" % (serial // 12 % 2400, serial)
        with gzip.open(day / name, "wt", encoding="utf-8", compresslevel=6) as out:
            out.write('{"Records":[%s]}' % ",".join(batch))

    with open(ndjson, encoding="utf-8") as handle:
        for line in handle:
            batch.append(line.rstrip("\n"))
            if len(batch) == RECORDS_PER_FILE:
                flush()
                batch, serial = [], serial + 1
    if batch:
        flush()
    done.write_text("")
    return root


def _tree_files(root):
    return sorted(str(p) for p in Path(root).rglob("*.json.gz"))


# -- measurements (in a child process) --------------------------------------------------------------

def measure_parse(form, path, library):
    loads = __import__(library).loads
    n = 0
    start = time.perf_counter()
    if form == "ndjson":
        with open(path, "rb") as handle:
            for line in handle:
                loads(line)
                n += 1
    else:
        for name in _tree_files(path):
            with gzip.open(name, "rb") as handle:
                n += len(loads(handle.read())["Records"])
    return n, time.perf_counter() - start, 0


def measure_replay(path, platform, detections, prefilter=True):
    from harness.detections import load_all
    from harness.project import Layout
    from harness.replay import Replay

    layout = Layout(ROOT)
    dets = load_all(layout.detections)
    if detections == "phase1":
        dets = [d for d in dets if d.id in PHASE1]
    alerts = Counter()

    def count(alert):
        # counted, not kept: `awssignin replay` streams its alerts (the building blocks alone raise
        # one per qualifying event, which would otherwise dominate peak memory)
        alerts[alert["platform"]] += 1

    start = time.perf_counter()
    job = Replay(layout, dets, ["splunk", "elastic"] if platform == "all" else [platform],
                 on_alert=count, prefilter=prefilter).run([str(path)])
    stats = job.stats()
    seconds = time.perf_counter() - start
    return stats["records read"] + stats.get("lines not parsed", 0), seconds, sum(alerts.values()), len(dets)


def child(args):
    if args.child.startswith("parse-"):
        n, secs, alerts = measure_parse(args.form[0], args.input, args.child[len("parse-"):])
        count = 0
    else:
        platform, detections, mode = (args.child + ":").split(":")[:3]
        n, secs, alerts, count = measure_replay(args.input, platform, detections, mode != "strict")
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"records": n, "seconds": secs, "alerts": alerts, "peak_mb": peak_kb / 1024.0,
                      "detections": count}))


def run_child(kind, form, path, repeat):
    best = None
    for _ in range(repeat):
        out = subprocess.run([sys.executable, __file__, "--child", kind, "--form", form, "--input", str(path)],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        result = json.loads(out.strip().splitlines()[-1])
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1000000)
    parser.add_argument("--form", action="append", choices=["ndjson", "tree"])
    parser.add_argument("--detections", action="append", choices=["all", "phase1"])
    parser.add_argument("--platform", action="append", choices=["splunk", "elastic", "all"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--strict-too", action="store_true",
                        help="also replay without the NDJSON prefilter (what --strict runs)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    ndjson = ndjson_corpus(args.records)
    print("command: python benchmarks/replay_speed.py %s" % " ".join(sys.argv[1:]))
    for form in args.form or ["ndjson", "tree"]:
        path = ndjson if form == "ndjson" else tree_corpus(ndjson, args.records)
        parse = run_child("parse-json", form, path, args.repeat)
        fast = run_child("parse-orjson", form, path, args.repeat)
        base = parse["records"] / parse["seconds"]
        goal = fast["records"] / fast["seconds"]
        print("\n%s: %s (%s records)" % (form, path, format(parse["records"], ",")))
        print("%-32s %12s %9s %11s %8s %8s" % ("measurement", "records/s", "vs json", "vs orjson", "alerts",
                                                 "peak MB"))
        for name, r in (("parse json.loads", parse), ("parse orjson.loads", fast)):
            rate = r["records"] / r["seconds"]
            print("%-32s %12s %8.0f%% %10.0f%% %8s %8.0f" % (name, format(int(rate), ","), 100.0 * rate / base,
                                                           100.0 * rate / goal, "-", r["peak_mb"]))
        modes = ["", "strict"] if args.strict_too and form == "ndjson" else [""]
        for detections, platform, mode in [(d, p, m) for d in args.detections or ["phase1", "all"]
                                           for p in args.platform or ["all"] for m in modes]:
            r = run_child("%s:%s:%s" % (platform, detections, mode), form, path, args.repeat)
            rate = parse["records"] / r["seconds"]  # every input record, parsed or passed over
            print("%-32s %12s %8.0f%% %10.0f%% %8d %8.0f" % (
                "replay %s, %d det.%s" % (platform, r["detections"], ", --strict" if mode else ""),
                format(int(rate), ","), 100.0 * rate / base, 100.0 * rate / goal, r["alerts"], r["peak_mb"]))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
