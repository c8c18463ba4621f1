"""The packaged savedsearches.conf under a model of Splunk's scheduler: every alert fires exactly once
for events indexed 0 to 60 minutes (the lateness budget) after their eventTime.

The model, per stanza: runs at every minute its ``cron_schedule`` names (continuous scheduling,
``realtime_schedule = 0``, never skips a run; ``allow_skew`` shifts all runs by one constant, modelled
by a skew of some seconds); each run resolves ``dispatch.earliest_time`` / ``latest_time`` /
``index_earliest`` / ``index_latest`` against its scheduled time (offset, then snap down) and sees the
events whose ``_time`` and ``_indextime`` lie in those ranges, earliest inclusive and latest
exclusive (savedsearches.conf.spec: dispatch.index_earliest / index_latest are "the earliest / latest
index time for this search"; Splunk's time modifiers: "greater than or equal to earliest and less
than latest", https://help.splunk.com/splunk-enterprise/search/spl2-search-manual/dates-and-time/time-modifiers).
A run then does what the saved search does: the base search (macros expanded, the SPL evaluator over
the aws:cloudtrail field view), the command's own engine set-up (``build_engine`` from
addon/bin/awssignin.py, and ``indexed_within=`` through awssignin/newbursts.py with the run's resolved
latest time, which splunkd hands the command as ``searchinfo.latest_time``), the filter macro. Events
are the detections' own firing test cases (detections/*.yml ``tests``), each event given an index
time later than its eventTime by a pattern of delays.

A new_terms detection (login_new_country_for_user) also has its baseline search: the model keeps the
KV store collection as a list of rows, each alert run appends them to its events (``inputlookup
append=true``) and each run of the baseline stanza replaces them with what ``output=baseline``
returns (``outputlookup``); at one scheduled time the baseline runs first, the order that would
expose an event absorbed before an alert run judged it.
"""

import importlib.util
import random
import sys
from pathlib import Path

import pytest
from ksconf.conf.parser import GLOBAL_STANZA, PARSECONF_MID_NC, parse_conf

from awssignin import baseline, newbursts
from awssignin.timeutil import parse_duration
from awssignin.splunkrows import rows_for
from harness.detections import load_all
from harness.project import Layout
from harness.splunk import appbuild, baselinesearch
from harness.splunk.fieldview import field_view
from harness.splunk.runner import SplunkLocalRunner, row_to_alert
from harness.testing import fixture_records

# the geo detections' fixtures need the GeoIP database awssignin test uses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("geoip_in_use")

ROOT = Path(__file__).resolve().parents[2]
LATENESS = appbuild.LATENESS
SKEWS = (0, 97)           # seconds allow_skew may shift a search's runs by
PATTERNS = ("on time", "all at the budget", "random", "last event late", "first event late", "reversed")
DAY = 86400


@pytest.fixture(scope="module")
def layout():
    return Layout(ROOT)


@pytest.fixture(scope="module")
def detections(layout):
    return dict((d.id, d) for d in load_all(layout.detections))


@pytest.fixture(scope="module")
def stanzas(layout):
    conf = parse_conf(str(layout.addon / "default" / "savedsearches.conf"), profile=PARSECONF_MID_NC)
    conf.pop(GLOBAL_STANZA, None)
    conf.pop("default", None)
    return conf


