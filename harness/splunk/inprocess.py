"""Replay's Splunk path: each detection's saved search run in process over raw CloudTrail records.

The same pieces as the local runner (harness/splunk/runner.py), minus the subprocess: the base
search (macros expanded, SPL evaluator over the aws:cloudtrail field view), then the engine code the
``awssignin`` command runs, then the trailing filter macro over the command's rows. The protocol
itself is tested by ``awssignin test``; replay is the fast path for large inputs, so a record no
detection can use (its eventSource is not one a detection pins) is never turned into a field view.
"""

from awssignin.engine import Engine, union_of_sources
from awssignin.geo import from_splunk_country
from awssignin.normalize import from_cloudtrail
from awssignin.splunkrows import rows_for

from ..candidates import Candidates
from .fieldview import FieldViewError, field_view
from .runner import SplunkLocalRunner, row_to_alert


LANE_CACHE = 4096  # (eventSource, eventName) pairs whose lane lists are kept


class _Lane(object):
    __slots__ = ("detection", "base", "engine", "filters", "group_names")

    def __init__(self, detection, base, engine, filters):
        self.detection = detection
        self.base = base
        self.engine = engine
        self.filters = filters
        self.group_names = list(detection.data["logic"]["group_by"])


class SplunkInProcess(object):
    """``feed_record(record) -> alerts`` / ``finish() -> alerts`` over every detection's saved search."""

    platform = "splunk"

    def __init__(self, layout, detections, overrides=None, max_lateness=None, reorder=True):
        runner = SplunkLocalRunner(layout)
        overrides = overrides or {}
        self.lanes = []
        for det in detections:
            _, base, _, filters = runner.plan(det)
            engine = Engine([det.engine_spec()], overrides={det.id: overrides[det.id]} if det.id in overrides else None,
                            max_lateness=max_lateness, platform="splunk", reorder=reorder)
            self.lanes.append(_Lane(det, base, engine, filters))
        self.sources = union_of_sources(lane.engine.event_sources for lane in self.lanes)
        self.stats = {"not in the base search": 0, "no field view": 0}
        # each lane's pinned (eventSource, eventName) pairs: a record outside them fails the lane's
        # predicate, so it is not run through that lane's base search
        self.pins = [Candidates([lane.detection]) for lane in self.lanes]
        self.by_name = {}     # (eventSource, eventName) -> the lanes whose pins allow it

    def feed_record(self, record, view=None):
        """``view``: the record's sign-in view when the caller already built it (replay does, to
        validate the record once for every platform)."""
        source = record.get("eventSource")
        if self.sources is not None and source not in self.sources:
            return []
        fields = None
        alerts = []
        name = record.get("eventName")
        if isinstance(source, str) and isinstance(name, str):
            lanes = self.by_name.get((source, name))
            if lanes is None:
                probe = {"eventSource": source, "eventName": name}
                lanes = [lane for lane, pins in zip(self.lanes, self.pins) if pins.wants(probe)]
                if len(self.by_name) < LANE_CACHE:
                    self.by_name[(source, name)] = lanes
        else:
            lanes = self.lanes
        for lane in lanes:
            if not lane.engine.is_candidate(source):
                continue
            if fields is None:
                try:
                    fields = field_view(record)
                except FieldViewError:
                    self.stats["no field view"] += 1
                    return alerts
            if all(p(fields) for p in lane.base):
                seen = _with_country(record, view, fields)
                fed = lane.engine.feed_view(seen) if seen is not None else lane.engine.feed_record(record)
                alerts.extend(self._filtered(lane, fed))
            else:
                self.stats["not in the base search"] += 1
        return alerts

    def finish(self):
        alerts = []
        for lane in self.lanes:
            alerts.extend(self._filtered(lane, lane.engine.finish()))
        for lane in self.lanes:
            for key, value in lane.engine.stats.items():
                if key != "candidates":
                    self.stats[key] = self.stats.get(key, 0) + value
        return alerts

    @staticmethod
    def _filtered(lane, alerts):
        """The filter macro (a `search` after the command) over the rows the command would return."""
        if not alerts or not lane.filters:
            return alerts
        kept = []
        for row in rows_for(alerts, lane.group_names):
            if all(p(row) for p in lane.filters):
                kept.append(row_to_alert(row, lane.detection.id))
        return kept


def _with_country(record, view, fields):
    """The sign-in view the command would build from ``fields``: with ``source_country`` from the
    Country field an ``iplocation`` stage added (normalize.from_splunk reads it there)."""
    if "Country" not in fields:
        return view
    if view is None:
        view = from_cloudtrail(record)
    return dict(view, source_country=from_splunk_country(fields["Country"], view["source_ip"]))
