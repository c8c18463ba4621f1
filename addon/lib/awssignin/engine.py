"""The detection engine: sign-in views in, alerts (DESIGN.md's alert schema) out.

Events may arrive in any order (CloudTrail files are unordered; Splunk hands a command the newest
first). The engine keeps the events that pass a detection's predicate in a reorder buffer and feeds
them to the correlators in (eventTime, eventID) order. With ``max_lateness=None`` everything is held
until ``finish()`` (a Splunk search, a test); with a number of seconds, events are released once a
record that much newer has been seen (replay over an unbounded log tree), so memory stays bounded by
the window state. An event older than what was already released is counted in ``stats['late']``.
"""

import heapq

from . import baseline, correlate
from .normalize import from_cloudtrail, from_splunk
from .predicates import compile_predicate, required_values
from .timeutil import format_duration, format_time, parse_duration

# seconds of event time between two sweeps of correlation state (a sweep visits every group)
EXPIRE_EVERY = 60


class Detection(object):
    """One detection of the table, compiled: predicate(s), correlator factory, alert metadata."""

    def __init__(self, spec, overrides=None):
        self.id = spec["id"]
        self.spec = spec
        logic = dict(spec["logic"])
        logic.update(checked_overrides(self.id, logic, overrides))
        if "window" in logic:
            try:
                logic["window_seconds"] = parse_duration(logic["window"])
            except ValueError as err:
                raise ValueError("%s: window: %s" % (self.id, err))
        self.logic = logic
        kind = logic["type"]
        if kind == "sequence":
            self.predicates = [compile_predicate(s["where"], "logic.steps[%d].where" % i)
                               for i, s in enumerate(logic["steps"])]
            self.match = lambda ev: any(p(ev) for p in self.predicates)
            wheres = [s["where"] for s in logic["steps"]]
        else:
            self.match = compile_predicate(logic["where"], "logic.where")
            wheres = [logic["where"]]
        self.event_sources = union_of_sources(required_values(w, "event_source") for w in wheres)
        # how long events stay relevant to correlation state (the dedup horizon): a new_terms window is
        # a history, which a second copy of an event can never be new against (baseline.py)
        self.window_seconds = 0 if kind == "new_terms" else logic.get("window_seconds", 0)

    def correlator(self):
        kind = self.logic["type"]
        if kind == "event":
            return correlate.PerEvent(self.logic)
        if kind in ("threshold", "distinct"):
            return correlate.Threshold(self.logic)
        if kind == "sequence":
            return correlate.Sequence(self.logic, self.predicates)
        if kind == "new_terms":
            return baseline.NewTerms(self.logic)
        raise ValueError("%s: unknown logic type %r" % (self.id, kind))

    def group_of(self, events):
        logic = self.logic
        if logic["type"] == "sequence":
            fields = logic["steps"][-1]["by"]
        else:
            fields = logic["group_by"]
        last = events[-1]
        return dict((name, last.get(field)) for name, field in zip(logic["group_by"], fields))

    def alert(self, events, platform):
        ids = []
        seen = set()
        for ev in sorted(events, key=_order):
            if ev["event_id"] not in seen:
                seen.add(ev["event_id"])
                ids.append(ev["event_id"])
        times = [ev["event_time"] for ev in events]
        spec = self.spec
        return {
            "detection": self.id,
            "title": spec["title"],
            "severity": spec["severity"],
            "risk_score": spec["risk_score"],
            "mitre": list(spec["mitre"]),
            "platform": platform,
            "first_seen": format_time(min(times)),
            "last_seen": format_time(max(times)),
            "group": self.group_of(events),
            "count": len(ids),
            "event_ids": ids,
        }


# the parameters a user may override per run (command options, test params, replay flags)
OVERRIDABLE = ("threshold", "window")


def checked_overrides(detection_id, logic, overrides):
    """Validated threshold/window overrides of one detection (``logic`` is its logic): the
    threshold as an int, the window as a duration string. Raises ValueError naming the detection.
    The Elastic runner applies the same overrides to the Kibana rule with this check."""
    if not overrides:
        return {}
    if not isinstance(overrides, dict):
        raise ValueError("%s: overrides must be a mapping like {'threshold': 10, 'window': '15m'}, not %r"
                         % (detection_id, overrides))
    out = {}
    for key, value in overrides.items():
        if key not in OVERRIDABLE:
            raise ValueError("%s: only threshold and window can be overridden, not %r" % (detection_id, key))
        if key not in logic:
            raise ValueError("%s: a %s detection has no %s" % (detection_id, logic["type"], key))
        if key == "threshold":
            try:
                if isinstance(value, bool):
                    raise ValueError
                value = int(value)
            except (TypeError, ValueError):
                raise ValueError("%s: threshold must be a whole number, not %r" % (detection_id, value))
            if value < 1:
                raise ValueError("%s: threshold must be at least 1, not %r" % (detection_id, value))
        else:
            try:
                value = format_duration(parse_duration(value))
            except ValueError as err:
                raise ValueError("%s: window: %s" % (detection_id, err))
        out[key] = value
    return out


def union_of_sources(pinned_sets):
    """The eventSource values any of several detections can use (each a set, or None for "any");
    None when one of them is not pinned."""
    sources = set()
    for pinned in pinned_sets:
        if pinned is None:
            return None
        sources |= pinned
    return frozenset(sources)


