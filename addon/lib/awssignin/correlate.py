"""Correlation state machines. Each consumes qualifying events in eventTime order and yields bursts.

A burst is a list of sign-in views (dicts) that make up one alert. The semantics are those of
DESIGN.md: sliding, inclusive windows (last - first <= window); one alert per burst, a burst extends
while the next qualifying event of its group follows within the window; keys are never null.
"""

from collections import deque


class PerEvent(object):
    """Every qualifying event is its own alert."""

    def __init__(self, logic):
        self.group_by = logic["group_by"]

    def add(self, ev):
        return [[ev]]

    def expire(self, watermark):
        return []

    def finish(self):
        return []


class _Group(object):
    __slots__ = ("window", "burst", "last")

    def __init__(self):
        self.window = deque()
        self.burst = None
        self.last = None


class Threshold(object):
    """At least ``threshold`` qualifying events of one group within ``window`` seconds.

    With ``distinct``, the count is of distinct non-null values of that field (password spraying).
    """

    def __init__(self, logic):
        self.group_by = logic["group_by"]
        self.threshold = logic["threshold"]
        self.window = logic["window_seconds"]
        self.distinct = logic.get("distinct")
        self.groups = {}

    def _count(self, events):
        if self.distinct is None:
            return len(events)
        return len(set(ev[self.distinct] for ev in events if ev.get(self.distinct) is not None))

    def add(self, ev):
        key = tuple(ev.get(f) for f in self.group_by)
        if any(k is None for k in key):
            return []
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = _Group()
        t = ev["event_time"]
        out = []
        if g.burst is not None:
            if t - g.last <= self.window:
                g.burst.append(ev)
                g.last = t
                return out
            out.append(g.burst)
            g.burst = None
        g.window.append(ev)
        while g.window and g.window[0]["event_time"] < t - self.window:
            g.window.popleft()
        if self._count(g.window) >= self.threshold:
            g.burst = list(g.window)
            g.last = t
            g.window.clear()
        return out

    def expire(self, watermark):
        """Close bursts no later event can extend; drop window state no later event can use."""
        out = []
        for key in list(self.groups):
            g = self.groups[key]
            if g.burst is not None and watermark - g.last > self.window:
                out.append(g.burst)
                g.burst = None
            while g.window and g.window[0]["event_time"] < watermark - self.window:
                g.window.popleft()
            if g.burst is None and not g.window:
                del self.groups[key]
        return out

    def finish(self):
        out = [g.burst for g in self.groups.values() if g.burst is not None]
        self.groups = {}
        return out


class Sequence(object):
    """Steps in order for one key within ``window`` seconds; each step may need several events.

    Each step has its own key fields (``by``), matched positionally, so a sequence can join records of
    different event sources (an IAM ``CreateLoginProfile`` for user X, then X's ``ConsoleLogin``).
    ``differ`` names fields whose value must differ between the last step and the earlier ones.
    Events that complete an alert are consumed; a later event does not reset earlier steps.
    """

    def __init__(self, logic, step_predicates):
        self.group_by = logic["group_by"]
        self.steps = logic["steps"]
        self.predicates = step_predicates
        self.window = logic["window_seconds"]
        self.differ = logic.get("differ") or []
        self.pending = {}  # key -> [deque of events per step except the last]

    def matches(self, ev):
        return any(p(ev) for p in self.predicates)

    def add(self, ev):
        out = []
        t = ev["event_time"]
        last = len(self.steps) - 1
        for i, step in enumerate(self.steps):
            if not self.predicates[i](ev):
                continue
            key = tuple(ev.get(f) for f in step["by"])
            if any(k is None for k in key):
                continue
            if i < last:
                self.pending.setdefault(key, [deque() for _ in range(last)])[i].append(ev)
                continue
            chosen = self._complete(key, ev, t)
            if chosen is not None:
                out.append(chosen + [ev])
        return out

    def _complete(self, key, final, t):
        pending = self.pending.get(key)
        if pending is None:
            return None
        start = t - self.window
        chosen = []
        after = start
        picks = []
        for i, queue in enumerate(pending):
            need = self.steps[i].get("min_count", 1)
            usable = [
                ev for ev in queue
                if after <= ev["event_time"] <= t
                and all(ev.get(f) is not None and ev.get(f) != final.get(f) for f in self.differ)
            ]
            if len(usable) < need:
                return None
            picks.append(usable)
            # the next step must start at or after the event that satisfied this one
            after = usable[need - 1]["event_time"]
            chosen.extend(usable)
        for i, used in enumerate(picks):
            ids = set(id(ev) for ev in used)
            pending[i] = deque(ev for ev in pending[i] if id(ev) not in ids)
        return chosen

    def expire(self, watermark):
        for key in list(self.pending):
            queues = self.pending[key]
            for q in queues:
                while q and q[0]["event_time"] < watermark - self.window:
                    q.popleft()
            if not any(queues):
                del self.pending[key]
        return []

    def finish(self):
        self.pending = {}
        return []
