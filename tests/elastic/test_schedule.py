"""Kibana's rule runs as harness/elastic/schedule.py simulates them: windows, signal history, bursts."""

import pytest

from harness.elastic.schedule import (BurstMerger, NewTermsRuns, Schedule, ScheduleError, SequenceRuns,
                                      ThresholdRuns, parse_interval, parse_lookback)

MIN = 60
BASE = 1773133200.0          # 2026-03-10T09:00:00Z, a multiple of every interval used here


def at(minutes, seconds=0):
    return BASE + minutes * MIN + seconds


def ids(run_alert_or_burst):
    return [d.event_id for d in run_alert_or_burst.docs]


def threshold(value=5, interval=MIN, lookback=15 * MIN, phase=0.0, **kw):
    return ThresholdRuns(Schedule(interval, lookback, phase), value, **kw)


# -- parsing -----------------------------------------------------------------------------------

def test_interval_and_lookback_parse_kibana_forms():
    assert parse_interval("5m") == 300
    assert parse_interval("90s") == 90
    assert parse_lookback("now-6m") == 360
    assert parse_lookback("now-7d", "now") == 7 * 86400
    sched = Schedule.of_rule({"interval": "1m", "from": "now-15m", "to": "now"})
    assert (sched.interval, sched.lookback) == (60, 900)
    assert (Schedule.of_rule({}).interval, Schedule.of_rule({}).lookback) == (300, 360)  # Kibana defaults


@pytest.mark.parametrize("bad, message", [
    (lambda: parse_interval("5 minutes"), "interval"),
    (lambda: parse_lookback("now-1M"), "from"),            # months have no fixed length
    (lambda: parse_lookback("now/d"), "from"),
    (lambda: parse_lookback("now-5m", "now-1m"), "to"),
    (lambda: Schedule(0, 60), "interval"),
])
def test_bad_schedules_are_refused_naming_the_field(bad, message):
    with pytest.raises(ScheduleError, match=message):
        bad()


# -- run windows -------------------------------------------------------------------------------

def test_runs_fall_on_multiples_of_the_interval_whatever_the_first_document():
    sched = Schedule(300, 360)
    assert sched.run_at_or_after(at(0, 1)) == at(5)
    assert sched.run_at_or_after(at(5)) == at(5)
    assert Schedule(300, 360, phase=30).run_at_or_after(at(0, 1)) == at(0, 30)
    assert sched.window(at(10)) == (at(4), at(10))


def test_the_window_is_inclusive_at_both_ends():
    runs = threshold(value=2, interval=5 * MIN, lookback=10 * MIN)
    runs.add(at(0), "start", [("acct",)])      # exactly run time - look-back for the run at 10m
    runs.add(at(10), "end", [("acct",)])       # exactly the run time
    alerts = runs.finish()
    assert [(a.run_time, ids(a)) for a in alerts] == [(at(10), ["start", "end"])]


def test_a_burst_must_fit_one_window():
    # five documents 15m01s apart never share a 15m window, wherever the runs fall
    for phase in (0, 1, 17, 30, 59):
        runs = threshold(phase=phase)
        for i, minute in enumerate((0, 3, 6, 9)):
            runs.add(at(minute), "e%d" % i, [("acct",)])
        runs.add(at(15, 1), "e4", [("acct",)])
        assert runs.finish() == []


def test_a_burst_exactly_as_long_as_the_look_back_fires_only_at_some_phases():
    def alerts(phase):
        runs = threshold(phase=phase)
        for i, minute in enumerate((0, 3, 6, 9, 15)):
            runs.add(at(minute), "e%d" % i, [("acct",)])
        return runs.finish()
    assert len(alerts(0)) == 1          # a run at 09:15 sees [09:00, 09:15]
    assert alerts(30) == []             # runs at hh:mm:30 never hold both ends


def test_documents_outside_every_window_are_never_counted_when_the_look_back_is_shorter():
    # interval 10m, look-back 5m: documents between windows fall in a gap
    runs = threshold(value=2, interval=10 * MIN, lookback=5 * MIN)
    runs.add(at(1), "gap1", [("acct",)])
    runs.add(at(2), "gap2", [("acct",)])
    assert runs.finish() == []


# -- threshold and signal history --------------------------------------------------------------

def test_signal_history_keeps_a_document_out_of_later_runs():
    runs = threshold()
    for minute in (0, 2, 4, 6, 8):
        runs.add(at(minute), "m%d" % minute, [("acct",)])
    runs.add(at(10), "m10", [("acct",)])
    alerts = runs.finish()
    # the run at 09:08 counts five; at 09:10 the window holds six, but five are history
    assert [(a.run_time, ids(a)) for a in alerts] == [(at(8), ["m0", "m2", "m4", "m6", "m8"])]
    assert runs.runs > 2


