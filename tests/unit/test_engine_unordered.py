"""Engine(reorder=False), as replay uses it: events are processed as fed and none is ever late.

Replay feeds per-event detections in input order (they need none) and correlations in eventTime
order from its own sort, so the engine's reorder buffer must step aside without changing the
semantics: same alerts as the buffered engine over sorted input, right away, nothing late.
"""

import random

from awssignin.engine import Engine
from test_engine import FAIL, THRESHOLD, spec, view

PER_EVENT = {"type": "event", "where": FAIL, "group_by": ["account_id"]}


def test_per_event_alerts_come_as_fed_in_any_order():
    events = [view("e%02d" % i, minute=i) for i in range(20)]
    random.Random(4).shuffle(events)
    engine = Engine([spec(PER_EVENT)], reorder=False, max_lateness=60)
    fed = [engine.feed_view(ev) for ev in events]
    # each event's alert is returned by the call that fed it, even when far older than the newest
    assert [[a["event_ids"] for a in alerts] for alerts in fed] == [[[ev["event_id"]]] for ev in events]
    assert engine.finish() == [] and engine.stats["late"] == 0


def test_duplicates_are_still_dropped():
    engine = Engine([spec(PER_EVENT)], reorder=False)
    first = engine.feed_view(view("dup", minute=5))
    again = engine.feed_view(view("dup", minute=5))
    assert len(first) == 1 and again == [] and engine.stats["duplicates"] == 1


def test_sorted_correlations_give_the_buffered_engines_alerts():
    rng = random.Random(8)
    events = sorted((view("e%03d" % i, minute=rng.randrange(0, 300)) for i in range(120)),
                    key=lambda ev: (ev["event_time"], ev["event_id"]))

    def alerts(**kw):
        engine = Engine([spec(THRESHOLD)], **kw)
        out = []
        for ev in events:
            out.extend(engine.feed_view(ev))
        return out + engine.finish(), engine

    buffered, _ = alerts()
    unordered, engine = alerts(reorder=False, max_lateness=1)
    assert buffered and unordered == buffered and engine.stats["late"] == 0
