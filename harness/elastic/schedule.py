"""Kibana's detection-rule runs, simulated over a timeline of documents.

A Kibana security rule is not evaluated document by document: Task Manager runs it every
``interval``, and the run at time T searches [T + from, T + to] (``to`` is ``now``) on the rule's
timestamp field, both ends inclusive (a ``range`` with gte/lte). What a rule alerts on therefore
depends on where the runs fall. This module reproduces the runs for the rule kinds whose result
depends on them; per-document rules (query, single-event EQL) alert on each matching document
whichever run finds it, so the runner does not simulate them.

Anchoring. Real runs fall wherever the rule was enabled (each next run is one interval after the
previous). We put runs at multiples of the interval since the Unix epoch (T = k * interval + phase,
phase 0 by default). That is one of the phases Kibana can have, and it is a deterministic function
of the timeline: the same logs give the same alerts whatever file is read first, whatever record
happens to come first, and whether a log is replayed whole or in part. Anchoring at the first record
would make the alerts depend on where the input starts. Boundary cases that hold only at some
phases (a burst exactly as long as the look-back) are the reason such tests are Splunk-only.

Threshold (Kibana ``threshold`` executor: find_threshold_signals, build_threshold_aggregation,
get_threshold_signal_history, get_threshold_bucket_filters):
- per run, the documents of the window are bucketed by ``threshold.field`` with a composite terms
  aggregation: a multi-valued field puts the document in one bucket per value (one per combination
  of values with several fields); a document missing a field is in no bucket; no field means one
  bucket of everything. A bucket alerts when doc_count >= value and, with a cardinality, when the
  distinct count of that field's values >= its value. Buckets come in key order and the run keeps
  the first ``max_signals``.
- the alert's original time is the bucket's latest document (max_timestamp). Later runs look up the
  rule's earlier threshold alerts and exclude (must_not) every document that has the same terms and a
  timestamp <= that original time. So a document is counted in at most one alert of its bucket, and
  the documents of one burst can be spread over several alerts of successive runs.

Bursts: the harness's reading of Kibana's threshold output. The engine promises one alert per burst
(DESIGN.md); Kibana writes one alert per bucket per run, holding what that run counted. To compare
the two, the alerts of one bucket from successive runs are merged when the next alert's first
document is at most the detection window W after the previous alert's last document (the engine's
rule for extending a burst); the merged alert holds the union of the documents. This is not
something Kibana does: an Elastic user sees the separate alerts, and the harness only compares.

EQL sequences: each run sends the window's documents to EQL, which returns at most ``max_signals``
sequences. Kibana's shell alert id is derived from the ids of its building blocks (one per member
document), so the same sequence found again by an overlapping run is the same alert and is not
written twice: sequences are de-duplicated by their member documents.

new_terms (Kibana ``new_terms`` executor): a run at T takes the values (combinations with several
fields) seen in [T - lookback, T]; a value is new when its first occurrence in
[T - history, T] (``history_window_start`` is date math relative to the run) falls inside the run's
window, that is when it did not occur in [T - history, T - lookback). The alert is the earliest
document with the value in the window; its id derives from that document and the value, so an
overlapping run finding the same first document does not alert again. The simulation only knows the
records it was given: at the start of an input every value is new.

Documents must reach a simulator before the run that should count them executes. A document whose
timestamp is at or before the last executed run is late (it would have been indexed after that run
searched): it is counted in ``late`` and not used, as the engine does with late events.
"""

import math
import re

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_INTERVAL = re.compile(r"^\s*([1-9][0-9]*)\s*([smhd])\s*$")
_NOW_MINUS = re.compile(r"^\s*now\s*-\s*([1-9][0-9]*)\s*([smhdw])\s*$")


class ScheduleError(ValueError):
    """A rule schedule the simulation cannot use; the message names the field."""


def parse_interval(text):
    """Kibana's ``interval`` ('5m', '90s', '1h') -> seconds."""
    m = _INTERVAL.match(str(text))
    if not m:
        raise ScheduleError("interval: expected a number and s, m, h or d (like '5m'), not %r" % (text,))
    return int(m.group(1)) * UNIT_SECONDS[m.group(2)]


