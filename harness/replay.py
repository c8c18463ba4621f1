"""``awssignin replay``: run the detections over a user's logs and stream the alerts.

One reader, then each platform's artefact evaluated in process: the Splunk path is the saved
search's base search (over the aws:cloudtrail field view) followed by the engine, exactly the code
the ``awssignin`` search command runs; the Elastic path is the Kibana rule over the ECS document.
A record the engine cannot read (wrong types, bad eventTime) is skipped for every platform, once,
with its reason and location.
"""

from collections import Counter

from awssignin.engine import event_sources
from awssignin.normalize import BadRecord, from_cloudtrail

from .reader import Reader, Skip

DEFAULT_MAX_LATENESS = 3600


def platform_processor(platform, layout, detections, overrides, max_lateness):
    if platform == "splunk":
        from .splunk.inprocess import SplunkInProcess
        return SplunkInProcess(layout, detections, overrides, max_lateness)
    if platform == "elastic":
        from .elastic.runner import ElasticRules
        return ElasticRules(detections, overrides, max_lateness)
    raise ValueError("unknown platform %r" % platform)


class Replay(object):
    """Feeds every record of ``paths`` to each platform; ``on_alert`` gets alerts as they close."""

    def __init__(self, layout, detections, platforms, overrides=None, max_lateness=DEFAULT_MAX_LATENESS,
                 on_alert=None, on_skip=None, stdin=None):
        self.processors = [(p, platform_processor(p, layout, detections, overrides, max_lateness)) for p in platforms]
        self.on_alert = on_alert
        self.on_skip = on_skip
        self.stdin = stdin
        self.alerts = Counter()
        self.skipped = Counter()
        self.reader = None
        # eventSource values some platform may care about: only those records are validated
        self.validated_sources = event_sources([d.engine_spec() for d in detections])

    def _skip(self, skip):
        self.skipped[skip.reason] += 1
        if self.on_skip is not None:
            self.on_skip(skip)

    def run(self, paths, progress=None):
        reader = self.reader = Reader(paths, on_skip=self._skip, stdin=self.stdin)
        sources = self.validated_sources
        emit = self._emit
        processors = [p for _, p in self.processors]
        n = 0
        for record, location in reader:
            n += 1
            if progress is not None and n % 20000 == 0:
                progress(reader)
            view = None
            if sources is None or record.get("eventSource") in sources:
                try:
                    view = from_cloudtrail(record)
                except BadRecord as err:
                    self._skip_bad(err, location)
                    continue
            for proc in processors:
                alerts = proc.feed_record(record, view)
                if alerts:
                    emit(alerts)
        for proc in processors:
            emit(proc.finish())
        if progress is not None:
            progress(reader)
        return self

    def _skip_bad(self, err, location):
        self._skip(Skip("bad field %s" % err.field, location, err.message))

    def _emit(self, alerts):
        for alert in alerts:
            self.alerts[(alert["platform"], alert["detection"])] += 1
            if self.on_alert is not None:
                self.on_alert(alert)

    def late(self):
        """Records that arrived after --max-lateness and could not be used, summed over platforms."""
        return sum(getattr(proc, "stats", {}).get("late", 0) for _, proc in self.processors)

    def stats(self):
        """Counts for the summary: records, skips by reason, per-platform engine counters."""
        out = {"records read": self.reader.stats["records"] if self.reader else 0,
               "files": self.reader.stats["files"] if self.reader else 0}
        for platform, proc in self.processors:
            for key, value in sorted(getattr(proc, "stats", {}).items()):
                if value:
                    out["%s %s" % (platform, key)] = value
        return out
