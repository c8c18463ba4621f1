"""The Elastic local runner: each detection's Kibana rule evaluated over CloudTrail records the way
Kibana runs it, producing alerts in the DESIGN.md schema with platform "elastic".

Per record: the ECS document Elastic's AWS integration indexes (``ecs.to_ecs``), then per rule its
query (``kql.compile_kql``, or ``eql.compile_eql`` with the rule's category field and the index
mapping) and the rule type's semantics, with the rule exactly as ``rules.kibana_rule`` exports it
(overrides go through the same function, so they change threshold and look-back the way the
exported rule changes).

Choices, and the facts they rest on:
- Documents. One per record delivered. The CloudTrail ingest pipeline (elastic/integrations
  packages/aws/data_stream/cloudtrail, default.yml at 0046748 and bf3be6b) has no fingerprint and
  never sets ``_id``; the aws-s3 input that feeds it sets ``_id`` to a hash of the S3 bucket ARN and
  object key plus the record's offset in the object (elastic/beats x-pack/filebeat/input/awss3,
  s3_objects.go ``createEvent``/``objectID``; an integrations maintainer notes that this ``_id``
  does not catch the same content in two files, elastic/integrations#5668). A record that two
  trails deliver sits in two S3 objects, so without help it is indexed twice. The project ships the
  ingest pipeline ``logs-aws.cloudtrail@custom`` (harness/elastic/pipeline.py) that fingerprints
  ``event.id`` into ``_id``, so the second copy is rejected; the runner models that pipeline as
  installed (``dedup_pipeline=False`` reproduces an installation without it).
- Time. Rules use ``timestamp_override: event.ingested``. In the simulation records are indexed as
  they occur: ``event.ingested`` = ``@timestamp`` (= eventTime). So a document is found by the run
  whose window holds its eventTime, and "late" means out of order in the input, not slow ingest.
- query and single-event EQL: one alert per matching document (Kibana's alert id derives from the
  document, so the overlapping look-back never alerts twice on it), raised as soon as the record
  is fed; group = ``elastic.group_fields`` read from the document; event_ids = [event.id]. The per-run
  ``max_signals`` cap is not applied to these rules (a run with more than 100 matches would drop the
  rest in Kibana).
- threshold, EQL sequence, new_terms: Kibana's runs simulated by ``schedule.py`` (runs anchored at
  multiples of the interval since the epoch, signal history, de-duplicated sequences, history
  window). Threshold alerts of one group from successive runs are merged into one burst alert when
  their documents are within the detection window of each other (``schedule.py`` explains why);
  ``count`` is the number of documents Kibana counted, ``event_ids`` the distinct eventIDs.
- EQL sequence alerts: Kibana's shell alert holds the fields all building blocks share, so a group
  field whose value differs between members is null.

Streaming. A record whose ``eventSource`` and ``eventName`` no rule's query pins (``event.provider``
and ``event.action`` in a top-level conjunct, read from the KQL/EQL parse trees) costs a dict lookup:
it is never mapped to ECS, and a rule only sees the documents its pins allow. A rule that does not
pin the provider gets every record. Per-document rules keep no state; the simulated
rules keep only their windows' documents, and with ``max_lateness`` their runs execute once the input
has moved that many seconds past them (without it, at ``finish()``).
"""

import itertools

from awssignin.engine import checked_overrides
from awssignin.timeutil import MAX_EPOCH, format_time, parse_duration, parse_time

from . import eql, kql, mapping, querygen, rules
from .ecs import EcsMappingError, get_field, to_ecs
from .eqlparse import And, Compare, Field, InSet, Literal, Or
from .schedule import (BurstMerger, NewTermsRuns, Schedule, SequenceRuns, ThresholdRuns,
                       parse_lookback)

PLATFORM = "elastic"
# seconds of event time an indexed eventID is remembered: copies from several trails arrive within
# CloudTrail's delivery delay of each other (a rollover forgets too)
DEDUP_HORIZON = 3600
DEDUP_PRUNE_AT = 100000
ACTION_CACHE = 4096  # (eventSource, eventName) pairs whose rule lists are kept
PROVIDER = "event.provider"
ACTION = "event.action"  # eventName, verbatim (ecs.py): pinned like the provider


