"""The Elastic local runner: each detection's Kibana rule over its fixtures, as Kibana would run it."""

import copy
from collections import Counter

import pytest

from fixturedata import ROOT, fixture_records
from harness.detections import DetectionFile, load_all
from harness.elastic import runner as runner_module
from harness.elastic import eql, kql
from harness.elastic.runner import (ElasticLocalRunner, ElasticRules, eql_providers, kql_providers)
from harness.project import Layout
from harness.testing import compare, planned

# the geo detections' fixtures need the GeoIP database awssignin test uses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("geoip_in_use")

LAYOUT = Layout(ROOT)
DETECTIONS = dict((d.id, d) for d in load_all(LAYOUT.detections))


def detection(det_id):
    return DETECTIONS[det_id]


def records_of(test):
    records = []
    for name in test["fixtures"]:
        records.extend(fixture_records(name))
    return records


def delivered_twice(records):
    counts = Counter(r["eventID"] for r in records)
    return sorted(i for i, n in counts.items() if n > 1)


def variant(det_id, **elastic):
    """A copy of a detection with parts of its elastic section replaced (the file is untouched)."""
    det = detection(det_id)
    data = copy.deepcopy(det.data)
    data["elastic"].update(elastic)
    return DetectionFile(det.path, data, det.lines)


def run(det, records, params=None):
    return ElasticLocalRunner(LAYOUT).run(det, records, params)


# -- every detection's own tests ---------------------------------------------------------------

ELASTIC_TESTS = [(det, test) for det, _, test, _ in planned(DETECTIONS.values(), ["elastic"])]
SINGLE_DELIVERY = [(d, t) for d, t in ELASTIC_TESTS if not delivered_twice(records_of(t))]
MULTI_TRAIL = [(d, t) for d, t in ELASTIC_TESTS if delivered_twice(records_of(t))]


@pytest.mark.parametrize("det, test", SINGLE_DELIVERY,
                         ids=["%s: %s" % (d.id, t["name"]) for d, t in SINGLE_DELIVERY])
def test_detection_fixtures_give_the_expected_alerts(det, test):
    alerts = run(det, records_of(test), test.get("params"))
    ok, message = compare(det, test, alerts, "elastic")
    assert ok, message
    for alert in alerts:
        assert alert["platform"] == "elastic" and alert["detection"] == det.id


def test_every_phase1_detection_is_exercised():
    assert {d.id for d, _ in SINGLE_DELIVERY} == set(DETECTIONS)


@pytest.mark.parametrize("det, test", MULTI_TRAIL, ids=["%s: %s" % (d.id, t["name"]) for d, t in MULTI_TRAIL])
def test_multi_trail_copies_count_once_with_the_dedup_pipeline(det, test):
    alerts = run(det, records_of(test), test.get("params"))
    ok, message = compare(det, test, alerts, "elastic")
    assert ok, message


@pytest.mark.parametrize("det, test", MULTI_TRAIL, ids=["%s: %s" % (d.id, t["name"]) for d, t in MULTI_TRAIL])
def test_without_the_dedup_pipeline_a_copy_is_a_second_document(det, test):
    # The aws-s3 input gives each delivery its own _id (S3 object + offset) and the CloudTrail
    # pipeline does not fingerprint eventID, so both copies are indexed and the rule sees both.
    records = records_of(test)
    twice = set(delivered_twice(records))
    engine = ElasticRules([det], {det.id: test["params"]} if test.get("params") else None,
                          strict=True, dedup_pipeline=False)
    alerts = [a for r in records for a in engine.feed_record(r)] + engine.finish()
    per_event = Counter(i for a in alerts for i in a["event_ids"])
    kind = det.data["elastic"]["type"]
    if kind == "threshold":
        # the threshold rule also requires distinct event.id >= N: the copies never make a burst
        # the test does not expect
        ok, message = compare(det, test, alerts, "elastic")
        assert ok, message
    elif kind == "query":
        # one alert per document: each copy is an alert of its own
        assert twice and all(per_event[i] == 2 for i in twice)
    else:
        # an EQL sequence joins a copy like the original; the alert still holds the event
        assert all(per_event[i] >= 1 for i in twice if any(i in e["event_ids"] for e in test["expect"]))


