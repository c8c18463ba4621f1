"""``awssignin test``: every detection's tests, on every platform's local runner.

The expectations in a detection file are shared by the platforms: each platform's artefact (the
Splunk saved search run through the real search command; the Kibana rule evaluated with
Elasticsearch's semantics) must produce them. How an alert is matched against an expectation:

- exact for per-event and sequence logic: the same group and the same set of eventIDs;
- for Elastic threshold rules, Kibana reports the events one run counted, not a whole burst, so an
  Elastic alert matches an expected burst when the group is equal, its eventIDs are a subset of the
  burst's, and it holds at least the threshold. Near misses still must produce no alert at all.

A detection whose logic reads ``source_country`` needs a GeoIP database (harness/geoip.py): on the
local runners without one in use, and on live platforms (``runners``: their own GeoIP data does not
place the fixtures' documentation addresses), its tests are "not evaluated" (status
``geoip.NOT_EVALUATED``), never run to "no alert".
"""

import os
import threading
import time
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor

from . import geoip
from .reader import Reader

PLATFORMS = ("splunk", "elastic")

Outcome = namedtuple("Outcome", "detection test platform status expected actual message seconds")


class FixtureError(ValueError):
    pass


def local_runner(platform, layout):
    """The local runner of one platform (imported lazily: each pulls in its platform's modules)."""
    if platform == "splunk":
        from .splunk.runner import SplunkLocalRunner
        return SplunkLocalRunner(layout)
    if platform == "elastic":
        from .elastic.runner import ElasticLocalRunner
        return ElasticLocalRunner(layout)
    raise ValueError("unknown platform %r (known: %s)" % (platform, ", ".join(PLATFORMS)))


def fixture_records(detection, test, fixtures_dir):
    """The records of a test's fixture files; a fixture that does not read cleanly is an error."""
    problems = []
    reader = Reader([str(p) for p in detection.fixture_paths(fixtures_dir, test)], on_skip=problems.append)
    records = [record for record, _ in reader]
    if problems:
        raise FixtureError("fixture does not read cleanly: %s" % "; ".join(str(p) for p in problems[:5]))
    return records


def _key(group):
    return tuple(sorted((k, None if v is None else str(v)) for k, v in group.items()))


def compare(detection, test, alerts, platform):
    """(ok, message) for one test's alerts on one platform; the message explains a mismatch."""
    expected = [(_key(e["group"]), frozenset(e["event_ids"])) for e in test["expect"]]
    actual = [(_key(a["group"]), frozenset(a["event_ids"])) for a in alerts]
    threshold_rule = platform == "elastic" and detection.data["elastic"]["type"] == "threshold"
    minimum = (test.get("params") or {}).get("threshold", detection.data["logic"].get("threshold", 1))
    unmatched = list(expected)
    extra = []
    for group, ids in actual:
        for i, (egroup, eids) in enumerate(unmatched):
            if egroup != group:
                continue
            if ids == eids or (threshold_rule and ids <= eids and len(ids) >= minimum):
                del unmatched[i]
                break
        else:
            extra.append((group, ids))
    if not unmatched and not extra:
        return True, ""
    lines = []
    for group, ids in unmatched:
        lines.append("missing: group {%s} events %s" % (_fmt(group), sorted(ids)))
    for group, ids in extra:
        lines.append("unexpected: group {%s} events %s" % (_fmt(group), sorted(ids)))
    return False, "\n".join(lines)


def _fmt(group):
    return ", ".join("%s=%s" % kv for kv in group)


def planned(detections, platforms):
    """(detection, index, test, platform) for every test to run, honouring a test's `platforms`."""
    for det in detections:
        for i, test in enumerate(det.data["tests"]):
            for platform in platforms:
                if platform in test.get("platforms", PLATFORMS):
                    yield det, i, test, platform


