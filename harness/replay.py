"""``awssignin replay``: run the detections over a user's logs and stream the alerts.

One reader, then each platform's artefact evaluated in process: the Splunk path is the saved
search's base search (over the aws:cloudtrail field view) followed by the engine, exactly the code
the ``awssignin`` search command runs; the Elastic path is the Kibana rule over the ECS document.

One record, one verdict. Before any platform sees a record, replay decides whether it is usable:
its ``eventSource`` must be a string (every record: the platforms route on it), and a record whose
eventSource and eventName some detection pins (``candidates.py``) must give a sign-in view
(``normalize.from_cloudtrail``: the types and values of every field a detection or mapping reads, a
time the engine can write back). A record that fails is skipped once, for every platform, with its
reason and location; the others are not validated (no detection can alert on them) and the summary
says how many. On NDJSON, lines that hold none of the pinned values are not even parsed (the
prefilter, ``input/decode.py``; counted as "lines not parsed"); ``prefilter=False`` (``--strict``)
parses every line, so any damaged line is a skip. If a platform
still cannot use an accepted record (its own mapping refuses it), that is a per-platform skip,
counted with its reason, and fails ``--strict``.

Order. Per-event detections need no order: their records go to the platforms as they are read.
Correlations get their candidates (records that pass one of their predicates) through
``ordering.OrderedSpill`` and are fed the same merged order on both platforms once the input has
been read, so their alerts do not depend on the input's order and no record is late (the
processors' own reordering is off: the engine with ``reorder=False``, the Kibana simulation a
second behind the input, which is ordered).
"""

from collections import Counter

from awssignin.engine import Detection as EngineDetection
from awssignin.normalize import BadRecord, from_cloudtrail, kind_of, nested_getter

from . import geoip
from .elastic.ecs import OBJECT_KEYS as ECS_OBJECT_KEYS
from .candidates import Candidates
from .ordering import SPILL_AT, OrderedSpill
from .reader import Reader, Skip
from .seenids import SeenIds

DEFAULT_MAX_LATENESS = 3600
# seconds the Kibana simulation stays behind the newest record it was fed: the records come in
# order, so any positive value keeps a run from executing before a record of its own second
ORDERED_SLACK = 1
# seconds of event time the per-event Splunk lane remembers an eventID (as the Elastic runner's
# dedup pipeline does, harness/elastic/runner.py DEDUP_HORIZON)
EVENT_DEDUP_HORIZON = 3600
# what the processors count when they cannot use a record replay accepted
PLATFORM_SKIP_KEYS = ("no field view", "unmappable")
# processor counters that count a record once per lane (a record may reach two): not summed
LANE_COUNTERS = ("records",)


def _check_containers(record):
    """The containers the Elastic mapping requires to be objects (harness/elastic/ecs.py
    OBJECT_KEYS) beyond those the sign-in view checks: a record the ECS mapping would refuse is
    refused here, for both platforms. Raises BadRecord."""
    get = nested_getter(record)
    for path in ECS_OBJECT_KEYS:
        value = get(path)
        if value is not None and value.__class__ is not dict:
            raise BadRecord(path, "expected an object, got %s" % kind_of(value))


def is_per_event(detection):
    return detection.data["logic"]["type"] == "event"


class PerRecord(object):
    """What a processor computes from a record and another processor of the same run can reuse (the
    Elastic lanes' ECS document): ``current`` is the memo of the record being fed, set by replay before
    it feeds a record; a correlation candidate carries its memo through the sorter."""
    __slots__ = ("current",)

    def __init__(self):
        self.current = None


def platform_processor(platform, layout, detections, overrides, ordered, per_record=None):
    """``ordered``: the records come sorted (correlations); else as read (per-event detections).
    ``per_record``: the run's PerRecord, shared by its processors."""
    ids = set(d.id for d in detections)
    overrides = dict((k, v) for k, v in (overrides or {}).items() if k in ids) or None
    if platform == "splunk":
        from .splunk.inprocess import SplunkInProcess
        return SplunkInProcess(layout, detections, overrides,
                               ORDERED_SLACK if ordered else EVENT_DEDUP_HORIZON, reorder=False)
    if platform == "elastic":
        from .elastic.runner import ElasticRules
        return ElasticRules(detections, overrides, ORDERED_SLACK, per_record=per_record)
    raise ValueError("unknown platform %r" % platform)