def parse_lookback(from_, to="now"):
    """The width of a run's window from the rule's ``from`` ('now-6m') and ``to`` ('now'), in seconds.

    Only ``now-N<unit>`` / ``now`` are accepted: months and years have no fixed length, and rounding
    (``now/d``) would make the window depend on the wall clock, not on the interval.
    """
    if str(to).strip() != "now":
        raise ScheduleError("to: only 'now' is supported, not %r" % (to,))
    m = _NOW_MINUS.match(str(from_))
    if not m:
        raise ScheduleError("from: expected date math like 'now-6m' (units s, m, h, d, w), not %r" % (from_,))
    return int(m.group(1)) * UNIT_SECONDS[m.group(2)]


class Schedule(object):
    """Runs every ``interval`` seconds at ``k * interval + phase``, each searching ``lookback`` back."""

    def __init__(self, interval, lookback, phase=0.0):
        if interval <= 0:
            raise ScheduleError("interval must be positive, not %r" % (interval,))
        if lookback <= 0:
            raise ScheduleError("the look-back (from) must be positive, not %r" % (lookback,))
        self.interval = interval
        self.lookback = lookback
        self.phase = phase % interval

    @classmethod
    def of_rule(cls, rule, phase=0.0):
        """The schedule of a Kibana rule dict (Kibana's defaults: every 5m, from now-6m)."""
        return cls(parse_interval(rule.get("interval", "5m")),
                   parse_lookback(rule.get("from", "now-6m"), rule.get("to", "now")), phase)

    def run_at_or_after(self, t):
        """The first run time >= t."""
        k = math.ceil((t - self.phase) / self.interval)
        return self.phase + k * self.interval

    def window(self, run_time):
        """The (start, end) a run searches, both inclusive."""
        return run_time - self.lookback, run_time


def _key_order(key):
    # composite aggregations return buckets in ascending key order; keys are keyword values
    return tuple("" if v is None else str(v) for v in key)


class _Runs(object):
    """The run loop shared by the simulators: which run comes next, lateness, pruning."""

    def __init__(self, schedule):
        self.schedule = schedule
        self.next_run = None    # the next run that has something to look at (None: nothing pending)
        self.last_run = None    # the last run executed
        self.runs = 0
        self.late = 0

    def _accept(self, ts):
        """False (and counted late) when a run that should have seen ``ts`` has already executed."""
        if self.last_run is not None and ts <= self.last_run:
            self.late += 1
            return False
        first = self.schedule.run_at_or_after(ts)
        if self.next_run is None or first < self.next_run:
            self.next_run = first
        return True

    def advance(self, upto):
        """Execute every pending run at or before ``upto``; returns what they produced."""
        out = []
        while self.next_run is not None and self.next_run <= upto:
            run_time = self.next_run
            out.extend(self._run(run_time))
            self.runs += 1
            self.last_run = run_time
            following = run_time + self.schedule.interval
            earliest = self._prune(following - self.schedule.lookback)
            if earliest is None:
                self.next_run = None
            else:
                self.next_run = max(following, self.schedule.run_at_or_after(earliest))
        return out

    def finish(self):
        """Execute every run that can still see a pending document."""
        return self.advance(float("inf"))

    def horizon(self):
        """A lower bound on the timestamps any future run can use (None before the first run)."""
        if self.last_run is None:
            return None
        return self.last_run + self.schedule.interval - self.schedule.lookback

    # subclasses: _run(run_time) -> list; _prune(start) drops state no run starting at or after
    # ``start`` can use and returns the earliest timestamp still pending (None when nothing is)


class _ThresholdDoc(object):
    __slots__ = ("ts", "event_id", "keys", "distinct")

    def __init__(self, ts, event_id, keys, distinct):
        self.ts = ts
        self.event_id = event_id
        self.keys = keys
        self.distinct = distinct


def _doc_order(doc):
    return (doc.ts, doc.event_id or "")


class RunAlert(object):
    """One threshold alert: the bucket ``key`` and the documents the run at ``run_time`` counted."""

    __slots__ = ("run_time", "key", "docs")

    def __init__(self, run_time, key, docs):
        self.run_time = run_time
        self.key = key
        self.docs = docs

    @property
    def first(self):
        return self.docs[0].ts

    @property
    def last(self):
        return self.docs[-1].ts

    def __repr__(self):
        return "RunAlert(%r, %r, %r)" % (self.run_time, self.key, [d.event_id for d in self.docs])