def event_sources(specs):
    """``union_of_sources`` of detection specs (from the detection table)."""
    return union_of_sources(Detection(spec).event_sources for spec in specs)


def _order(ev):
    return (ev["event_time"], ev["event_id"])


class Engine(object):
    """Runs a set of detections over sign-in events.

    ``detections``: specs from the detection table (``catalog.load()``); ``overrides``:
    ``{detection_id: {"threshold": n, "window": "15m"}}``; ``platform``: the label alerts carry.
    """

    def __init__(self, detections, overrides=None, max_lateness=None, platform="splunk", reorder=True):
        """``reorder=False``: events are processed as they are fed, none is late (the caller feeds
        them in order, or the detections are per-event ones, which need no order)."""
        overrides = overrides or {}
        unknown = set(overrides) - set(d["id"] for d in detections)
        if unknown:
            raise ValueError("overrides name unknown detections: %s" % ", ".join(sorted(unknown)))
        self.detections = [Detection(d, overrides.get(d["id"])) for d in detections]
        self.correlators = [d.correlator() for d in self.detections]
        self.platform = platform
        self.max_lateness = max_lateness
        self.reorder = reorder
        # eventSource values any detection can use; None = every record is a candidate
        self.event_sources = union_of_sources(d.event_sources for d in self.detections)
        self.horizon = max([d.window_seconds for d in self.detections] + [0])
        self.buffer = []          # heap of (event_time, event_id, seq, view, indexes of matched detections)
        self.seq = 0
        self.newest = None        # newest eventTime seen among candidates
        self.released = None      # eventTime of the last event handed to the correlators
        self.expired = None       # the watermark of the last sweep over the correlators' state
        self.seen_ids = {}        # eventID -> eventTime, for de-duplication
        self.prune_at = 4096
        self.stats = {"candidates": 0, "duplicates": 0, "late": 0}
        self.late_ids = []

    def is_candidate(self, event_source):
        return self.event_sources is None or event_source in self.event_sources

    def feed_record(self, record):
        """A raw CloudTrail record. Raises normalize.BadRecord when it cannot be read."""
        if isinstance(record, dict) and not self.is_candidate(record.get("eventSource")):
            return []
        return self.feed_view(from_cloudtrail(record))

    def feed_splunk(self, record):
        """One event of Splunk's field view. Raises normalize.BadRecord when it cannot be read."""
        source = record.get("eventSource")
        if isinstance(source, list):  # a multivalue field: the sign-in view reads its first value
            source = source[0] if source else None
        if not self.is_candidate(source):
            return []
        return self.feed_view(from_splunk(record))

    def feed_view(self, ev):
        if not self.is_candidate(ev["event_source"]):
            return []
        # which detections the event qualifies for, evaluated once and carried through the buffer
        matched = tuple(i for i, d in enumerate(self.detections) if d.match(ev))
        if not matched:
            return []
        self.stats["candidates"] += 1
        t = ev["event_time"]
        eid = ev["event_id"]
        if eid in self.seen_ids:
            self.stats["duplicates"] += 1
            return []
        if not self.reorder:
            self.seen_ids[eid] = t
            if self.newest is None or t > self.newest:
                self.newest = t
            return self._process(ev, matched) + self._release(self.newest)
        if self.released is not None and t < self.released:
            self.stats["late"] += 1
            self.late_ids.append(eid)
            return []
        self.seen_ids[eid] = t
        self.seq += 1
        heapq.heappush(self.buffer, (t, eid, self.seq, ev, matched))
        if self.newest is None or t > self.newest:
            self.newest = t
        if self.max_lateness is None:
            return []
        return self._release(self.newest - self.max_lateness)

    def _release(self, upto):
        alerts = []
        while self.buffer and self.buffer[0][0] <= upto:
            t, _, _, ev, matched = heapq.heappop(self.buffer)
            self.released = t
            alerts.extend(self._process(ev, matched))
        # nothing at or before `upto` can still arrive (it would be late), so state older than a
        # window before it is final
        if self.expired is None or upto - self.expired >= EXPIRE_EVERY:
            self.expired = upto
            for det, corr in zip(self.detections, self.correlators):
                for burst in corr.expire(upto):
                    alerts.append(det.alert(burst, self.platform))
            if len(self.seen_ids) > self.prune_at:
                floor = upto - self.horizon - (self.max_lateness or 0)
                self.seen_ids = dict((k, v) for k, v in self.seen_ids.items() if v >= floor)
                # amortised: when most ids are still live, wait until the set has doubled
                self.prune_at = max(4096, 2 * len(self.seen_ids))
        return alerts

    def _process(self, ev, matched):
        alerts = []
        for i in matched:
            det = self.detections[i]
            for burst in self.correlators[i].add(ev):
                alerts.append(det.alert(burst, self.platform))
        return alerts

    def finish(self):
        """Release everything and close open bursts. Returns the remaining alerts."""
        alerts = []
        while self.buffer:
            t, _, _, ev, matched = heapq.heappop(self.buffer)
            self.released = t
            alerts.extend(self._process(ev, matched))
        for det, corr in zip(self.detections, self.correlators):
            for burst in corr.finish():
                alerts.append(det.alert(burst, self.platform))
        return alerts
