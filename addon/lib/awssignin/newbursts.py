"""Alerts new in one scheduled run: the command option ``indexed_within=<duration>``.

A correlation's saved search reads every event indexed before the run's time T (dispatch.index_latest
= dispatch.latest_time) over an event-time range that reaches back the window plus the lateness
budget, so consecutive runs see the same bursts again. Only the bursts that are new in this run are
returned: the detection is evaluated twice, over every event and over the events indexed before
T - indexed_within (what the previous run saw, when runs are that far apart), and an alert is kept
when it holds an event indexed at or after T - indexed_within and shares no event (eventID) with an
alert of the earlier evaluation (for a new_terms detection: and its group was not seen in that
evaluation, awssignin/baseline.py ``judged_earlier``). A burst thus fires in the first run that sees it complete, and a
later run that sees it again, or sees it grow, stays silent. harness/splunk/appbuild.py (Schedules)
derives the time ranges; tests/splunk/test_scheduler_model.py shows one alert per burst for events
indexed up to the lateness budget late.

An event without a readable ``_indextime`` counts as indexed now: it can make an alert new, never
hide one.
"""

from . import baseline
from .timeutil import parse_duration


def parse_within(text):
    """``indexed_within=`` as seconds (a duration such as 10m). Raises ValueError for the user."""
    try:
        seconds = parse_duration(str(text).strip())
    except ValueError as err:
        raise ValueError("indexed_within: %s" % err)
    if seconds <= 0:
        raise ValueError("indexed_within must be a positive duration like 10m, not %r" % (text,))
    return seconds


def index_time(value):
    """A Splunk ``_indextime`` (epoch seconds as text or number) as a number, None when unreadable."""
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def for_search(make_engine, within, latest_time):
    """The engine the command feeds: a NewBursts over the run's index-time slice [latest_time -
    within, latest_time), or a plain engine (every alert) when the search has no latest time
    (``latest_time`` 0: an all-time search run by hand, which has no previous run). splunkd sends the
    search's resolved latest time in getinfo's ``searchinfo.latest_time`` (splunklib
    search_command.py reads it as a float). Raises ValueError for a bad ``within``."""
    seconds = parse_within(within)
    if not latest_time:
        return make_engine()
    return NewBursts(make_engine, float(latest_time) - seconds)


class NewBursts(object):
    """Feeds Splunk events to two engines made by ``make_engine`` and returns the alerts new since
    ``cutoff`` (epoch seconds of index time). ``feed(record, indextime)`` raises what the engine's
    ``feed_splunk`` raises (normalize.BadRecord)."""

    def __init__(self, make_engine, cutoff):
        self.all = make_engine()
        self.before = make_engine()
        self.cutoff = cutoff
        self.first_indexed = {}   # eventID -> earliest index time of any copy (None: unknown)

    @property
    def stats(self):
        return self.all.stats

    @property
    def detections(self):
        return self.all.detections

    def feed_splunk(self, record):
        """One Splunk event (the engine's feed_splunk), its ``_indextime`` read from the record."""
        self.feed(record, index_time(record.get("_indextime")))

    def feed(self, record, indextime):
        self.all.feed_splunk(record)   # reads the event first: a bad one raises before it is counted
        event_id = record.get("eventID")
        if isinstance(event_id, list):
            event_id = event_id[0] if event_id else None
        known = self.first_indexed.get(event_id, False)
        if indextime is None or (known is not False and known is None):
            self.first_indexed[event_id] = None
        elif known is False or indextime < known:
            self.first_indexed[event_id] = indextime
        if indextime is not None and indextime < self.cutoff:
            self.before.feed_splunk(record)

    def _is_new_event(self, event_id):
        first = self.first_indexed.get(event_id)
        return first is None or first >= self.cutoff

    def finish(self):
        alerts = self.all.finish()
        seen = set()
        for alert in self.before.finish():
            for event_id in alert["event_ids"]:
                seen.add((alert["detection"], event_id))
        return [a for a in alerts
                if any(self._is_new_event(e) for e in a["event_ids"])
                and not any((a["detection"], e) in seen for e in a["event_ids"])
                and not baseline.judged_earlier(self.before, a)]