def test_signal_history_is_per_group():
    runs = threshold(value=2)
    runs.add(at(0), "a1", [("A",)])
    runs.add(at(1), "a2", [("A",)])
    runs.add(at(0, 30), "b1", [("B",)])
    runs.add(at(3), "b2", [("B",)])
    alerts = runs.finish()
    assert [(a.key, ids(a)) for a in alerts] == [(("A",), ["a1", "a2"]), (("B",), ["b1", "b2"])]


def test_after_an_alert_the_next_alert_needs_the_threshold_in_new_documents():
    runs = threshold()
    for minute in (0, 1, 2, 3, 4):           # alert 1 at the run of 09:04
        runs.add(at(minute), "first%d" % minute, [("acct",)])
    for minute in (5, 6, 7, 8):              # four more: not enough on their own
        runs.add(at(minute), "more%d" % minute, [("acct",)])
    assert [ids(a) for a in runs.finish()] == [["first0", "first1", "first2", "first3", "first4"]]


def test_duplicate_documents_both_count():
    # two deliveries of one event are two documents to the index, and Kibana counts documents
    runs = threshold()
    for i, minute in enumerate((0, 2, 4, 6)):
        runs.add(at(minute), "e%d" % i, [("acct",)])
    runs.add(at(4), "e2", [("acct",)])
    alerts = runs.finish()
    assert len(alerts) == 1 and len(alerts[0].docs) == 5


def test_a_multi_valued_field_counts_the_document_in_each_bucket_and_a_missing_one_in_none():
    runs = threshold(value=2)
    runs.add(at(0), "both", [("A",), ("B",)])
    runs.add(at(0, 30), "a", [("A",)])
    runs.add(at(0, 45), "b", [("B",)])
    runs.add(at(0, 50), "nothing", [])
    alerts = runs.finish()
    assert sorted((a.key, tuple(ids(a))) for a in alerts) == [(("A",), ("both", "a")), (("B",), ("both", "b"))]


def test_history_excludes_a_multi_valued_document_from_every_bucket():
    # Kibana's must_not drops the document from the search, not from one bucket
    runs = threshold(value=2)
    runs.add(at(0), "both", [("A",), ("B",)])
    runs.add(at(1), "a", [("A",)])           # A alerts at 09:01 with both and a
    runs.add(at(2), "b", [("B",)])           # at 09:02 "both" is history: B holds only b
    assert [(a.key, ids(a)) for a in runs.finish()] == [(("A",), ["both", "a"])]


def test_cardinality_counts_distinct_values():
    runs = threshold(value=1, cardinality=3)
    runs.add(at(0), "u1", [("ip",)], ["alice"])
    runs.add(at(1), "u2", [("ip",)], ["alice"])
    runs.add(at(2), "u3", [("ip",)], ["bob"])
    assert runs.finish() == []
    runs = threshold(value=1, cardinality=3)
    for i, user in enumerate(("alice", "bob", "carol")):
        runs.add(at(i), "u%d" % i, [("ip",)], [user])
    assert [ids(a) for a in runs.finish()] == [["u0", "u1", "u2"]]


def test_max_signals_keeps_the_first_buckets_in_key_order():
    runs = threshold(value=1, max_signals=2)
    for name in ("c", "a", "b"):
        runs.add(at(0), name, [(name,)])
    assert [a.key for a in runs.advance(at(0))] == [("a",), ("b",)]
    assert [a.key for a in runs.advance(at(1))] == [("c",)]      # still in the next run's window


def test_a_document_older_than_the_last_run_is_late():
    runs = threshold(value=1)
    runs.add(at(10), "on time", [("acct",)])
    runs.advance(at(10))
    assert runs.add(at(9), "late", [("acct",)]) is False
    assert runs.late == 1


def test_runs_execute_only_up_to_the_requested_time():
    runs = threshold(value=2)
    runs.add(at(0), "x", [("acct",)])
    runs.add(at(1), "y", [("acct",)])
    assert runs.advance(at(0, 59)) == []
    assert [ids(a) for a in runs.advance(at(1))] == [["x", "y"]]


def test_state_is_dropped_once_no_later_run_can_use_it():
    runs = threshold(value=100)
    for minute in range(0, 600, 2):          # ten hours of documents, never enough to alert
        runs.add(at(minute), "e%d" % minute, [("acct",)])
        runs.advance(at(minute))
    assert len(runs.docs) <= 8               # only what the last 15 minutes hold
    assert runs.finish() == []


# -- bursts ------------------------------------------------------------------------------------

def _burst_of(runs, merger):
    out = []
    for alert in runs.finish():
        out.extend(merger.add(alert))
    return out + merger.finish()


def test_successive_alerts_of_a_group_within_the_window_merge_into_one_burst():
    runs, merger = threshold(), BurstMerger(15 * MIN)
    for minute in (0, 2, 4, 6, 8, 10, 11, 12, 13, 14):
        runs.add(at(minute), "m%d" % minute, [("acct",)])
    alerts = runs.finish()
    assert len(alerts) == 2                  # 09:08 and 09:14
    bursts = []
    for alert in alerts:
        bursts.extend(merger.add(alert))
    bursts.extend(merger.finish())
    assert len(bursts) == 1
    assert ids(bursts[0]) == ["m%d" % m for m in (0, 2, 4, 6, 8, 10, 11, 12, 13, 14)]
    assert bursts[0].runs == [at(8), at(14)]