class ThresholdRuns(_Runs):
    """Kibana's threshold rule over a stream of matching documents (see the module docstring).

    ``value``: threshold.value; ``cardinality``: threshold.cardinality[0].value or None (Kibana reads
    only the first entry).
    """

    def __init__(self, schedule, value, cardinality=None, max_signals=100):
        _Runs.__init__(self, schedule)
        if value < 1:
            raise ScheduleError("threshold.value must be at least 1, not %r" % (value,))
        self.value = value
        self.cardinality = cardinality
        self.max_signals = max_signals
        self.docs = []          # documents a later run may still count, in arrival order
        self.history = {}       # bucket key -> original time of its last alert (signal history)

    def add(self, ts, event_id, keys, distinct=()):
        """A matching document: ``keys`` are its bucket keys (tuples of threshold-field values),
        ``distinct`` its values of the cardinality field. Returns False if it came too late."""
        if not keys:
            return True         # in no bucket: no run counts it
        if not self._accept(ts):
            return False
        self.docs.append(_ThresholdDoc(ts, event_id, frozenset(keys), frozenset(distinct)))
        return True

    def _run(self, run_time):
        start, end = self.schedule.window(run_time)
        history = self.history
        buckets = {}
        for doc in self.docs:
            if doc.ts < start or doc.ts > end:
                continue
            # the must_not built from the signal history: same terms, at or before the last alert
            if history and any(k in history and doc.ts <= history[k] for k in doc.keys):
                continue
            for key in doc.keys:
                buckets.setdefault(key, []).append(doc)
        alerts = []
        for key in sorted(buckets, key=_key_order):
            docs = buckets[key]
            if len(docs) < self.value:
                continue
            if self.cardinality is not None:
                if len(set().union(*(d.distinct for d in docs))) < self.cardinality:
                    continue
            alerts.append(RunAlert(run_time, key, sorted(docs, key=_doc_order)))
        alerts = alerts[:self.max_signals]
        for alert in alerts:
            history[alert.key] = max(history.get(alert.key, alert.last), alert.last)
        return alerts

    def _prune(self, start):
        self.docs = [d for d in self.docs if d.ts >= start]
        # a history entry older than every future window excludes nothing any more
        self.history = dict((k, t) for k, t in self.history.items() if t >= start)
        return min(d.ts for d in self.docs) if self.docs else None


class Burst(object):
    """Threshold run alerts of one bucket merged into one burst (the harness's reading)."""

    __slots__ = ("key", "docs", "runs")

    def __init__(self, alert):
        self.key = alert.key
        self.docs = list(alert.docs)
        self.runs = [alert.run_time]

    def extend(self, alert):
        in_order = not alert.docs or _doc_order(alert.docs[0]) >= _doc_order(self.docs[-1])
        self.docs.extend(alert.docs)
        if not in_order:  # runs come in time order, so this is rare: keep long bursts linear
            self.docs.sort(key=_doc_order)
        self.runs.append(alert.run_time)

    @property
    def first(self):
        return self.docs[0].ts

    @property
    def last(self):
        return self.docs[-1].ts

    def __repr__(self):
        return "Burst(%r, %r)" % (self.key, [d.event_id for d in self.docs])


class BurstMerger(object):
    """Merges run alerts of the same bucket whose documents are within ``window`` seconds."""

    def __init__(self, window):
        self.window = window
        self.open = {}

    def add(self, alert):
        """Returns the bursts this alert closes (at most one)."""
        burst = self.open.get(alert.key)
        if burst is not None and alert.first - burst.last <= self.window:
            burst.extend(alert)
            return []
        self.open[alert.key] = Burst(alert)
        return [burst] if burst is not None else []

    def close_before(self, horizon):
        """Close the bursts no alert with documents at or after ``horizon`` can extend."""
        if horizon is None:
            return []
        closed = [b for b in self.open.values() if b.last + self.window < horizon]
        for b in closed:
            del self.open[b.key]
        return closed

    def finish(self):
        closed = list(self.open.values())
        self.open = {}
        return closed


class _Item(object):
    __slots__ = ("ts", "serial", "doc")

    def __init__(self, ts, serial, doc):
        self.ts = ts
        self.serial = serial
        self.doc = doc


