"""Throughput of the awssignin search command over the chunked protocol, against a pass-through command.

Both commands get the same records in the same chunks, encoded as splunkd sends them once the command
has declared its required fields (so no ``_raw``); the pass-through is a splunklib StreamingCommand that
declares the same required fields and yields every record back, the least any splunklib command can do.
The goal is for awssignin to reach at least 70% of the pass-through's rate.

    python -m benchmarks.splunk_command [--records 100000] [--chunk-size 50000] [--repeat 3]
                                        [--python PATH] [--mix typical|fixtures|both] [--detections IDS]

Two event mixes, both made of the fixtures' sign-in records with fresh eventIDs and times: "typical"
(98% of events no detection considers, as in an account's ordinary sign-in traffic) and "fixtures"
(uniform over the fixtures, which are mostly positives: about one alert per four events, and bursts
with tens of thousands of eventIDs; it measures the cost of building and writing alerts).

Two figures per command: the chunk phase alone (records / time from the first execute chunk to the
last reply) and the whole conversation (spawn, getinfo, chunks, exit). Chunks are encoded before
timing and replies are parsed after it, so the driver's own CSV work is not counted: the figures are
the commands' (transfer, splunklib's CSV reading and writing, the command's logic).
"""

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "addon" / "lib"))
sys.path.insert(0, str(ROOT))

from harness.splunk.fieldview import field_view  # noqa: E402
from harness.splunk.scp import Conversation, chunks_of, decode_records  # noqa: E402
from harness.splunk.vendor import vendor_splunklib  # noqa: E402

GOAL = 0.70
T0 = 1773100800  # 2026-03-10T00:00:00Z

PASS_THROUGH = '''
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from splunklib.searchcommands import Configuration, StreamingCommand, dispatch
from awssignin.normalize import SPLUNK_FIELDS

@Configuration(distributed=False, required_fields=list(SPLUNK_FIELDS) + ["_time"])
class PassThrough(StreamingCommand):
    def stream(self, records):
        for record in records:
            yield record

dispatch(PassThrough, sys.argv, sys.stdin, sys.stdout, __name__)
'''


def signin_templates():
    out = []
    for path in sorted((ROOT / "detections" / "fixtures").rglob("*.json")):
        with open(str(path), encoding="utf-8") as handle:
            for record in json.load(handle)["Records"]:
                if record.get("eventSource") == "signin.amazonaws.com":
                    out.append(record)
    if not out:
        raise SystemExit("no sign-in records under detections/fixtures to build the benchmark from")
    return out


def split_templates(templates, specs):
    """(records no detection's predicate accepts, records some detection considers)."""
    from awssignin.engine import Engine
    benign, relevant = [], []
    for record in templates:
        engine = Engine(specs)
        engine.feed_record(record)
        (relevant if engine.stats["candidates"] else benign).append(record)
    return benign, relevant