def test_a_threshold_alert_carries_every_document_of_the_run_that_fired():
    det = detection("root_console_brute_force")
    test = next(t for t in det.data["tests"] if t["fixtures"] == ["root_console_brute_force/burst_two_sources.json"])
    [alert] = run(det, records_of(test))
    # 1m runs looking back 15m: the run of 09:08 holds the first five failures; the sixth is history
    assert alert["count"] == 5 and alert["first_seen"] == "2026-03-10T09:00:00Z"
    assert alert["last_seen"] == "2026-03-10T09:08:00Z"
    assert alert["group"] == {"account_id": "111122223333"}


def test_two_bursts_of_one_account_stay_two_alerts():
    det = detection("root_console_brute_force")
    test = next(t for t in det.data["tests"] if "two_bursts_two_accounts" in t["fixtures"][0])
    alerts = run(det, records_of(test))
    per_account = Counter(a["group"]["account_id"] for a in alerts)
    assert per_account == {"111122223333": 2, "444455556666": 1}


# -- a wrong query loses the alerts ------------------------------------------------------------

def test_a_kql_value_in_the_wrong_case_matches_nothing():
    det = detection("root_console_login")
    test = det.data["tests"][1]
    assert run(det, records_of(test))                           # the real rule fires
    query = det.data["elastic"]["query"].replace('event.outcome: "success"', 'event.outcome: "Success"')
    assert query != det.data["elastic"]["query"]
    assert run(variant("root_console_login", query=query), records_of(test)) == []


def test_a_kql_value_in_the_wrong_case_matches_nothing_in_a_signin_token_rule():
    det = detection("signin_token_abuse")
    test = det.data["tests"][0]
    assert run(det, records_of(test))
    query = det.data["elastic"]["query"].replace('event.outcome: "success"', 'event.outcome: "Success"')
    assert query != det.data["elastic"]["query"]
    assert run(variant("signin_token_abuse", query=query), records_of(test)) == []


def test_a_wrong_threshold_query_never_fires():
    det = detection("root_console_brute_force")
    test = det.data["tests"][0]
    query = det.data["elastic"]["query"].replace('"Root"', '"root"')
    assert query != det.data["elastic"]["query"]
    assert run(variant("root_console_brute_force", query=query), records_of(test)) == []


# -- overrides ---------------------------------------------------------------------------------

FOUR_FAILURES = fixture_records("root_console_brute_force/four_failures.json")
SPREAD_OUT = fixture_records("root_console_brute_force/just_outside_window.json")


def replay(records, overrides=None, **kw):
    rules = ElasticRules([detection("root_console_brute_force")], overrides, **kw)
    alerts = []
    for record in records:
        alerts.extend(rules.feed_record(record))
    return alerts + rules.finish()


def test_a_threshold_override_changes_the_outcome():
    assert replay(FOUR_FAILURES) == []
    [alert] = replay(FOUR_FAILURES, {"root_console_brute_force": {"threshold": 4}})
    assert alert["count"] == 4


def test_a_window_override_widens_the_look_back():
    assert replay(SPREAD_OUT) == []                             # 15m01s does not fit 15m
    [alert] = replay(SPREAD_OUT, {"root_console_brute_force": {"window": "16m"}})
    assert alert["count"] == 5


def test_overrides_change_the_rule_as_the_exported_rule_changes():
    rules = ElasticRules([detection("root_console_brute_force")],
                         {"root_console_brute_force": {"threshold": "7", "window": "30m"}})
    rule = rules.rules[0].rule
    assert rule["threshold"]["value"] == 7
    assert rule["from"] == "now-30m"
    assert rules.rules[0].schedule.lookback == 1800
    assert rules.rules[0].merger.window == 1800


