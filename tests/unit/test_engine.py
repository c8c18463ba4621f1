"""Engine semantics (DESIGN.md): ordering, sliding windows, bursts, de-duplication, sequences."""

import random

import pytest

from awssignin.engine import Engine
from awssignin.timeutil import format_time

T0 = 1773133200.0  # 2026-03-10T09:00:00Z
FAIL = {"all": [{"field": "event_name", "equals": "ConsoleLogin"}, {"field": "outcome", "equals": "failure"}]}


def view(eid, minute, user="alice", ip="203.0.113.7", name="ConsoleLogin", outcome="failure", **extra):
    ev = {"event_id": eid, "event_time": T0 + minute * 60, "event_source": "signin.amazonaws.com",
          "event_name": name, "outcome": outcome, "account_id": "111122223333", "user": user,
          "source_ip": ip}
    ev.update(extra)
    return ev


def spec(logic, id="t"):
    return {"id": id, "title": "test detection", "severity": "high", "risk_score": 73,
            "mitre": ["T1110.001"], "logic": logic}


def run(logic, events, overrides=None, **kw):
    engine = Engine([spec(logic)], overrides={"t": overrides} if overrides else None, **kw)
    alerts = []
    for ev in events:
        alerts.extend(engine.feed_view(ev))
    alerts.extend(engine.finish())
    return sorted(alerts, key=lambda a: a["first_seen"]), engine


THRESHOLD = {"type": "threshold", "where": FAIL, "group_by": ["account_id"], "threshold": 3, "window": "10m"}


def ids(alerts):
    return [a["event_ids"] for a in alerts]


def test_threshold_window_is_inclusive():
    alerts, _ = run(THRESHOLD, [view("a", 0), view("b", 5), view("c", 10)])
    assert ids(alerts) == [["a", "b", "c"]]
    alerts, _ = run(THRESHOLD, [view("a", 0), view("b", 5), view("c", 10.01)])
    assert alerts == []


def test_one_alert_per_burst_and_a_gap_starts_a_new_one():
    events = [view("a", 0), view("b", 1), view("c", 2), view("d", 11), view("e", 20),  # extends: gaps <= 10m
              view("f", 31), view("g", 32), view("h", 33)]                            # gap of 11m: new burst
    alerts, _ = run(THRESHOLD, events)
    assert ids(alerts) == [["a", "b", "c", "d", "e"], ["f", "g", "h"]]
    assert alerts[0]["first_seen"] == format_time(T0) and alerts[0]["last_seen"] == format_time(T0 + 1200)
    assert alerts[0]["count"] == 5 and alerts[0]["group"] == {"account_id": "111122223333"}


def test_burst_starts_at_the_first_window_that_reached_the_threshold():
    # 'a' is more than 10 minutes before 'c': it is not part of the window that reached 3
    alerts, _ = run(THRESHOLD, [view("a", 0), view("b", 9), view("c", 11), view("d", 12)])
    assert ids(alerts) == [["b", "c", "d"]]


def test_arrival_order_does_not_matter():
    events = [view("e%02d" % i, m) for i, m in enumerate([0, 1, 2, 11, 20, 31, 32, 33, 50, 51])]
    expected, _ = run(THRESHOLD, events)
    for seed in range(5):
        shuffled = list(events)
        random.Random(seed).shuffle(shuffled)
        assert run(THRESHOLD, shuffled)[0] == expected
    assert run(THRESHOLD, list(reversed(events)))[0] == expected  # Splunk's newest-first


def test_duplicate_event_ids_count_once():
    alerts, engine = run(THRESHOLD, [view("a", 0), view("b", 1), view("b", 1), view("b", 1)])
    assert alerts == []
    assert engine.stats["duplicates"] == 2