@pytest.fixture(scope="module")
def command(vendored_lib):
    """addon/bin/awssignin.py as a module (its dispatch() runs only as __main__)."""
    if str(vendored_lib) not in sys.path:
        sys.path.append(str(vendored_lib))
    spec = importlib.util.spec_from_file_location("awssignin_command_model", str(ROOT / "addon" / "bin" / "awssignin.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Scheduler(object):
    """One stanza of savedsearches.conf, run by the model over a list of (record, index time)."""

    def __init__(self, name, stanza, detection, layout, command):
        self.name = name
        self.stanza = stanza
        self.detection = detection
        self.command = command
        self.minutes = appbuild.cron_minutes(stanza["cron_schedule"])
        runner = SplunkLocalRunner(layout)
        runner.searches_in_conf()  # the stanza's own search is what runs (checked against the detection)
        _, self.base, (args, _), self.filters = runner.plan(detection)
        self.options = dict(a.split("=", 1) for a in args if "=" in a)
        self.suppressed_until = {}
        self.baseline = None


    def throttled(self, row, now):
        """Splunk's per-result suppression (savedsearches.conf.spec alert.suppress, .fields, .period):
        a result whose suppress-field values fired within the period does not fire."""
        s = self.stanza
        if s.get("alert.suppress") not in ("1", "true"):
            return False
        values = tuple(str(row.get(f)) for f in s["alert.suppress.fields"].split(","))
        if self.suppressed_until.get(values, float("-inf")) > now:
            return True
        self.suppressed_until[values] = now + parse_duration(s["alert.suppress.period"])
        return False

    def bounds(self, now):
        s = self.stanza
        resolve = appbuild.resolve_relative
        return (resolve(s["dispatch.earliest_time"], now), resolve(s["dispatch.latest_time"], now),
                resolve(s["dispatch.index_earliest"], now) if s.get("dispatch.index_earliest") else float("-inf"),
                resolve(s["dispatch.index_latest"], now) if s.get("dispatch.index_latest") else float("inf"))

    def run_times(self, first, last, skew):
        day = int(first) // DAY * DAY - DAY
        while day <= last:
            for minute in self.minutes:
                now = day + minute * 60 + skew
                if first <= now <= last:
                    yield now
            day += DAY

    def run(self, now, events, store=None):
        """The alerts of the run scheduled at ``now`` over ``events`` [(view, index time)]; ``store``:
        the baseline rows a new_terms detection's search appends (a list; output=baseline replaces
        its contents)."""
        earliest, latest, index_earliest, index_latest = self.bounds(now)
        visible = []
        for view, indexed in events:
            if earliest <= view["_time"] < latest and index_earliest <= indexed < min(index_latest, now):
                if all(p(view) for p in self.base):
                    event = dict(view)
                    event["_indextime"] = str(int(indexed))  # splunkd sends fields as text
                    visible.append(event)
        visible.sort(key=lambda v: v["_time"], reverse=True)  # Splunk hands events newest first
        if not visible:
            return []   # no event, no alert; a baseline without new events stays as it is
        opts = self.options

        def make():
            return self.command.build_engine(opts["detection"], opts.get("threshold"), opts.get("window"))

        engine = make()
        if "indexed_within" in opts:
            engine = newbursts.for_search(make, opts["indexed_within"], latest)
        for event in visible:
            engine.feed_splunk(event)
        for row in store or ():
            baseline.seed(engine, row)
        if opts.get("output") == "baseline":
            engine.finish()
            # the collection's rows come back to the command as text, like every field splunkd sends
            store[:] = [dict((k, str(v)) for k, v in row.items()) for row in baseline.baseline_rows(engine)]
            return []
        names = list(self.detection.data["logic"]["group_by"])
        rows = [r for r in rows_for(engine.finish(), names) if all(p(r) for p in self.filters)]
        return [row_to_alert(r, self.detection.id) for r in rows if not self.throttled(r, now)]

    def simulate(self, events, skew):
        """Every alert of every run that can see one of ``events``."""
        self.suppressed_until = {}
        times = [view["_time"] for view, _ in events] + [indexed for _, indexed in events]
        alerts = []
        span = (min(times) - 3600, max(times) + 2 * LATENESS + 3 * 3600)
        runs = [(now, 1, self) for now in self.run_times(span[0], span[1], skew)]
        store = None
        if self.baseline is not None:
            store = []
            runs += [(now, 0, self.baseline) for now in self.baseline.run_times(span[0], span[1], skew)]
        for now, _, search in sorted(runs, key=lambda r: (r[0], r[1])):
            alerts.extend(search.run(now, events, store))
        return alerts


class BaselineRun(Scheduler):
    """A new_terms detection's baseline stanza: the same run model, its rows replace the store."""

    def __init__(self, stanza, detection, layout, command):
        self.stanza = stanza
        self.detection = detection
        self.command = command
        self.minutes = appbuild.cron_minutes(stanza["cron_schedule"])
        runner = SplunkLocalRunner(layout)
        stages = runner.plan(detection)[1]
        self.base = stages
        self.filters = []
        self.options = {"detection": detection.id, "output": "baseline"}
        assert "| awssignin detection=%s output=baseline | outputlookup " % detection.id in stanza["search"]
        self.suppressed_until = {}
        self.baseline = None


def delays(pattern, views, rng):
    """Index delay in seconds (0..LATENESS) per event, by pattern."""
    order = sorted(range(len(views)), key=lambda i: (views[i]["_time"], i))
    out = [0] * len(views)
    for rank, i in enumerate(order):
        if pattern == "all at the budget":
            out[i] = LATENESS
        elif pattern == "random":
            out[i] = rng.randint(0, LATENESS)
        elif pattern == "last event late":
            out[i] = LATENESS if rank == len(order) - 1 else 0
        elif pattern == "first event late":
            out[i] = LATENESS if rank == 0 else 0
        elif pattern == "reversed":  # the newest event is indexed first, the oldest last
            out[i] = int(LATENESS * (len(order) - 1 - rank) / max(1, len(order) - 1))
    return out


def key(alert):
    return (tuple(sorted((k, str(v)) for k, v in alert["group"].items())), frozenset(alert["event_ids"]))


def unmatched(expected, got, by_group=False):
    """What keeps ``got`` from being ``expected`` once each: an alert fires in the first run that sees
    its burst complete, so it holds the events indexed by then, which for a late burst can be fewer
    or others than the evaluation over every event picks; it must still be one alert of the same
    group sharing events with exactly one expected alert, and every expected alert must have one.
    ``by_group`` (new_terms): an alert is one event, the first of its group to be indexed, which
    late indexing can make another event of the group than the first by eventTime."""
    problems = []
    used = [0] * len(expected)
    for group, ids in got:
        hits = [i for i, (g, want) in enumerate(expected) if g == group and want & ids]
        if by_group and not hits:
            hits = [i for i, (g, _) in enumerate(expected) if g == group]
        if len(hits) != 1:
            problems.append("alert %s matches %d expected alerts" % (sorted(ids), len(hits)))
        for i in hits:
            used[i] += 1
    problems += ["expected alert %s fired %d times" % (sorted(expected[i][1]), n) for i, n in enumerate(used) if n != 1]
    return problems


def firing_cases(detections):
    """(detection, test) for every Splunk test case that expects alerts, without parameter overrides
    (the saved search runs the detection as shipped)."""
    cases = []
    for det in sorted(detections.values(), key=lambda d: d.id):
        for test in det.data.get("tests", []):
            if test.get("expect") and not test.get("params") and "splunk" in test.get("platforms", ["splunk"]):
                cases.append((det, test))
    return cases


def scheduler_for(det, stanzas, layout, command):
    name = appbuild.stanza_name(det)
    sched = Scheduler(name, stanzas[name], det, layout, command)
    if baselinesearch.is_new_terms(det):
        sched.baseline = BaselineRun(stanzas[baselinesearch.baseline_stanza_name(det)], det, layout, command)
    return sched


def test_every_detection_has_a_firing_case(detections):
    assert set(d.id for d, _ in firing_cases(detections)) == set(detections)


def test_every_alert_fires_once_for_events_up_to_the_budget_late(detections, stanzas, layout, command):
    problems = []
    for det, test in firing_cases(detections):
        sched = scheduler_for(det, stanzas, layout, command)
        views = [field_view(r) for r in fixture_records(det, test, layout.fixtures)]
        expected = sorted(key({"group": e["group"], "event_ids": e["event_ids"]}) for e in test["expect"])
        rng = random.Random("%s/%s" % (det.id, test["name"]))
        for pattern in PATTERNS:
            lateness = delays(pattern, views, rng)
            events = [(v, v["_time"] + d) for v, d in zip(views, lateness)]
            for skew in SKEWS:
                got = [key(a) for a in sched.simulate(events, skew)]
                wrong = unmatched(expected, got, by_group=baselinesearch.is_new_terms(det))
                if wrong:
                    problems.append("%s / %s / %s / skew %ds: %s" % (det.id, test["name"], pattern, skew,
                                                                      "; ".join(wrong)))
    assert not problems, "\n".join(problems)


def root_login(event_id, when):
    return {"eventVersion": "1.08", "eventID": event_id, "eventTime": when, "eventSource": "signin.amazonaws.com",
            "eventName": "ConsoleLogin", "eventType": "AwsConsoleSignIn", "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7", "userAgent": "Mozilla/5.0", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "Root", "principalId": "111122223333", "accountId": "111122223333",
                             "arn": "arn:aws:iam::111122223333:root"},
            "responseElements": {"ConsoleLogin": "Success"},
            "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/", "MobileVersion": "No",
                                    "MFAUsed": "Yes"}}