def test_alerts_further_apart_than_the_window_stay_separate_bursts():
    runs, merger = threshold(), BurstMerger(15 * MIN)
    for minute in (0, 1, 2, 3, 4, 20, 21, 22, 23, 24):
        runs.add(at(minute), "m%d" % minute, [("acct",)])
    bursts = _burst_of(runs, merger)
    assert [ids(b) for b in bursts] == [["m0", "m1", "m2", "m3", "m4"], ["m20", "m21", "m22", "m23", "m24"]]


def test_groups_never_merge():
    runs, merger = threshold(value=1), BurstMerger(15 * MIN)
    runs.add(at(0), "a", [("A",)])
    runs.add(at(1), "b", [("B",)])
    assert sorted(b.key for b in _burst_of(runs, merger)) == [("A",), ("B",)]


def test_a_burst_closes_once_the_runs_have_moved_past_its_window():
    runs, merger = threshold(value=1), BurstMerger(15 * MIN)
    runs.add(at(0), "a", [("acct",)])
    for alert in runs.advance(at(0)):
        assert merger.add(alert) == []
    assert merger.close_before(at(14)) == []
    assert [ids(b) for b in merger.close_before(at(15, 1))] == [["a"]]
    assert merger.finish() == []


# -- EQL sequences -----------------------------------------------------------------------------

def _pairs(docs):
    """A stand-in for EQL: every 'a' followed by a later 'b' of the same user."""
    out = []
    for i, first in enumerate(docs):
        for second in docs[i + 1:]:
            if first["step"] == "a" and second["step"] == "b" and first["user"] == second["user"]:
                out.append([first, second])
    return out


def test_a_sequence_found_by_overlapping_runs_is_one_alert():
    runs = SequenceRuns(Schedule(5 * MIN, 20 * MIN), _pairs)
    runs.add(at(1), 1, {"step": "a", "user": "u"})
    runs.add(at(2), 2, {"step": "b", "user": "u"})
    found = runs.finish()
    assert [[m.serial for m in members] for _, members in found] == [[1, 2]]
    assert runs.runs >= 4                    # the pair sat in four windows


def test_a_sequence_must_fit_one_run_window():
    runs = SequenceRuns(Schedule(5 * MIN, 10 * MIN), _pairs)
    runs.add(at(0), 1, {"step": "a", "user": "u"})
    runs.add(at(11), 2, {"step": "b", "user": "u"})
    assert runs.finish() == []


def test_max_signals_caps_sequences_per_run():
    runs = SequenceRuns(Schedule(5 * MIN, 10 * MIN), _pairs, max_signals=1)
    runs.add(at(1), 1, {"step": "a", "user": "u"})
    runs.add(at(1), 2, {"step": "a", "user": "v"})
    runs.add(at(2), 3, {"step": "b", "user": "u"})
    runs.add(at(2), 4, {"step": "b", "user": "v"})
    assert len(runs.advance(at(5))) == 1


# -- new_terms ---------------------------------------------------------------------------------

def new_terms(history_days=7):
    return NewTermsRuns(Schedule(5 * MIN, 6 * MIN), history_days * 86400)


def test_a_new_value_alerts_once_on_its_first_document():
    runs = new_terms()
    runs.add(at(0, 10), 1, [("alice",)], "first")
    runs.add(at(0, 20), 2, [("alice",)], "second")
    found = runs.finish()
    assert [(term, item.doc) for _, term, item in found] == [(("alice",), "first")]


def test_a_value_seen_within_the_history_window_is_not_new():
    runs = new_terms()
    runs.add(at(0), 1, [("alice",)], "day one")
    runs.add(at(3 * 24 * 60), 2, [("alice",)], "three days later")
    assert [item.doc for _, _, item in runs.finish()] == ["day one"]


def test_a_value_older_than_the_history_window_is_new_again():
    runs = new_terms(history_days=7)
    runs.add(at(0), 1, [("alice",)], "day one")
    runs.add(at(8 * 24 * 60), 2, [("alice",)], "eight days later")
    assert [item.doc for _, _, item in runs.finish()] == ["day one", "eight days later"]


def test_combinations_are_terms_of_their_own():
    runs = new_terms()
    runs.add(at(0), 1, [("alice", "DE")], "alice DE")
    runs.add(at(60), 2, [("alice", "DE")], "alice DE again")
    runs.add(at(120), 3, [("alice", "FR")], "alice FR")
    assert [item.doc for _, _, item in runs.finish()] == ["alice DE", "alice FR"]


def test_new_terms_history_must_reach_beyond_the_window():
    with pytest.raises(ScheduleError, match="history_window_start"):
        NewTermsRuns(Schedule(5 * MIN, 6 * MIN), 60)