# -- which event.provider values a query pins ----------------------------------------------------

def kql_providers(node, field=PROVIDER):
    """The event.provider (or ``field``) values a KQL tree requires (a frozenset), or None when it does
    not pin them.

    Conservative: anything but exact keyword terms in and/or (wildcards, not, ranges) is "not pinned".
    """
    if node.op == "is":
        name, value = node.args
        if (isinstance(name, kql.Literal) and name.value == field
                and isinstance(value, kql.Literal) and isinstance(value.value, str)):
            return frozenset([value.value])
        return None
    if node.op == "and":
        pinned = None
        for child in node.args:
            values = kql_providers(child, field)
            if values is not None:
                pinned = values if pinned is None else pinned & values
        return pinned
    if node.op == "or":
        union = frozenset()
        for child in node.args:
            values = kql_providers(child, field)
            if values is None:
                return None
            union |= values
        return union
    return None


def _pinned_field(node, field):
    return isinstance(node, Field) and node.name == field


def _string_literal(node):
    return isinstance(node, Literal) and isinstance(node.value, str)


def eql_condition_providers(node, field=PROVIDER):
    """Like ``kql_providers`` for an EQL condition: ``==`` and ``in`` are case-sensitive exact
    matches in Elasticsearch; ``:``, ``in~`` and patterns are not pinned."""
    if isinstance(node, Compare) and node.op == "==":
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if _pinned_field(a, field) and _string_literal(b):
                return frozenset([b.value])
        return None
    if (isinstance(node, InSet) and not node.negated and not node.insensitive
            and _pinned_field(node.expr, field) and node.values and all(_string_literal(v) for v in node.values)):
        return frozenset(v.value for v in node.values)
    if isinstance(node, And):
        left, right = eql_condition_providers(node.left, field), eql_condition_providers(node.right, field)
        if left is None or right is None:
            return left if right is None else right
        return left & right
    if isinstance(node, Or):
        left, right = eql_condition_providers(node.left, field), eql_condition_providers(node.right, field)
        if left is None or right is None:
            return None
        return left | right
    return None


def eql_providers(query, field=PROVIDER):
    """For a parsed EQL query: the event query's pins, or the union over a sequence's stages (and
    ``until``), since a document matters when it can match any of them."""
    if query.kind == "event":
        return eql_condition_providers(query.event.condition, field)
    union = frozenset()
    for stage in list(query.stages) + ([query.until] if query.until is not None else []):
        values = eql_condition_providers(stage.filter.condition, field)
        if values is None:
            return None
        union |= values
    return union


# -- overrides ----------------------------------------------------------------------------------

def checked_params(detection, params):
    """Threshold/window overrides of one detection, validated exactly as the engine validates them."""
    return checked_overrides(detection.id, detection.data["logic"], params) or None


# -- one rule -----------------------------------------------------------------------------------

def _values(doc, field):
    """A field's values as a list of distinct hashable values (terms aggregations see each one)."""
    value = get_field(doc, field)
    if value is None:
        return []
    if not isinstance(value, list):
        return [value]
    out = []
    for v in value:
        if v is not None and not isinstance(v, (dict, list)) and v not in out:
            out.append(v)
    return out


def _combinations(doc, fields):
    """Term tuples of a document over ``fields``: none when a field is missing, one per combination
    of values when fields are multi-valued, ``[()]`` for no fields."""
    per_field = []
    for f in fields:
        values = _values(doc, f)
        if not values:
            return []
        per_field.append(values)
    return list(itertools.product(*per_field))