@pytest.mark.parametrize("overrides, message", [
    ({"nope": {"threshold": 3}}, "unknown detections: nope"),
    ({"root_console_brute_force": {"threshold": 0}}, "at least 1"),
    ({"root_console_brute_force": {"threshold": "many"}}, "whole number"),
    ({"root_console_brute_force": {"window": "soon"}}, "window"),
    ({"root_console_brute_force": {"severity": "low"}}, "only threshold and window"),
    ({"root_console_login": {"threshold": 3}}, "has no threshold"),
])
def test_bad_overrides_are_refused_with_a_reason(overrides, message):
    with pytest.raises(ValueError, match=message):
        ElasticRules(list(DETECTIONS.values()), overrides)


# -- cost of records no rule can match -------------------------------------------------------

def test_every_rule_pins_the_providers_its_logic_reads():
    # a rule pins exactly the event sources its logic requires, so other records are never mapped
    from awssignin.predicates import required_values

    rules = ElasticRules(list(DETECTIONS.values()))
    for rule in rules.rules:
        logic = DETECTIONS[rule.id].data["logic"]
        wheres = [s["where"] for s in logic["steps"]] if logic["type"] == "sequence" else [logic["where"]]
        wanted = frozenset().union(*(required_values(w, "event_source") for w in wheres))
        assert rule.providers == wanted, rule.id
    assert any("iam.amazonaws.com" in r.providers for r in rules.rules)


def counting_to_ecs(monkeypatch):
    calls = []
    real = runner_module.to_ecs

    def spy(record, *args, **kwargs):
        calls.append(record["eventSource"])
        return real(record, *args, **kwargs)

    monkeypatch.setattr(runner_module, "to_ecs", spy)
    return calls


def test_records_no_rule_can_match_never_reach_to_ecs(monkeypatch):
    calls = counting_to_ecs(monkeypatch)
    records = fixture_records("root_console_login/near_misses.json") + fixture_records("root_console_login/root_success.json")
    rules = ElasticRules(list(DETECTIONS.values()))
    for record in records:
        rules.feed_record(record)
    pinned = set().union(*[r.actions for r in rules.rules])
    signin = sum(r["eventSource"] == "signin.amazonaws.com" and r["eventName"] in pinned for r in records)
    assert len(records) > signin > 0
    assert calls == ["signin.amazonaws.com"] * signin
    assert rules.stats["not mapped (no rule reads the eventSource and eventName)"] == len(records) - signin


def test_a_record_whose_event_name_no_rule_pins_never_reaches_to_ecs(monkeypatch):
    calls = counting_to_ecs(monkeypatch)
    record = fixture_records("root_console_login/root_success.json")[0]
    rules = ElasticRules([DETECTIONS["root_console_login"]])
    assert rules.rules[0].actions == {"ConsoleLogin"}
    rules.feed_record(dict(record, eventSource="signin.amazonaws.com", eventName="CheckMfa"))
    assert calls == []
    rules.feed_record(dict(record, eventSource="signin.amazonaws.com", eventName="ConsoleLogin"))
    assert calls == ["signin.amazonaws.com"]


def test_a_rule_that_does_not_pin_the_provider_gets_every_record(monkeypatch):
    query = 'event.action: "ConsoleLogin" and aws.cloudtrail.user_identity.type: "Root" and event.outcome: "success"'
    det = variant("root_console_login", query=query)
    calls = counting_to_ecs(monkeypatch)
    records = fixture_records("root_console_login/near_misses.json")
    rules = ElasticRules([det])
    assert rules.rules[0].providers is None
    for record in records:
        rules.feed_record(record)
    # every source; the action is still pinned
    assert len(calls) == sum(r["eventName"] == "ConsoleLogin" for r in records)