def test_groups_are_separate_and_null_keys_never_join():
    logic = dict(THRESHOLD, group_by=["account_id", "user"])
    events = [view("a", 0), view("b", 1, user="bob"), view("c", 2), view("d", 3, user=None),
              view("e", 4, user=None), view("f", 5, user=None)]
    alerts, _ = run(logic, events)
    assert alerts == []
    alerts, _ = run(logic, events + [view("g", 6)])
    assert ids(alerts) == [["a", "c", "g"]]


def test_distinct_counts_values_not_events():
    logic = {"type": "distinct", "where": FAIL, "group_by": ["source_ip"], "distinct": "user",
             "threshold": 3, "window": "10m"}
    same_user = [view("a", 0), view("b", 1), view("c", 2), view("d", 3, user=None)]
    assert run(logic, same_user)[0] == []
    spray = [view("a", 0, user="u1"), view("b", 1, user="u2"), view("c", 2, user=None), view("d", 3, user="u3")]
    alerts, _ = run(logic, spray)
    assert ids(alerts) == [["a", "b", "c", "d"]]


def test_overrides_change_threshold_and_window():
    events = [view("a", 0), view("b", 12), view("c", 24)]
    assert run(THRESHOLD, events)[0] == []
    assert ids(run(THRESHOLD, events, overrides={"window": "30m"})[0]) == [["a", "b", "c"]]
    assert ids(run(THRESHOLD, events[:2], overrides={"threshold": 2, "window": "15m"})[0]) == [["a", "b"]]


@pytest.mark.parametrize("overrides, message", [
    ({"threshold": 0}, "at least 1"),
    ({"threshold": "many"}, "whole number"),
    ({"window": "soon"}, "window"),
    ({"depth": 3}, "only threshold and window"),
])
def test_bad_overrides_are_errors(overrides, message):
    with pytest.raises(ValueError) as err:
        Engine([spec(THRESHOLD)], overrides={"t": overrides})
    assert message in str(err.value)


def test_overrides_for_an_unknown_detection_are_errors():
    with pytest.raises(ValueError):
        Engine([spec(THRESHOLD)], overrides={"nope": {"threshold": 2}})


def test_event_logic_cannot_take_a_threshold():
    with pytest.raises(ValueError):
        Engine([spec({"type": "event", "where": FAIL, "group_by": ["user"]})], overrides={"t": {"threshold": 2}})


SEQUENCE = {
    "type": "sequence", "window": "15m", "group_by": ["account_id", "user"],
    "steps": [
        {"name": "failures", "where": FAIL, "by": ["account_id", "user"], "min_count": 3},
        {"name": "success", "where": {"all": [{"field": "event_name", "equals": "ConsoleLogin"},
                                              {"field": "outcome", "equals": "success"}]},
         "by": ["account_id", "user"]},
    ],
}


def test_sequence_needs_the_steps_in_order_within_the_window():
    ok = [view("f1", 0), view("f2", 1), view("f3", 2), view("s", 5, outcome="success")]
    assert ids(run(SEQUENCE, ok)[0]) == [["f1", "f2", "f3", "s"]]
    success_first = [view("s", 0, outcome="success"), view("f1", 1), view("f2", 2), view("f3", 3)]
    assert run(SEQUENCE, success_first)[0] == []
    too_slow = [view("f1", 0), view("f2", 1), view("f3", 2), view("s", 15.5, outcome="success")]
    assert run(SEQUENCE, too_slow)[0] == []


def test_a_success_does_not_reset_earlier_failures():
    events = [view("f1", 0), view("f2", 1), view("s1", 2, outcome="success"), view("f3", 3),
              view("s2", 4, outcome="success")]
    assert ids(run(SEQUENCE, events)[0]) == [["f1", "f2", "f3", "s2"]]


def test_sequence_keys_never_join_other_users():
    events = [view("f1", 0), view("f2", 1, user="bob"), view("f3", 2), view("s", 3, outcome="success")]
    assert run(SEQUENCE, events)[0] == []


