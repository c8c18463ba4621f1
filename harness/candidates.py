"""Which records replay hands to the platforms: those whose eventSource and eventName some detection pins.

Every detection's predicate (each step's, for a sequence) is a conjunction that pins ``event_source``
and, in the shipped catalog, ``event_name`` (``predicates.required_values``). A record outside every
pinned (source, name) pair fails every predicate, on both platforms: the Splunk path runs the engine's
predicate; the Kibana rules are generated from the same predicate, with ``event.provider`` and
``event.action`` copied verbatim from eventSource and eventName (``elastic/ecs.py``), and the only
widening the generator does (``querygen._map_leaf``: a field comparison it cannot express becomes
"true") never drops a pin. So such records are not validated, not field-viewed, not mapped.

``needles()`` turns the same pins into a byte prefilter for NDJSON (``input/decode.py``): a line
that contains none of the pinned values as JSON text cannot hold a candidate and is not parsed.
"""

import json

from awssignin.engine import Detection as EngineDetection
from awssignin.predicates import required_values

MAX_NAME_NEEDLES = 2


def _wheres(detection):
    logic = detection.data["logic"]
    if logic["type"] == "sequence":
        return [s["where"] for s in logic["steps"]]
    return [logic["where"]]


class Candidates(object):
    """``wants(record)``: could some detection's predicate hold on this raw record?

    A record whose eventSource or eventName is not a string is wanted when its other value could
    match, so that validation reports it (a skip with its reason) rather than passing over it."""

    def __init__(self, detections):
        self.pins = []          # [(sources or None, names or None)] per predicate
        for d in detections:
            for where in _wheres(d):
                self.pins.append((required_values(where, "event_source"), required_values(where, "event_name")))
        self.any = any(s is None and n is None for s, n in self.pins)
        by_source = {}
        self.free_sources = set()   # sources pinned without a name pin: every name wanted
        for sources, names in self.pins:
            for s in sources or ():
                if names is None:
                    self.free_sources.add(s)
                else:
                    by_source.setdefault(s, set()).update(names)
        self.by_source = dict((s, frozenset(n)) for s, n in by_source.items() if s not in self.free_sources)
        self.sources = frozenset(self.free_sources) | frozenset(self.by_source)
        # name pins that hold for any source (a predicate pinning neither makes ``any`` true)
        self.unpinned_sources = [n for s, n in self.pins if s is None and n is not None]
        self.any_source_names = frozenset().union(*self.unpinned_sources) if self.unpinned_sources else frozenset()

    def wants(self, record):
        if self.any:
            return True
        name = record.get("eventName")
        if name.__class__ is not str:
            name = None
        elif name in self.any_source_names:
            return True
        source = record.get("eventSource")
        if source.__class__ is not str:
            return source is not None or bool(self.any_source_names) and name is None
        if source in self.free_sources:
            return True
        names = self.by_source.get(source)
        if names is None:
            return False
        return name is None or name in names

    def needles(self):
        """Texts of which a candidate's NDJSON line contains at least one, or None (no prefilter).

        A pinned value as a JSON string, quotes included (as any JSON encoder writes a string without
        escapes); the decoder parses every line with a backslash too (an escape may spell any value)."""
        if self.any:
            return None
        # a source's pinned names when they are few (iam.amazonaws.com is 12% of CloudTrail, its
        # CreateLoginProfile a trace), else the source itself: each needle is one scan of the input
        values = set(self.free_sources) | set(self.any_source_names)
        for source, names in self.by_source.items():
            values |= names if len(names) <= MAX_NAME_NEEDLES else set([source])
        if any(not isinstance(v, str) or not v or "\\" in json.dumps(v) for v in values):
            return None
        return tuple(sorted(json.dumps(v) for v in values))


def engine_matchers(detections):
    """The engine's own predicate of each detection (what the correlations are sorted by)."""
    return [EngineDetection(d.engine_spec()).match for d in detections]