@pytest.mark.parametrize("query, pinned", [
    ('event.provider: "signin.amazonaws.com" and event.action: "ConsoleLogin"', {"signin.amazonaws.com"}),
    ("event.provider: signin.amazonaws.com", {"signin.amazonaws.com"}),
    ('event.provider: ("signin.amazonaws.com" or "iam.amazonaws.com")', {"signin.amazonaws.com", "iam.amazonaws.com"}),
    ('(event.provider: "a" and event.action: "x") or (event.provider: "b" and event.action: "y")', {"a", "b"}),
    ('event.provider: "a" or event.action: "x"', None),
    ('not event.provider: "a"', None),
    ("event.provider: signin*", None),
    ('event.action: "ConsoleLogin"', None),
])
def test_kql_provider_pins(query, pinned):
    got = kql_providers(kql.parse(query))
    assert got == (None if pinned is None else frozenset(pinned))


@pytest.mark.parametrize("query, pinned", [
    ('any where event.provider == "signin.amazonaws.com" and event.action == "GetSigninToken"', {"signin.amazonaws.com"}),
    ('any where event.provider in ("a", "b")', {"a", "b"}),
    ('any where event.provider : "signin.amazonaws.com"', None),      # case-insensitive
    ('any where event.provider in~ ("a")', None),
    ('any where not event.provider == "a"', None),
    ('any where event.provider == "a" or event.action == "x"', None),
    ('sequence by user.name with maxspan=5m [any where event.provider == "iam.amazonaws.com"] '
     '[any where event.provider == "signin.amazonaws.com"]', {"iam.amazonaws.com", "signin.amazonaws.com"}),
    ('sequence by user.name with maxspan=5m [any where event.provider == "a"] [any where true]', None),
])
def test_eql_provider_pins(query, pinned):
    got = eql_providers(eql.parse_eql(query))
    assert got == (None if pinned is None else frozenset(pinned))


# -- streaming -----------------------------------------------------------------------------------