def run_tests(layout, detections, platforms=PLATFORMS, on_outcome=None, runners=None, redact=None, workers=None,
              tuning=None):
    """Run every planned test. ``runners`` ({platform: runner with .run(detection, records, params)})
    replaces the local runners (the Docker tier passes its live ones, run one test at a time);
    ``redact`` cleans error texts. The local runners run tests on ``workers`` threads (default: the
    CPU count), each thread with its own runners: the Splunk runner's time is the real command's
    subprocess, which threads overlap. Outcomes come back, and ``on_outcome`` is called, in plan order.
    ``tuning`` (harness.tuning.apply.TestTuning): each test also runs tuned, and it records what the
    tuning removed; outcomes still judge the untuned run (the pack's own expectations)."""
    plan = list(planned(detections, platforms))
    shared = dict(runners) if runners is not None else None
    local = threading.local()

    def runner_for(platform):
        if shared is not None:
            if platform not in shared:
                shared[platform] = local_runner(platform, layout)
            return shared[platform]
        mine = getattr(local, "runners", None)
        if mine is None:
            mine = local.runners = {}
        if platform not in mine:
            mine[platform] = local_runner(platform, layout)
        return mine[platform]

    def tuned_runner_for(platform):
        mine = getattr(local, "tuned", None)
        if mine is None:
            mine = local.tuned = {}
        if platform not in mine:
            mine[platform] = tuning.runner(platform)
        return mine[platform]

    def one(item):
        det, _, test, platform = item
        start = time.perf_counter()
        expected = test["expect"]
        if geoip.detection_needs_geo(det) and (shared is not None or geoip.current() is None):
            # live platforms read their own GeoIP data, which places none of the fixtures'
            # documentation addresses (detections/fixtures/geoip.csv is for the local runners)
            message = geoip.not_evaluated_message(det.id) if shared is None else (
                "%s: not evaluated on the live %s: it reads its own GeoIP database, which does not hold the "
                "fixtures' documentation addresses" % (det.id, platform))
            return Outcome(det.id, test["name"], platform, geoip.NOT_EVALUATED, expected, [], message, 0.0)
        try:
            records = fixture_records(det, test, layout.fixtures)
            alerts = runner_for(platform).run(det, records, test.get("params"))
            if tuning is not None:
                tuning.run(platform, tuned_runner_for(platform), det, test, records, alerts)
            ok, message = compare(det, test, alerts, platform)
            return Outcome(det.id, test["name"], platform, "pass" if ok else "fail",
                           expected, alerts, message, time.perf_counter() - start)
        except Exception as err:  # one broken test must not hide the others' results
            text = "%s: %s" % (type(err).__name__, err)
            return Outcome(det.id, test["name"], platform, "error", expected, [],
                           redact(text) if redact else text, time.perf_counter() - start)

    count = 1 if shared is not None else (workers or os.cpu_count() or 1)
    outcomes = []
    if count <= 1:
        results = map(one, plan)
    else:
        pool = ThreadPoolExecutor(max_workers=count)
        results = pool.map(one, plan)
    try:
        for outcome in results:
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        if count > 1:
            pool.shutdown()
    return outcomes


def write_junit(outcomes, path):
    """JUnit XML: one testcase per (detection, test, platform)."""
    from xml.etree import ElementTree as ET

    suite = ET.Element("testsuite", name="awssignin", tests=str(len(outcomes)),
                       failures=str(sum(o.status == "fail" for o in outcomes)),
                       errors=str(sum(o.status == "error" for o in outcomes)),
                       skipped=str(sum(o.status == geoip.NOT_EVALUATED for o in outcomes)),
                       time="%.3f" % sum(o.seconds for o in outcomes))
    for o in outcomes:
        case = ET.SubElement(suite, "testcase", classname="%s.%s" % (o.platform, o.detection),
                             name=o.test, time="%.3f" % o.seconds)
        if o.status == "fail":
            ET.SubElement(case, "failure", message="alerts differ from the expectation").text = o.message
        elif o.status == "error":
            ET.SubElement(case, "error", message=o.message.splitlines()[0] if o.message else "error").text = o.message
        elif o.status == geoip.NOT_EVALUATED:
            ET.SubElement(case, "skipped", message=o.message)
    ET.ElementTree(suite).write(str(path), encoding="utf-8", xml_declaration=True)
