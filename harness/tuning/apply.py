"""Tuning applied locally, the way each platform applies it (``awssignin test`` and ``replay``).

- Splunk: the compiled ``local/`` files (harness/tuning/splunk.py) are written to a scratch app
  directory and layered over the shipped ``default/macros.conf`` like Splunk layers them; the tuned
  saved search is then run by the local Splunk runner (macros expanded, every ``search`` stage
  evaluated by the SPL evaluator on the aws:cloudtrail field view, the real command with the
  options the search passes). In replay the allowlist stage is the same SPL text, evaluated on the
  field view of every record before the in-process engine.
- Elastic: each record's ECS document is checked against the rule's exception items (shared list
  plus the rule's own, harness/tuning/elastic.py); a matching document never reaches the rule, as
  Kibana's exception filter keeps it out of the rule's search. Parameters change the rule through
  ``rules.kibana_rule``, like the rule fields deploy sets.

Counting. An entry "removed" an event when the event is one the detection's logic accepts (the
engine's predicate on the sign-in view) and the platform's compiled entry matches it; an entry
"removed" an alert when an alert of the untuned run is missing from the tuned run and one of its
events was removed by the entry. Alerts that changed for another reason (a parameter) are counted
under ``parameters``.
"""

import tempfile
import threading
from collections import Counter
from pathlib import Path

from awssignin.engine import Detection as EngineDetection
from awssignin.engine import union_of_sources
from awssignin.normalize import BadRecord, from_cloudtrail

from ..geoip import enrich_view
from ..splunk.appbuild import stanza_name
from ..splunk.macros import MacroError, load_macros
from ..splunk.runner import RunnerError, SplunkLocalRunner
from . import elastic as tuned_elastic
from . import splunk as tuned_splunk
from .localconf import read_conf

PARAMETERS_LABEL = "parameters"


# -- per-entry predicates on each platform's view of a record -------------------------------------

class EntryFilter(object):
    """The entries of one detection on one platform: ``matching(record)`` -> the entries that
    match the platform's view of the record (its field view or ECS document)."""

    def __init__(self, platform, entries):
        self.platform = platform
        self.entries = list(entries)
        self.enrich = None
        if platform == "splunk":
            from ..splunk.spl import compile_iplocation, compile_search
            self.tests = [(e, compile_search(tuned_splunk.entry_search(e))) for e in self.entries]
            if any(e.countries for e in self.entries):
                # a country entry reads the Country field the saved search's iplocation stage adds
                self.enrich = compile_iplocation("sourceIPAddress")
        elif platform == "elastic":
            self.tests = [(e, tuned_elastic.entry_matcher(e)) for e in self.entries]
        else:
            raise ValueError("unknown platform %r" % platform)

    def view(self, record):
        """The platform's view of ``record``, or None when the platform could not read it (the
        runner then reports the record itself)."""
        if self.platform == "splunk":
            from ..splunk.fieldview import FieldViewError, field_view
            try:
                fields = field_view(record)
            except FieldViewError:
                return None
            if self.enrich is not None:
                self.enrich(fields)
            return fields
        from ..elastic.ecs import EcsMappingError, to_ecs
        try:
            return to_ecs(record)
        except (EcsMappingError, ValueError, TypeError):
            return None

    def matching(self, record, view=None):
        if not self.tests:
            return []
        view = self.view(record) if view is None else view
        if view is None:
            return []
        return [e for e, test in self.tests if test(view)]


def _accepts(spec):
    """``accepts(record, view=None)``: the detection's logic accepts the record (``view``: its
    sign-in view when the caller has it)."""
    engine_det = EngineDetection(spec)

    def accepts(record, view=None):
        try:
            # the view with source_country from the GeoIP database in use, as the runs see it
            return bool(engine_det.match(enrich_view(view if view is not None else from_cloudtrail(record))))
        except BadRecord:
            return False
    return accepts


def _alert_key(alert):
    return (tuple(sorted((k, str(v)) for k, v in alert["group"].items())), tuple(sorted(alert["event_ids"])))


def _event_id(record):
    return record.get("eventID") if isinstance(record, dict) else None


# -- awssignin test --tuning ----------------------------------------------------------------------