class SequenceRuns(_Runs):
    """An EQL sequence rule: ``find(docs)`` is the EQL evaluation of one run's documents (in
    arrival order, which stands in for Elasticsearch's index order on equal timestamps) and returns
    the sequences as lists of those documents. Produces ``(run_time, [items])``."""

    def __init__(self, schedule, find, max_signals=100):
        _Runs.__init__(self, schedule)
        self.find = find
        self.max_signals = max_signals
        self.items = []
        self.alerted = {}       # member serials -> timestamp of the first member

    def add(self, ts, serial, doc):
        if not self._accept(ts):
            return False
        self.items.append(_Item(ts, serial, doc))
        return True

    def _run(self, run_time):
        start, end = self.schedule.window(run_time)
        window = [it for it in self.items if start <= it.ts <= end]
        if not window:
            return []
        by_doc = dict((id(it.doc), it) for it in window)
        out = []
        for sequence in self.find([it.doc for it in window])[:self.max_signals]:
            members = [by_doc[id(doc)] for doc in sequence]
            key = tuple(m.serial for m in members)
            if key in self.alerted:
                continue        # the same shell alert id: written once
            self.alerted[key] = members[0].ts
            out.append((run_time, members))
        return out

    def _prune(self, start):
        self.items = [it for it in self.items if it.ts >= start]
        self.alerted = dict((k, t) for k, t in self.alerted.items() if t >= start)
        return min(it.ts for it in self.items) if self.items else None


class _TermState(object):
    __slots__ = ("pending", "before")

    def __init__(self):
        self.pending = []       # occurrences (items) no run has moved out of its window yet
        self.before = None      # latest occurrence already behind every later window


class NewTermsRuns(_Runs):
    """A new_terms rule: ``history`` is the width of history_window_start (now-7d -> 7 days).

    ``add(ts, serial, terms, doc)`` with the document's term tuples; produces
    ``(run_time, term, item)`` for each new term, item being its first document in the window.
    """

    SWEEP_EVERY = 64            # runs between sweeps of terms nothing refers to any more

    def __init__(self, schedule, history, max_signals=100):
        _Runs.__init__(self, schedule)
        if history < schedule.lookback:
            raise ScheduleError("history_window_start must reach further back than the rule's from")
        self.history = history
        self.max_signals = max_signals
        self.terms = {}
        self.active = set()     # terms with pending occurrences
        self.alerted = {}       # (serial, term) -> timestamp

    def add(self, ts, serial, terms, doc):
        if not terms:
            return True
        if not self._accept(ts):
            return False
        item = _Item(ts, serial, doc)
        for term in terms:
            state = self.terms.get(term)
            if state is None:
                state = self.terms[term] = _TermState()
            state.pending.append(item)
            self.active.add(term)
        return True

    def _run(self, run_time):
        start, end = self.schedule.window(run_time)
        history_start = run_time - self.history
        out = []
        for term in sorted(self.active, key=_key_order):
            state = self.terms[term]
            in_window = [it for it in state.pending if start <= it.ts <= end]
            if not in_window:
                continue
            # the latest occurrence before the window: moved out by earlier runs, or still
            # pending when the runs skipped a quiet stretch
            earlier = [it.ts for it in state.pending if it.ts < start]
            if state.before is not None:
                earlier.append(state.before)
            if earlier and max(earlier) >= history_start:
                continue        # occurred in [history start, window start): not new
            first = min(in_window, key=lambda it: (it.ts, it.serial))
            key = (first.serial, term)
            if key in self.alerted:
                continue        # same document and value: the same alert id
            if len(out) >= self.max_signals:
                break
            self.alerted[key] = first.ts
            out.append((run_time, term, first))
        return out

    def _prune(self, start):
        earliest = None
        for term in list(self.active):
            state = self.terms[term]
            keep = []
            for it in state.pending:
                if it.ts < start:
                    if state.before is None or it.ts > state.before:
                        state.before = it.ts
                else:
                    keep.append(it)
            state.pending = keep
            if keep:
                low = min(it.ts for it in keep)
                earliest = low if earliest is None or low < earliest else earliest
            else:
                self.active.discard(term)
        self.alerted = dict((k, t) for k, t in self.alerted.items() if t >= start)
        if self.runs % self.SWEEP_EVERY == 0:
            # a term last seen before every future history window is unknown again: forget it
            oldest = start + self.schedule.lookback - self.history
            for term in [t for t, s in self.terms.items()
                         if not s.pending and (s.before is None or s.before < oldest)]:
                del self.terms[term]
        return earliest