def test_sequence_across_event_sources_with_per_step_keys():
    # Phase 2's login_profile_then_login: an IAM call names the target user in requestParameters,
    # the login names it in userIdentity; the same source IP, a different actor.
    logic = {
        "type": "sequence", "window": "60m", "group_by": ["account_id", "user"],
        "steps": [
            {"name": "profile", "by": ["account_id", "request_user_name"],
             "where": {"all": [{"field": "event_source", "equals": "iam.amazonaws.com"},
                               {"field": "event_name", "in": ["CreateLoginProfile", "UpdateLoginProfile"]},
                               {"field": "user_name", "differs_from": "request_user_name"}]}},
            {"name": "login", "by": ["account_id", "user_name"],
             "where": {"all": [{"field": "event_name", "equals": "ConsoleLogin"}, {"field": "outcome", "equals": "success"}]}},
        ],
    }
    profile = view("p", 0, name="CreateLoginProfile", outcome="success", event_source="iam.amazonaws.com",
                   user_name="mallory", request_user_name="bob")
    login = view("l", 20, user="bob", user_name="bob", outcome="success")
    alerts, _ = run(logic, [login, profile])
    assert ids(alerts) == [["p", "l"]]
    assert alerts[0]["group"] == {"account_id": "111122223333", "user": "bob"}
    self_service = dict(profile, user_name="bob")
    assert run(logic, [self_service, login])[0] == []


def test_sequence_differ_requires_another_value():
    logic = dict(SEQUENCE, differ=["source_ip"], steps=[dict(SEQUENCE["steps"][0], min_count=1), SEQUENCE["steps"][1]])
    same_ip = [view("f1", 0), view("s", 1, outcome="success")]
    assert run(logic, same_ip)[0] == []
    other_ip = [view("f1", 0), view("s", 1, outcome="success", ip="198.51.100.1")]
    assert ids(run(logic, other_ip)[0]) == [["f1", "s"]]


def test_bounded_lateness_releases_early_and_counts_late_events():
    engine = Engine([spec(THRESHOLD)], max_lateness=600)
    out = []
    for ev in [view("a", 0), view("b", 1), view("c", 2)]:
        out.extend(engine.feed_view(ev))
    assert out == []                       # still inside the lateness allowance
    out.extend(engine.feed_view(view("z", 40, user="other")))  # 38 minutes later: a..c released, burst closed
    assert ids(out) == [["a", "b", "c"]]
    assert engine.feed_view(view("old", 1)) == []
    assert engine.stats["late"] == 1 and engine.late_ids == ["old"]


def test_memory_is_bounded_by_window_state():
    engine = Engine([spec(THRESHOLD)], max_lateness=60)
    for i in range(20000):
        engine.feed_view(view("e%d" % i, i * 7, user="u%d" % (i % 50)))
    corr = engine.correlators[0]
    assert len(engine.buffer) < 20
    assert len(corr.groups) <= 1
    assert len(engine.seen_ids) < 5000


def test_non_candidates_are_not_normalised():
    engine = Engine([spec(dict(THRESHOLD, where={"all": [{"field": "event_source", "equals": "signin.amazonaws.com"}, FAIL]}))])
    assert engine.event_sources == {"signin.amazonaws.com"}
    # a record of another service is dropped before any field is read, even a broken one
    assert engine.feed_record({"eventSource": "s3.amazonaws.com", "eventTime": 12}) == []


def test_a_multivalue_event_source_from_splunk_is_read_not_fatal():
    engine = Engine([spec(dict(THRESHOLD, where={"all": [{"field": "event_source", "equals": "signin.amazonaws.com"}, FAIL]}))])
    record = {"eventSource": ["signin.amazonaws.com", "signin.amazonaws.com"], "eventName": "ConsoleLogin",
              "eventID": "x1", "eventTime": "2026-03-10T09:00:00Z", "responseElements.ConsoleLogin": "Failure"}
    assert engine.feed_splunk(record) == []
    assert engine.stats["candidates"] == 1
