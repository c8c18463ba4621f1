"""Replay's fast path gives exactly the alerts of the plain path, and still accounts for every line.

The fast path (the default) hands the platforms only the records whose eventSource and eventName
some detection pins (``harness/candidates.py``) and, on NDJSON, does not parse the lines that hold
none of the pinned values; the plain path validates every record and feeds every one to every
platform. Both run the whole catalog on both platforms over the realistic day (with its API noise:
``iam.amazonaws.com`` calls that are not login-profile changes, sign-in events no detection reads)
and over every fixture record.
"""

import json
from pathlib import Path

import pytest

from harness.detections import load_all
from harness.project import Layout
from harness.realday import generate_day, write
from harness.replay import Replay
from fixturedata import all_fixture_records

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"


def _key(alert):
    return json.dumps(alert, sort_keys=True)


def _run(path, plain):
    layout = Layout(ROOT)
    alerts = []
    job = Replay(layout, load_all(layout.detections), ["splunk", "elastic"], on_alert=alerts.append,
                 prefilter=not plain)
    if plain:
        job.candidates.wants = lambda record: True  # every record validated and fed to every platform
    job.run([str(path)])
    return job, sorted(map(_key, alerts))


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    records, _ = generate_day(seed=20260310, size=3000)
    path = tmp_path_factory.mktemp("day") / "day.ndjson"
    write(records, path)
    return path, len(records)


def test_the_realistic_day_gives_the_same_alerts_on_the_fast_and_the_plain_path(day):
    path, count = day
    fast, fast_alerts = _run(path, plain=False)
    plain, plain_alerts = _run(path, plain=True)
    assert fast_alerts and fast_alerts == plain_alerts
    fast_stats, plain_stats = fast.stats(), plain.stats()
    # the fast path passed over most lines, and says so: every line is a record read or a line not parsed
    assert fast_stats["lines not parsed"] > count // 2
    assert fast_stats["records read"] + fast_stats["lines not parsed"] == count
    assert plain_stats["records read"] == count and plain_stats["lines not parsed"] == 0
    # records the platforms saw: only pinned ones on the fast path, every one on the plain path
    assert fast_stats["validated"] < plain_stats["validated"] == count


def test_every_fixture_record_gives_the_same_alerts_on_the_fast_and_the_plain_path(tmp_path):
    records = all_fixture_records()
    path = tmp_path / "fixtures.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    _, fast_alerts = _run(path, plain=False)
    _, plain_alerts = _run(path, plain=True)
    assert fast_alerts and fast_alerts == plain_alerts


def test_a_damaged_line_without_pinned_values_is_reported_when_every_line_is_parsed(tmp_path):
    # what --strict runs (prefilter off): the damaged API call is a skip; with the prefilter it is a line not parsed
    api = {"eventVersion": "1.10", "eventID": "e1", "eventTime": "2026-03-10T00:00:00Z",
           "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}
    text = json.dumps(api) + "\n" + '{"eventVersion": "1.10", "eventID": "e2", "eventSource": "s3.amazon}\n' \
        + json.dumps(dict(api, eventID="e3")) + "\n"
    path = tmp_path / "damaged.ndjson"
    path.write_text(text)
    layout = Layout(ROOT)
    every = Replay(layout, load_all(layout.detections), ["splunk", "elastic"], prefilter=False).run([str(path)])
    assert every.not_read() == 1 and every.stats()["records read"] == 2
    fast = Replay(layout, load_all(layout.detections), ["splunk", "elastic"]).run([str(path)])
    assert fast.stats()["records read"] + fast.stats()["lines not parsed"] + fast.not_read() == 3


class _Logic(object):
    """A detection as Candidates reads it: its logic only."""

    def __init__(self, logic):
        self.data = {"logic": logic}


def test_candidates_follow_each_predicate_s_pins():
    from harness.candidates import Candidates

    pinned = _Logic({"type": "event", "where": {"all": [
        {"field": "event_source", "equals": "iam.amazonaws.com"},
        {"field": "event_name", "in": ["CreateLoginProfile", "UpdateLoginProfile"]}]}})
    source_only = _Logic({"type": "event", "where": {"field": "event_source", "equals": "sts.amazonaws.com"}})
    c = Candidates([pinned, source_only])
    assert c.wants({"eventSource": "iam.amazonaws.com", "eventName": "CreateLoginProfile"})
    assert not c.wants({"eventSource": "iam.amazonaws.com", "eventName": "ListUsers"})
    assert c.wants({"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole"})
    assert not c.wants({"eventSource": "s3.amazonaws.com", "eventName": "CreateLoginProfile"})
    # a malformed name under a pinned source is validated (and so reported), not passed over
    assert c.wants({"eventSource": "iam.amazonaws.com", "eventName": ["CreateLoginProfile"]})
    assert c.needles() == ('"CreateLoginProfile"', '"UpdateLoginProfile"', '"sts.amazonaws.com"')
    # a predicate that pins the name only: any source
    by_name = Candidates([_Logic({"type": "event", "where": {"field": "event_name", "equals": "ConsoleLogin"}})])
    assert by_name.wants({"eventSource": "example.amazonaws.com", "eventName": "ConsoleLogin"})
    assert not by_name.wants({"eventSource": "example.amazonaws.com", "eventName": "GetObject"})
    assert by_name.needles() == ('"ConsoleLogin"',)
    # a predicate that pins nothing: every record is a candidate and no line is passed over
    anything = Candidates([pinned, _Logic({"type": "event", "where": {"field": "user", "exists": True}})])
    assert anything.wants({"eventSource": "s3.amazonaws.com"}) and anything.needles() is None


def test_every_kibana_rule_pins_no_wider_than_its_detection_s_logic():
    """What lets replay pass over records outside the logic's pins: the generated Kibana rule of
    every shipped detection pins event.provider and event.action to (a subset of) the same values,
    so no record outside them can match on Elastic either."""
    from harness.candidates import Candidates
    from harness.elastic.runner import ElasticRule

    for det in load_all(Layout(ROOT).detections):
        pins = Candidates([det])
        rule = ElasticRule(det)
        assert rule.providers is not None and rule.actions is not None, det.id
        assert rule.providers <= pins.sources and rule.actions <= frozenset().union(
            *[n for _, n in pins.pins if n is not None]), det.id