class ElasticRule(object):
    """One detection's Kibana rule compiled for local evaluation, with its run simulation."""

    def __init__(self, detection, params=None):
        params = checked_params(detection, params)
        data = detection.data
        rule = self.rule = rules.kibana_rule(detection, params)
        logic = rules.effective_logic(detection, params)
        self.id = data["id"]
        self.meta = {
            "detection": data["id"],
            "title": data["title"],
            "severity": data["severity"],
            "risk_score": data["risk_score"],
            "mitre": [m["technique"] for m in data["mitre"]],
            "platform": PLATFORM,
        }
        group_fields = data["elastic"]["group_fields"]
        self.group = [(name, group_fields[name]) for name in logic["group_by"]]
        self.user_from_document = bool(data["elastic"].get("user_from_document"))
        self.type = rule["type"]
        self.max_signals = rule.get("max_signals", rules.MAX_SIGNALS)
        self.schedule = Schedule.of_rule(rule)
        self.sim = None
        self.merger = None
        self.match = None
        self.kind = self.type
        if rule["language"] == "eql":
            compiled = eql.compile_eql(rule["query"],
                                       category_field=rule.get("event_category_override", "event.category"),
                                       field_type=mapping.field_type)
            self.providers = eql_providers(compiled.query)
            self.actions = eql_providers(compiled.query, ACTION)
            if compiled.is_sequence:
                self.kind = "sequence"
                timestamp_field = rule.get("timestamp_field", "@timestamp")
                tiebreaker = rule.get("tiebreaker_field")
                # documents are never changed once fed (indexed), so the evaluator may keep what it
                # read from them between runs
                self.sim = SequenceRuns(self.schedule,
                                        lambda docs: compiled.run(docs, timestamp_field, tiebreaker, cache=True),
                                        self.max_signals)
                # a document no stage (nor the until term) matches is in no sequence: not kept
                tests = compiled.stage_matchers() + compiled.until_matchers()
                self.stage_match = lambda doc: any(t(doc) for t in tests)
            else:
                self.match = compiled.match
        else:
            self.match = kql.compile_kql(rule["query"])
            tree = kql.parse(rule["query"])
            self.providers = kql_providers(tree)
            self.actions = kql_providers(tree, ACTION)
        if self.type == "threshold":
            threshold = rule["threshold"]
            fields = threshold.get("field") or []
            self.threshold_fields = [fields] if isinstance(fields, str) else list(fields)
            cardinality = threshold.get("cardinality") or []
            # Kibana reads only the first cardinality entry
            self.cardinality_field = cardinality[0]["field"] if cardinality else None
            self.sim = ThresholdRuns(self.schedule, threshold["value"],
                                     cardinality[0]["value"] if cardinality else None, self.max_signals)
            self.merger = BurstMerger(parse_duration(logic["window"]))
        elif self.type == "new_terms":
            self.new_terms_fields = list(rule["new_terms_fields"])
            self.sim = NewTermsRuns(self.schedule, parse_lookback(rule["history_window_start"]),
                                    self.max_signals)

    # -- feeding --------------------------------------------------------------------------------
    def feed(self, doc, ts, serial):
        """One document (``ts`` its timestamp in epoch seconds). Returns per-document alerts."""
        kind = self.kind
        if kind == "sequence":
            if self.stage_match(doc):
                self.sim.add(ts, serial, doc)
            return []
        if not self.match(doc):
            return []
        if kind == "threshold":
            distinct = _values(doc, self.cardinality_field) if self.cardinality_field else ()
            self.sim.add(ts, get_field(doc, "event.id"), _combinations(doc, self.threshold_fields), distinct)
            return []
        if kind == "new_terms":
            self.sim.add(ts, serial, _combinations(doc, self.new_terms_fields), doc)
            return []
        return [self._alert([doc], [ts], self._doc_group(doc))]

    def advance(self, upto):
        """Execute the simulated runs at or before ``upto``; returns the alerts they close."""
        if self.sim is None:
            return []
        return self._collect(self.sim.advance(upto), final=False)

    def finish(self):
        if self.sim is None:
            return []
        return self._collect(self.sim.finish(), final=True)

    @property
    def late(self):
        return self.sim.late if self.sim is not None else 0

    @property
    def runs(self):
        return self.sim.runs if self.sim is not None else 0

    # -- alerts ---------------------------------------------------------------------------------
    def _collect(self, produced, final):
        kind = self.kind
        if kind == "threshold":
            bursts = []
            for run_alert in produced:
                bursts.extend(self.merger.add(run_alert))
            bursts.extend(self.merger.finish() if final else self.merger.close_before(self.sim.horizon()))
            return [self._burst_alert(b) for b in bursts]
        if kind == "sequence":
            return [self._sequence_alert(members) for _, members in produced]
        # new_terms: one alert per new value, on its first document in the window
        return [self._alert([item.doc], [item.ts], self._doc_group(item.doc)) for _, _, item in produced]

    def _doc_group(self, doc):
        group = dict((name, get_field(doc, field)) for name, field in self.group)
        if self.user_from_document:
            group["user"] = querygen.alert_user(lambda field: get_field(doc, field))
        return group

    def _burst_alert(self, burst):
        values = dict(zip(self.threshold_fields, burst.key))
        # a threshold alert carries only the threshold fields' values
        group = dict((name, values.get(field)) for name, field in self.group)
        ids = list(dict.fromkeys(d.event_id for d in burst.docs))  # distinct, in order
        alert = dict(self.meta)
        alert.update(first_seen=format_time(burst.first), last_seen=format_time(burst.last),
                     group=group, count=len(burst.docs), event_ids=ids)
        return alert

    def _sequence_alert(self, members):
        group = {}
        for name, field in self.group:
            values = [get_field(m.doc, field) for m in members]
            group[name] = values[0] if all(v == values[0] for v in values) else None
        return self._alert([m.doc for m in members], [m.ts for m in members], group)

    def _alert(self, docs, stamps, group):
        ids = []
        for doc in docs:
            eid = get_field(doc, "event.id")
            if eid not in ids:
                ids.append(eid)
        alert = dict(self.meta)
        alert.update(first_seen=format_time(min(stamps)), last_seen=format_time(max(stamps)),
                     group=group, count=len(docs), event_ids=ids)
        return alert