def _failure(template, i, minute):
    record = copy.deepcopy(template)
    record["eventID"] = "00000000-0000-4000-8000-%012d" % i
    record["eventTime"] = "2026-03-10T%02d:%02d:00Z" % (9 + minute // 60, minute % 60)
    return record


def test_threshold_alerts_stream_out_once_the_input_has_moved_past_them():
    template = FOUR_FAILURES[0]
    assert template["responseElements"]["ConsoleLogin"] == "Failure"
    rules = ElasticRules([detection("root_console_brute_force")], max_lateness=300)
    streamed = []
    for i, minute in enumerate(list(range(0, 10, 2)) + list(range(60, 300, 7))):
        streamed.extend(rules.feed_record(_failure(template, i, minute)))
    assert len(streamed) == 1 and streamed[0]["count"] == 5           # before finish()
    assert len(rules.rules[0].sim.docs) < 10                          # old documents dropped
    assert rules.finish() == []


def test_per_document_alerts_come_at_once():
    det = detection("root_console_login")
    rules = ElasticRules([det], max_lateness=3600)
    [alert] = rules.feed_record(fixture_records("root_console_login/mfa_and_two_sources.json")[0])
    assert alert["event_ids"] == ["c7c4cd8b-d2a9-5832-b725-94f60fad966c"]
    assert alert["first_seen"] == alert["last_seen"] == "2026-03-10T09:10:00Z"


def test_a_record_that_arrives_after_its_run_is_counted_late():
    template = FOUR_FAILURES[0]
    rules = ElasticRules([detection("root_console_brute_force")], max_lateness=60)
    rules.feed_record(_failure(template, 1, 30))
    rules.feed_record(_failure(template, 2, 5))       # no run has executed yet: still usable
    assert rules.stats["late"] == 0
    rules.feed_record(_failure(template, 3, 40))      # the runs up to 09:39 execute
    rules.feed_record(_failure(template, 4, 20))      # the runs that should have seen it are done
    assert rules.stats["late"] == 1


def test_an_unmappable_record_is_counted_in_replay_and_raised_in_tests():
    bad = copy.deepcopy(FOUR_FAILURES[0])
    bad["userIdentity"] = "root"
    rules = ElasticRules([detection("root_console_brute_force")])
    assert rules.feed_record(bad) == []
    assert rules.stats["unmappable (userIdentity)"] == 1
    with pytest.raises(ValueError, match="userIdentity"):
        run(detection("root_console_brute_force"), [bad])


# -- the other rule kinds, on variants of the Phase 1 detections ------------------------------

def token_relay():
    """signin_token_abuse turned into a sequence: a sign-in token, then a console login, same ARN."""
    det = detection("signin_token_abuse")
    data = copy.deepcopy(det.data)
    token = {"all": [{"field": "event_source", "equals": "signin.amazonaws.com"},
                     {"field": "event_name", "equals": "GetSigninToken"}]}
    login = {"all": [{"field": "event_source", "equals": "signin.amazonaws.com"},
                     {"field": "event_name", "equals": "ConsoleLogin"}]}
    data["logic"] = {"type": "sequence", "group_by": ["user"], "window": "15m",
                     "steps": [{"name": "token", "where": token, "by": ["arn"]},
                               {"name": "login", "where": login, "by": ["arn"]}]}
    data["elastic"] = dict(data["elastic"], type="eql", language="eql",
                           group_fields={"user": "aws.cloudtrail.user_identity.arn"}, query=(
        "sequence by aws.cloudtrail.user_identity.arn with maxspan={window}"
        ' [any where event.provider == "signin.amazonaws.com" and event.action == "GetSigninToken"]'
        ' [any where event.provider == "signin.amazonaws.com" and event.action == "ConsoleLogin"]'))
    return DetectionFile(det.path, data, det.lines)


def test_an_eql_sequence_alerts_once_with_every_member():
    det = token_relay()
    records = fixture_records("signin_token_abuse/scripted_tokens.json")
    token = next(r for r in records if r["eventName"] == "GetSigninToken" and "federated-user" in r["userIdentity"]["arn"])
    login = next(r for r in records if r["eventName"] == "ConsoleLogin")
    alerts = run(det, records)
    # overlapping runs find the pair again; it is one shell alert
    assert [(a["group"], a["event_ids"]) for a in alerts] == [
        ({"user": "arn:aws:sts::111122223333:federated-user/admin"}, [token["eventID"], login["eventID"]])]


def test_an_eql_sequence_longer_than_maxspan_does_not_alert():
    det = token_relay()
    records = fixture_records("signin_token_abuse/scripted_tokens.json")
    login = next(r for r in records if r["eventName"] == "ConsoleLogin")
    login["eventTime"] = "2026-03-10T09:19:01Z"                        # 15m01s after the token
    assert run(det, records) == []


def no_mfa_new_terms():
    return variant("console_login_without_mfa", type="new_terms", new_terms_fields=["user.id"],
                   history_window_start="now-7d")


def shifted(records, days, tag):
    out = []
    for r in copy.deepcopy(records):
        day = int(r["eventTime"][8:10]) + days
        r["eventTime"] = r["eventTime"][:8] + "%02d" % day + r["eventTime"][10:]
        r["eventID"] = r["eventID"][:-len(tag)] + tag
        out.append(r)
    return out


def test_new_terms_alerts_on_a_value_not_seen_in_the_history_window():
    det = no_mfa_new_terms()
    day1 = fixture_records("console_login_without_mfa/iam_user_no_mfa.json")
    first = run(det, day1)
    assert sorted(a["group"]["user"] for a in first) == ["alice", "bob"]
    # the same users three days later are known; eight days later they are new again
    assert run(det, day1 + shifted(day1, 3, "three")) == first
    later = run(det, day1 + shifted(day1, 8, "eight"))
    assert len(later) == 4 and {a["event_ids"][0][-5:] for a in later if a not in first} == {"eight"}