def splunk_events(count, mix, specs, seed=1):
    """``count`` sign-in events as Splunk's field view, newest first, spread over a day, each with its
    own eventID. ``mix``: "fixtures" draws uniformly from the fixtures' sign-in records (mostly
    positives and near misses: many alerts, the stress case); "typical" draws 98% from records no
    detection considers and 2% from the others, like an account's ordinary sign-in traffic."""
    rng = random.Random(seed)
    templates = signin_templates()
    benign, relevant = split_templates(templates, specs)
    views = []
    for i in range(count):
        if mix == "fixtures":
            template = rng.choice(templates)
        else:
            template = rng.choice(relevant if (rng.random() < 0.02 or not benign) else benign)
        record = json.loads(json.dumps(template))
        t = T0 + int(86400 * i / count) + rng.randint(-300, 300)
        record["eventTime"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        record["eventID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        views.append(field_view(record))
    views.sort(key=lambda v: v["_time"], reverse=True)
    return views


def detection_specs():
    from harness.detections import load_all
    from harness.project import Layout
    return [d.engine_spec() for d in load_all(Layout(ROOT).detections)]


def build_app(directory, specs):
    """A throw-away app: the real command and engine, the detection table, splunklib, the pass-through."""
    app = Path(directory) / "TA-bench"
    (app / "bin").mkdir(parents=True)
    shutil.copy2(str(ROOT / "addon" / "bin" / "awssignin.py"), str(app / "bin" / "awssignin.py"))
    shutil.copytree(str(ROOT / "addon" / "lib" / "awssignin"), str(app / "lib" / "awssignin"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "detections.json"))
    vendor_splunklib(app / "lib")
    (app / "lib" / "awssignin" / "detections.json").write_text(json.dumps({"detections": specs}), encoding="utf-8")
    (app / "bin" / "passthrough.py").write_text(PASS_THROUGH, encoding="utf-8")
    return app


def measure(script, args, events, chunk_size, python):
    """(seconds for the chunks, seconds for the whole conversation, rows returned)."""
    start = time.perf_counter()
    conv = Conversation(script, args, python=python)
    conv.start()
    encode_start = time.perf_counter()
    bodies = [conv.encode_chunk(c).encode("utf-8") for c in chunks_of(events, chunk_size)]
    encode_end = time.perf_counter()
    replies = []
    for i, body in enumerate(bodies):
        replies.append(conv.execute_raw(body, finished=i == len(bodies) - 1)[1])
    chunks_done = time.perf_counter()
    returncode, stderr = conv.close()
    end = time.perf_counter()
    rows = sum(len(decode_records(r)) for r in replies)
    if returncode != 0:
        raise SystemExit("%s exited %s:\n%s" % (script, returncode, stderr[-2000:]))
    return chunks_done - encode_end, (end - start) - (encode_end - encode_start), rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100000, help="events per run (default 100000)")
    parser.add_argument("--chunk-size", type=int, default=50000, help="events per chunk (default 50000, splunkd's)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command; the best is kept (default 3)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the commands")
    parser.add_argument("--mix", choices=("typical", "fixtures", "both"), default="both",
                        help="typical: 2%% of events concern a detection; fixtures: uniform over the fixtures' "
                             "sign-in records, many alerts (default: both)")
    parser.add_argument("--detections", default=None,
                        help="comma-separated ids for awssignin (default: every detection at once)")
    opts = parser.parse_args(argv)

    specs = detection_specs()
    ids = opts.detections.split(",") if opts.detections else [s["id"] for s in specs]
    mixes = ("typical", "fixtures") if opts.mix == "both" else (opts.mix,)
    print("%d events, chunks of %d, Python %s, best of %d; awssignin detection=%s" % (
        opts.records, opts.chunk_size, _version(opts.python), opts.repeat, ",".join(ids)))
    print("%-9s %-13s %13s %17s %9s" % ("mix", "command", "chunks rec/s", "end-to-end rec/s", "rows out"))
    workdir = tempfile.mkdtemp(prefix="awssignin-bench-")
    met = True
    try:
        app = build_app(workdir, specs)
        runs = {
            "pass-through": (app / "bin" / "passthrough.py", []),
            "awssignin": (app / "bin" / "awssignin.py", ["detection=" + ",".join(ids)]),
        }
        for mix in mixes:
            events = splunk_events(opts.records, mix, specs)
            best = {}
            for _ in range(opts.repeat):
                for name, (script, args) in runs.items():  # interleaved, so drift hits both alike
                    chunks, whole, rows = measure(str(script), args, events, opts.chunk_size, opts.python)
                    prev = best.get(name, (chunks, whole, rows))
                    best[name] = (min(chunks, prev[0]), min(whole, prev[1]), rows)
            for name in ("pass-through", "awssignin"):
                chunks, whole, rows = best[name]
                print("%-9s %-13s %13.0f %17.0f %9d" % (mix, name, opts.records / chunks, opts.records / whole, rows))
            ratio = best["pass-through"][0] / best["awssignin"][0]
            ratio_whole = best["pass-through"][1] / best["awssignin"][1]
            met = met and ratio >= GOAL
            print("%-9s awssignin / pass-through: %.1f%% (chunks), %.1f%% (end to end); goal >= %.0f%%: %s" % (
                mix, 100 * ratio, 100 * ratio_whole, 100 * GOAL, "met" if ratio >= GOAL else "NOT met"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if met else 1


def _version(python):
    import subprocess
    return subprocess.run([python, "-c", "import platform; print(platform.python_version())"],
                          stdout=subprocess.PIPE, universal_newlines=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