# -- every rule over a stream -------------------------------------------------------------------

MEMO_KEY = "elastic document"


def _indexed_document(record):
    """``(document, @timestamp in epoch seconds)`` as indexed, or the EcsMappingError. Never changed
    after this (rules only read documents), so processors may share it."""
    try:
        doc = to_ecs(record)
    except EcsMappingError as err:
        return err
    # indexed as it occurs: Fleet's final pipeline would stamp the indexing time
    doc["event"]["ingested"] = doc["@timestamp"]
    return doc, _timestamp_seconds(doc["@timestamp"])


def _timestamp_seconds(stamp):
    """``parse_time(stamp)`` for the @timestamp ecs.py writes (yyyy-MM-ddTHH:mm:ss.SSSZ): the whole
    seconds through parse_time's cached-day path (the fractional form takes its regular expression),
    the fraction added as parse_time adds it (int + float, one rounding), so the value is the same."""
    if len(stamp) == 24 and stamp[19] == "." and stamp[23] == "Z":
        ts = parse_time(stamp[:19] + "Z") + float(stamp[19:23])
        if ts < MAX_EPOCH:
            return ts
    return parse_time(stamp)


class ElasticRules(object):
    """Every detection's Kibana rule over a stream of raw CloudTrail records (``replay``).

    ``overrides``: ``{detection_id: {"threshold": n, "window": "15m"}}``. ``max_lateness``: seconds
    of disorder tolerated before a simulated run executes (None: runs execute at ``finish()``).
    ``strict``: raise on a record that cannot be mapped to ECS instead of counting it.
    """

    def __init__(self, detections, overrides=None, max_lateness=None, strict=False, dedup_pipeline=True,
                 per_record=None):
        overrides = overrides or {}
        # replay's PerRecord (harness/replay.py): its ``current`` dict is the record being fed's memo,
        # shared by every processor of the run, so a record is mapped to ECS once for all lanes
        self.per_record = per_record
        known = set(d.id for d in detections)
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError("overrides name unknown detections: %s" % ", ".join(unknown))
        self.rules = [ElasticRule(d, overrides.get(d.id)) for d in detections]
        self.scheduled = [r for r in self.rules if r.sim is not None]
        self.max_lateness = max_lateness
        self.strict = strict
        unpinned = [r for r in self.rules if r.providers is None]
        self.unpinned = unpinned
        # eventSource -> the rules that can match it, in detection order
        by_source = {}
        for source in sorted(set().union(*[r.providers for r in self.rules if r.providers is not None])):
            by_source[source] = [r for r in self.rules if r.providers is None or source in r.providers]
        self.by_source = by_source
        self.by_action = {}   # (eventSource, eventName) -> the rules of that source whose query can hold
        self.newest = None
        self.serial = 0
        self.counts = {"records": 0, "documents": 0, "not mapped (no rule reads the eventSource and eventName)": 0,
                       "copies rejected by the dedup pipeline": 0}
        # eventID -> @timestamp of the indexed copy, while the awssignin ingest pipeline is modelled
        self.dedup_pipeline = dedup_pipeline
        self.indexed = {}
        self.prune_at = DEDUP_PRUNE_AT

    @property
    def stats(self):
        out = dict(self.counts)
        out["late"] = sum(r.late for r in self.scheduled)
        out["rule runs simulated"] = sum(r.runs for r in self.scheduled)
        return out

    def feed_record(self, record, view=None):
        """One raw CloudTrail record; returns the alerts it completes. (``view``, the engine's sign-in
        view that replay passes to every platform, is not used: the rules read the ECS document.)"""
        counts = self.counts
        counts["records"] += 1
        source = record.get("eventSource") if isinstance(record, dict) else None
        targets = self.by_source.get(source, self.unpinned) if isinstance(source, str) else self.unpinned
        name = record.get("eventName")
        if targets and isinstance(name, str):
            # event.action is eventName verbatim (ecs.py), so a rule pinning other actions cannot match
            key = (source, name)
            narrowed = self.by_action.get(key)
            if narrowed is None:
                narrowed = [r for r in targets if r.actions is None or name in r.actions]
                if len(self.by_action) < ACTION_CACHE:
                    self.by_action[key] = narrowed
            targets = narrowed
        if not targets:
            counts["not mapped (no rule reads the eventSource and eventName)"] += 1
            return []
        memo = self.per_record.current if self.per_record is not None else None
        mapped = memo.get(MEMO_KEY) if memo is not None else None
        if mapped is None:
            mapped = _indexed_document(record)
            if memo is not None:
                memo[MEMO_KEY] = mapped
        if isinstance(mapped, EcsMappingError):
            if self.strict:
                raise mapped
            key = "unmappable (%s)" % mapped.field
            counts[key] = counts.get(key, 0) + 1
            return []
        doc, ts = mapped
        if self.dedup_pipeline and self._rejected(doc["event"].get("id"), ts):
            counts["copies rejected by the dedup pipeline"] += 1
            return []
        counts["documents"] += 1
        self.serial += 1
        alerts = []
        for rule in targets:
            alerts.extend(rule.feed(doc, ts, self.serial))
        if self.newest is None or ts > self.newest:
            self.newest = ts
        if self.max_lateness is not None and self.scheduled:
            upto = self.newest - self.max_lateness
            for rule in self.scheduled:
                # a rule with no run due executes nothing, and its burst horizon has not moved since
                # its last run, so its advance would return nothing
                due = rule.sim.next_run
                if due is not None and due <= upto:
                    alerts.extend(rule.advance(upto))
        return alerts

    def _rejected(self, event_id, ts):
        """True for a second copy of an indexed eventID: with harness/elastic/pipeline.py installed its
        ``_id`` conflicts. Ids are remembered for DEDUP_HORIZON of event time (a rollover forgets too)."""
        if event_id is None:
            return False
        if event_id in self.indexed:
            return True
        self.indexed[event_id] = ts
        if len(self.indexed) > self.prune_at:
            floor = max(self.indexed.values()) - DEDUP_HORIZON
            self.indexed = dict((k, v) for k, v in self.indexed.items() if v >= floor)
            # amortised: when most ids are still within the horizon, wait until the set has doubled
            self.prune_at = max(DEDUP_PRUNE_AT, 2 * len(self.indexed))
        return False

    def finish(self):
        """Execute the remaining runs and close open bursts; returns the remaining alerts."""
        alerts = []
        for rule in self.scheduled:
            alerts.extend(rule.finish())
        return alerts


class ElasticLocalRunner(object):
    """The test harness's Elastic runner: one detection over one test's fixture records."""

    def __init__(self, layout):
        self.layout = layout

    def run(self, detection, records, params=None):
        overrides = {detection.id: params} if params else None
        engine = ElasticRules([detection], overrides, strict=True)
        alerts = []
        for record in records:
            alerts.extend(engine.feed_record(record))
        alerts.extend(engine.finish())
        return alerts