class _Lane(object):
    __slots__ = ("variant", "platform", "processor")

    def __init__(self, variant, platform, processor):
        self.variant = variant
        self.platform = platform
        self.processor = processor


class Replay(object):
    """Feeds every record of ``paths`` to each platform; ``on_alert(alert)`` gets alerts as they close.

    ``variants``: other sets of detections to run over the same records in the same pass, as
    ``[(name, layout, detections)]`` (``--compare``); their alerts go to ``on_variant_alert(name, alert)``. ``max_lateness``: seconds a correlation
    candidate stays in memory behind the newest one before it is written to disk (it never changes
    the alerts); ``spill_at``: candidates held in memory per buffer (see ordering.py).
    """

    def __init__(self, layout, detections, platforms, overrides=None, max_lateness=DEFAULT_MAX_LATENESS,
                 on_alert=None, on_skip=None, stdin=None, variants=(), spill_at=SPILL_AT, spill_dir=None,
                 tuning=None, on_variant_alert=None, reader_options=None, prefilter=True):
        self.reader_options = dict(reader_options or {})  # Reader's since/until/accounts/regions/profile
        self.on_alert = on_alert
        self.on_variant_alert = on_variant_alert
        self.on_skip = on_skip
        self.stdin = stdin
        self.max_lateness = max_lateness
        self.spill_at = spill_at
        self.spill_dir = spill_dir
        self.alerts = Counter()        # (platform, detection) -> alerts, working tree only
        self.skipped = Counter()
        self.counts = Counter()
        self.reader = None
        self.sorter = None
        self.event_lanes = []
        self.ordered_lanes = []
        every = []
        matchers = []
        per_record = self.per_record = PerRecord()

        def make(platform, layout, detections, overrides, ordered):
            return platform_processor(platform, layout, detections, overrides, ordered, per_record)
        if tuning is not None:   # the site tuning file (harness/tuning/apply.py) in front of each processor
            from .tuning.apply import replay_processor_factory
            make = replay_processor_factory(tuning, make)
        for name, lay, dets in [(None, layout, detections)] + list(variants):
            events = [d for d in dets if is_per_event(d)]
            others = [d for d in dets if not is_per_event(d)]
            every.extend(dets)
            for platform in platforms:
                if events:
                    self.event_lanes.append(_Lane(name, platform, make(platform, lay, events, overrides, False)))
                if others:
                    self.ordered_lanes.append(_Lane(name, platform, make(platform, lay, others, overrides, True)))
            matchers.extend(EngineDetection(d.engine_spec()).match for d in others)
        self.matchers = matchers
        # records whose eventSource and eventName some detection pins: only those are validated
        self.candidates = Candidates(every)
        # NDJSON lines holding none of the pinned values are not parsed (off with --strict: every line read)
        self.prefilter = self.candidates.needles() if prefilter else None

    def _skip(self, skip):
        self.skipped[skip.reason] += 1
        if self.on_skip is not None:
            self.on_skip(skip)

    def run(self, paths, progress=None):
        reader = self.reader = Reader(paths, on_skip=self._skip, stdin=self.stdin, prefilter=self.prefilter,
                                      **self.reader_options)
        sorter = self.sorter = OrderedSpill(self.max_lateness, self.spill_at, self.spill_dir)
        seen = SeenIds(self.spill_dir)
        try:
            self._read(reader, sorter, seen, progress)
            for lane in self.event_lanes:
                self._emit(lane, lane.processor.finish())
            lanes = self.ordered_lanes
            per_record = self.per_record
            for entry in sorter.sorted():
                record, view = entry[3], entry[4]
                per_record.current = entry[5]
                for lane in lanes:
                    alerts = lane.processor.feed_record(record, view)
                    if alerts:
                        self._emit(lane, alerts)
            per_record.current = None
            for lane in lanes:
                self._emit(lane, lane.processor.finish())
        finally:
            self.per_record.current = None
            sorter.close()
            seen.close()
        if progress is not None:
            progress(reader)
        return self

    def _read(self, reader, sorter, seen, progress):
        wanted = self.candidates.wants
        event_lanes = self.event_lanes
        matchers = self.matchers if self.ordered_lanes else ()
        counts = self.counts
        emit = self._emit
        geo = geoip.current()   # the views get source_country from the GeoIP database in use
        per_record = self.per_record
        serial = 0
        for record, location in reader:
            serial += 1
            if progress is not None and serial % 20000 == 0:
                progress(reader)
            source = record.get("eventSource")
            if source is not None and source.__class__ is not str:
                self._skip(Skip("bad field eventSource", location, "expected a string, got %s" % kind_of(source)))
                continue
            if not wanted(record):
                counts["not validated"] += 1
                continue
            try:
                view = from_cloudtrail(record)
                _check_containers(record)
            except BadRecord as err:
                self._skip(Skip("bad field %s" % err.field, location, err.message))
                continue
            counts["validated"] += 1
            if geo is not None:
                view = geoip.enrich_view(view, geo)
            if not seen.add(view["event_id"]):
                # a second copy (two trails log one event): both platforms would drop it, each
                # within its own memory; dropped here once for both (harness/seenids.py)
                counts["duplicates"] += 1
                continue
            memo = per_record.current = {}
            for lane in event_lanes:
                alerts = lane.processor.feed_record(record, view)
                if alerts:
                    emit(lane, alerts)
            for match in matchers:
                if match(view):
                    # the memo goes along (pickled with the entry if it is written to disk)
                    sorter.add((view["event_time"], view["event_id"], serial, record, view, memo, location))
                    break
        per_record.current = None

    def _emit(self, lane, alerts):
        if lane.variant is not None:
            if self.on_variant_alert is not None:
                for alert in alerts:
                    self.on_variant_alert(lane.variant, alert)
            return
        for alert in alerts:
            self.alerts[(alert["platform"], alert["detection"])] += 1
            if self.on_alert is not None:
                self.on_alert(alert)

    # -- what the summary reports ------------------------------------------------------------
    def _platform_stats(self, variant=None):
        out = {}
        for lane in self.event_lanes + self.ordered_lanes:
            if lane.variant != variant:
                continue
            for key, value in getattr(lane.processor, "stats", {}).items():
                if value and key not in LANE_COUNTERS:
                    out[(lane.platform, key)] = out.get((lane.platform, key), 0) + value
        return out

    def platform_skips(self):
        """{(platform, reason): count} of records replay accepted that a platform could not use."""
        return dict(((p, k), v) for (p, k), v in self._platform_stats().items()
                    if any(k.startswith(s) for s in PLATFORM_SKIP_KEYS))

    def late(self):
        """Records a platform still found out of order (none, when ordering works), over platforms."""
        return sum(v for (_, k), v in self._platform_stats().items() if k == "late")

    def unplaced(self):
        """Correlation candidates that could not be written to disk for sorting."""
        return self.sorter.stats["unplaced"] if self.sorter else 0

    def not_read(self):
        """Everything ``--strict`` counts: skipped, unplaced, late, and per-platform skips."""
        return (sum(self.skipped.values()) + self.unplaced() + self.late()
                + sum(self.platform_skips().values()))

    def stats(self):
        """Counts for the summary: records, files, validation, ordering, per-platform counters."""
        out = {"records read": self.reader.stats["records"] if self.reader else 0,
               "files": self.reader.stats["files"] if self.reader else 0,
               "validated": self.counts["validated"],
               "not validated": self.counts["not validated"],
               "lines not parsed": self.reader.stats["lines not parsed"] if self.reader else 0}
        for key, value in sorted(self.reader.stats.items() if self.reader else ()):
            # what the reader left out on purpose: digests, other S3 objects, records outside --since...
            if key not in ("records", "files", "lines not parsed") and value:
                out[key] = value
        if self.counts["duplicates"]:
            out["copies dropped (an eventID already read)"] = self.counts["duplicates"]
        if self.sorter is not None:
            for key, value in self.sorter.stats.items():
                out["ordered %s" % key] = value
        for (platform, key), value in sorted(self._platform_stats().items()):
            out["%s %s" % (platform, key)] = value
        return out