def test_a_second_root_login_twelve_minutes_later_alerts_too(detections, stanzas, layout, command):
    # The case: the old 20-minute suppression on group fields hid the second login.
    sched = scheduler_for(detections["root_console_login"], stanzas, layout, command)
    first = field_view(root_login("00000000-0000-4000-8000-000000000001", "2026-03-02T10:00:00Z"))
    second = field_view(root_login("00000000-0000-4000-8000-000000000002", "2026-03-02T10:12:00Z"))
    alerts = sched.simulate([(first, first["_time"] + 17 * 60), (second, second["_time"] + 300)], 0)
    assert sorted(a["event_ids"][0] for a in alerts) == [
        "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]
    # the model can fail: the old throttle on the group hides the second login
    sched.stanza = dict(sched.stanza, **{"alert.suppress": "1", "alert.suppress.fields": "group_account_id",
                                         "alert.suppress.period": "20m"})
    assert len(sched.simulate([(first, first["_time"] + 17 * 60), (second, second["_time"] + 300)], 0)) == 1


def test_only_repeats_of_the_same_event_are_throttled(stanzas):
    # savedsearches.conf.spec: alert.suppress.fields lists the fields per-result suppression compares.
    # Per-event alerts compare their one event id (a second copy from another trail); correlations
    # need no throttle (indexed_within= drops what an earlier run saw).
    for name, stanza in stanzas.items():
        if "output=baseline" in stanza["search"]:
            assert "counttype" not in stanza, name    # a baseline search is a report: it never alerts
            continue
        if "indexed_within=" in stanza["search"]:
            assert stanza["alert.suppress"] == "0" and "alert.suppress.fields" not in stanza, name
        else:
            assert (stanza["alert.suppress"], stanza["alert.suppress.fields"]) == ("1", "event_ids"), name
            assert parse_duration(stanza["alert.suppress.period"]) > LATENESS, name


def test_a_copy_from_a_second_trail_indexed_later_alerts_once(detections, stanzas, layout, command):
    sched = scheduler_for(detections["root_console_login"], stanzas, layout, command)
    view = field_view(root_login("00000000-0000-4000-8000-000000000005", "2026-03-02T10:00:00Z"))
    assert len(sched.simulate([(view, view["_time"]), (dict(view), view["_time"] + LATENESS)], 0)) == 1


def test_an_event_later_than_the_budget_is_missed_by_a_per_event_alert(detections, stanzas, layout, command):
    # The model can fail: the budget is a real bound, not a tautology.
    sched = scheduler_for(detections["root_console_login"], stanzas, layout, command)
    view = field_view(root_login("00000000-0000-4000-8000-000000000003", "2026-03-02T10:00:00Z"))
    assert sched.simulate([(view, view["_time"] + LATENESS)], 0)
    assert sched.simulate([(view, view["_time"] + LATENESS + 20 * 60)], 0) == []


def test_without_indexed_within_a_correlation_alerts_again(detections, stanzas, layout, command):
    # The model can fail: the shipped range reaches back window + lateness, so without the command's
    # indexed_within= every run that still sees a burst would report it again.
    det, test = next((d, t) for d, t in firing_cases(detections) if d.id == "root_console_brute_force")
    sched = scheduler_for(det, stanzas, layout, command)
    del sched.options["indexed_within"]
    views = [field_view(r) for r in fixture_records(det, test, layout.fixtures)]
    alerts = sched.simulate([(v, v["_time"]) for v in views], 0)
    assert len(alerts) > len(test["expect"])


def test_old_event_time_schedule_misses_a_late_event(detections, stanzas, layout, command):
    # The case: -20m@m .. -10m@m by event time never sees an event indexed 17 minutes late.
    sched = scheduler_for(detections["root_console_login"], stanzas, layout, command)
    sched.stanza = dict(sched.stanza, **{"dispatch.earliest_time": "-20m@m", "dispatch.latest_time": "-10m@m",
                                         "dispatch.index_earliest": "", "dispatch.index_latest": ""})
    view = field_view(root_login("00000000-0000-4000-8000-000000000004", "2026-03-02T10:03:00Z"))
    assert sched.simulate([(view, view["_time"] + 17 * 60)], 0) == []


def test_indexed_within_needs_a_duration_and_a_latest_time(command):
    def make():
        return command.build_engine("root_console_brute_force")
    with pytest.raises(ValueError, match="indexed_within"):
        newbursts.for_search(make, "soon", 1772445600.0)
    with pytest.raises(ValueError, match="indexed_within"):
        newbursts.for_search(make, "0s", 1772445600.0)
    # an all-time search by hand (latest_time 0) has no previous run: every alert is returned
    assert not isinstance(newbursts.for_search(make, "10m", 0.0), newbursts.NewBursts)
    engine = newbursts.for_search(make, "10m", 1772445600.0)
    assert isinstance(engine, newbursts.NewBursts) and engine.cutoff == 1772445600.0 - 600