class TestRunTuning(object):
    """The tuned run of each test, beside the untuned one the test's expectations are checked on.
    ``rows``: one per (detection, test, platform) the tuning changed."""

    __test__ = False          # not a pytest test class, whatever its name

    def __init__(self, layout, tuning, detections):
        self.layout = layout
        self.tuning = tuning
        self.detections = detections
        self.lock = threading.Lock()
        self.rows = []
        self.events = Counter()        # (platform, entry label) -> events removed
        self.alerts = Counter()        # (platform, entry label) -> alerts removed
        self._scratch = tempfile.TemporaryDirectory(prefix="awssignin-tuning-")
        self.local_dir = Path(self._scratch.name) / "local"
        tuned_splunk.write_local(tuning, detections, self.local_dir)

    def close(self):
        self._scratch.cleanup()

    def runner(self, platform):
        if platform == "splunk":
            return TunedSplunkRunner(self.layout, self.local_dir)
        from ..elastic.runner import ElasticLocalRunner
        return ElasticLocalRunner(self.layout)

    def run(self, platform, runner, detection, test, records, baseline):
        """Run the tuned variant; record what it removed; return the tuned alerts."""
        if not self.tuning.tunes(detection.id):
            return baseline
        entries = self.tuning.entries_for(detection.id)
        test_params = dict(test.get("params") or {})
        tuned_params = self.tuning.params_for(detection.id)
        filt = EntryFilter(platform, entries)
        accepts = _accepts(detection.engine_spec())
        removed_by = {}
        kept = []
        for record in records:
            hits = filt.matching(record)
            if hits and accepts(record):
                for e in hits:
                    removed_by.setdefault(e.label, set()).add(_event_id(record))
            if platform == "elastic" and hits:
                continue           # the exception filter keeps the document out of the rule's search
            kept.append(record)
        if platform == "splunk":
            # the tuned search carries the tuning's options; a test's own params still apply on top
            # of what the tuning leaves alone
            params = dict((k, v) for k, v in test_params.items() if k not in tuned_params)
            alerts = runner.run(detection, kept, params or None)
        else:
            params = dict(test_params)
            params.update(tuned_params)
            alerts = runner.run(detection, kept, params or None)
        self._record(platform, detection, test, baseline, alerts, removed_by)
        return alerts

    def _record(self, platform, detection, test, baseline, tuned, removed_by):
        tuned_keys = set(_alert_key(a) for a in tuned)
        gone = [a for a in baseline if _alert_key(a) not in tuned_keys]
        alerts_by = Counter()
        for alert in gone:
            ids = set(alert["event_ids"])
            labels = [label for label, removed in removed_by.items() if ids & removed]
            for label in labels or [PARAMETERS_LABEL]:
                alerts_by[label] += 1
        with self.lock:
            for label, ids in removed_by.items():
                self.events[(platform, label)] += len(ids)
            for label, n in alerts_by.items():
                self.alerts[(platform, label)] += n
            if removed_by or gone or len(tuned) != len(baseline):
                self.rows.append((detection.id, test["name"], platform, len(baseline), len(tuned),
                                  dict((k, len(v)) for k, v in removed_by.items()), dict(alerts_by)))


class TunedSplunkRunner(SplunkLocalRunner):
    """The local Splunk runner over the tuned app: the compiled ``local_dir`` layered on the shipped
    default/ (macros key by key; the tuned stanza's ``search`` hides the shipped one)."""

    def __init__(self, layout, local_dir):
        SplunkLocalRunner.__init__(self, layout)
        self.local_dir = Path(local_dir)

    def macros(self):
        if self._macros is None:
            layers = [str(self.macros_conf)]
            if (self.local_dir / "macros.conf").is_file():
                layers.append(str(self.local_dir / "macros.conf"))
            try:
                self._macros = load_macros(layers)
            except MacroError as err:
                raise RunnerError(str(err))
        return self._macros

    def search_text(self, detection):
        shipped = SplunkLocalRunner.search_text(self, detection)   # still checks the shipped conf
        local = read_conf(str(self.local_dir / "savedsearches.conf"))
        return local.get(stanza_name(detection), {}).get("search", shipped)


def summary_rows(counter_events, counter_alerts):
    """[(platform, entry, events removed, alerts removed)] sorted."""
    keys = sorted(set(counter_events) | set(counter_alerts))
    return [(p, label, counter_events.get((p, label), 0), counter_alerts.get((p, label), 0)) for p, label in keys]


# -- replay --tuning ------------------------------------------------------------------------------

class TunedProcessor(object):
    """One platform's replay processors, one per distinct allowlist (detections that share their
    entries share a processor), each behind its platform's allowlist filter. ``stats`` adds, per
    entry and detection, the events the entry removed."""

    def __init__(self, platform, make, layout, detections, overrides, rest, tuning):
        self.platform = platform
        merged = {}
        for det in detections:
            params = tuning.params_for(det.id)
            params.update((overrides or {}).get(det.id, {}))   # a command-line flag wins over the file
            if params:
                merged[det.id] = params
        lanes = {}
        for det in detections:
            key = tuple(e.label for e in tuning.entries_for(det.id))
            lanes.setdefault(key, []).append(det)
        self.lanes = []
        for key, dets in lanes.items():
            lane_overrides = dict((d.id, merged[d.id]) for d in dets if d.id in merged) or None
            proc = make(platform, layout, dets, lane_overrides, *rest)
            filt = EntryFilter(platform, tuning.entries_for(dets[0].id))
            # eventSource values the lane's detections read: other records cannot matter to them, so
            # they skip the platform view the filter would build
            sources = union_of_sources(EngineDetection(d.engine_spec()).event_sources for d in dets)
            self.lanes.append((proc, filt, sources, [(d.id, _accepts(d.engine_spec())) for d in dets]))
        self.removed = Counter()

    def feed_record(self, record, view=None):
        alerts = []
        source = record.get("eventSource") if isinstance(record, dict) else None
        for proc, filt, sources, accepts in self.lanes:
            hits = filt.matching(record) if filt.tests and (sources is None or source in sources) else ()
            if hits:
                for det_id, accept in accepts:
                    if accept(record, view):
                        for e in hits:
                            self.removed[(e.label, det_id)] += 1
                continue
            alerts.extend(proc.feed_record(record, view))
        return alerts

    def finish(self):
        alerts = []
        for proc, _, _, _ in self.lanes:
            alerts.extend(proc.finish())
        return alerts

    @property
    def stats(self):
        out = Counter()
        for proc, _, _, _ in self.lanes:
            for key, value in getattr(proc, "stats", {}).items():
                out[key] += value
        for (label, det_id), n in sorted(self.removed.items()):
            out["allowlist %s removed events of %s" % (label, det_id)] = n
        return dict(out)


def replay_processor_factory(tuning, make):
    """Replay's ``make(platform, layout, detections, overrides, *rest)`` (``replay.platform_processor``)
    wrapped with the tuning: the same call gives a TunedProcessor."""
    def factory(platform, layout, detections, overrides, *rest):
        return TunedProcessor(platform, make, layout, detections, overrides, rest, tuning)
    return factory
