"""Kibana detection rules generated from detection files, and ``dist/elastic/rules.ndjson``.

``kibana_rule(detection)`` turns one detection file into the rule object Kibana's import API takes;
the rule's type, query and fields were generated from ``logic`` when the file was loaded
(harness/elastic/querygen.py, through harness/generate.py), or its query hand-written with a reason;
the ``@distributable`` ``elastic_rules`` writes every rule to ``dist/elastic/rules.ndjson`` (one rule
a line, sorted by rule_id, no ``export_details`` line), which ``awssignin deploy elastic`` imports.

Where the values come from
- ``rule_id``: uuid5 of the detection id in a fixed project namespace, so it never changes while the
  id does not (import with overwrite matches on it).
- ``version``: the detection's version in ``detections/versions.lock.json`` (harness/versions.py),
  which rises whenever the detection's shipped content changes, so a deploy can tell an upgrade from
  a re-import. Kibana treats ``version`` of a custom rule as informational (its own ``revision``
  counts edits); an overwrite import replaces the rule whatever the version.
- thresholds and windows: only from ``logic`` (optionally overridden by a test's ``params``), never
  from the ``elastic`` section. An EQL sequence writes ``with maxspan={window}``; ``elastic_query``
  substitutes ``logic.window`` (a literal maxspan is an error, it would drift from ``logic``).
- schedule (``interval``, ``from``, ``to: now``), derived in ``schedule()``:
  * per-event rules (query, single-event EQL, new_terms): every 5m looking back 6m, Elastic's
    default (1m of additional look-back absorbs late runs; Kibana never alerts twice on a document);
  * threshold rules (logic threshold/distinct): Kibana counts what falls inside one run's
    [from, now], a fixed window, not a sliding one. The look-back is exactly the detection's window W,
    so Kibana never alerts on a burst longer than W (the tests' "just outside the window" cases hold
    on both platforms); the price is that a burst spanning more than W - interval can straddle two
    runs and be missed. The interval is W/10 rounded down to whole minutes, between 1m and 5m, so at
    most the last tenth of the window (or the last minute) is at risk;
  * EQL sequences: ``maxspan`` bounds the span, so the run window may be wider without changing what
    matches; it must hold a whole sequence wherever runs fall: to - from = W + interval + 1m. The
    interval is max(5m, W/2 rounded up to minutes), Elastic's rule for sequences (detection-rules
    requires interval >= maxspan/2 when maxspan > 2.5m, and (to - from) + 10m >= maxspan).
- ``timestamp_override: event.ingested`` on every rule but EQL sequences (Elastic's convention).
- ``threat`` and ``Tactic:`` tags from ``mitre`` via harness/elastic/attack.py.
- ``required_fields``: every field the query reads (harness/elastic/kql.py, eql.py
  ``fields_referenced``) plus the threshold, cardinality, new-terms and EQL override fields, typed by
  the ECS mapping (harness/elastic/mapping.py ``field_type``); an unmapped field is an error, because
  KQL silently matches nothing on it and EQL fails at run time.
- ``setup``: how to install the de-duplicating ingest pipeline (harness/elastic/pipeline.py).
- threshold rules also require ``event.id`` cardinality >= the threshold, so copies of one event
  delivered by several trails count once even without that pipeline.
- ``enabled: false``: users enable rules deliberately (``awssignin deploy elastic --enable``).
"""

import json
import re
import uuid
from pathlib import Path

import jsonschema

from awssignin.timeutil import format_duration, parse_duration

from . import attack, pipeline, querygen
from ..build import distributable, write_atomic
from .. import versions

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "kibana_rule.schema.json"

# uuid5(NAMESPACE_URL, "https://awssignin.invalid/detections"), written out so it can never change.
RULE_ID_NAMESPACE = uuid.UUID("d16a6846-9e2e-5463-83d1-8f2f78142a98")

AUTHOR = ["awssignin"]
LICENSE = "Apache-2.0"
MAX_SIGNALS = 100
# Informational in Kibana (shows whether the integration is installed). The version is a caret
# range, the form Kibana 8.19's rule editor accepts. harness/elastic/ecs.py reproduces the 8.9.0
# pipeline; 8.9.0 changed only AWS-service actors and entity fields against 8.8.0 (its changelog),
# none of which a rule reads, so the range starts at 8.8.0, a released version.
RELATED_INTEGRATIONS = [{"package": "aws", "integration": "cloudtrail", "version": "^8.8.0"}]
BASE_TAGS = [
    "Domain: Cloud",
    "Data Source: AWS",
    "Data Source: Amazon Web Services",
    "Data Source: AWS Sign-In",
    "Use Case: Identity and Access Audit",
]
GUIDE_TAG = "Resources: Investigation Guide"
BUILDING_BLOCK_TAG = "Rule Type: BBR"

EVENT_INTERVAL = 300        # per-event rules run every 5m ...
DRIFT = 60                  # ... with 1m of additional look-back for late runs
MIN_INTERVAL = 60           # Kibana's default minimum schedule interval
THRESHOLD_MAX_INTERVAL = 300

_WINDOW_PLACEHOLDER = "{window}"
_LITERAL_MAXSPAN = re.compile(r"maxspan\s*=\s*[0-9]")


def rule_id(detection_id):
    """The stable Kibana rule_id of a detection id."""
    return str(uuid.uuid5(RULE_ID_NAMESPACE, detection_id))


def effective_logic(detection, params=None):
    """``logic`` with a test's ``params`` (threshold, window) applied."""
    logic = dict(detection.data["logic"])
    for key, value in (params or {}).items():
        if key not in logic:
            raise detection.error("logic", "a %s detection has no %s to override" % (logic["type"], key))
        logic[key] = value
    return logic


def _window_seconds(detection, logic):
    try:
        return parse_duration(logic["window"])
    except ValueError as err:
        raise detection.error("logic.window", str(err))


def schedule(detection, params=None):
    """{"interval", "from", "to"} for the rule (derivation in the module docstring)."""
    logic = effective_logic(detection, params)
    kind = logic["type"]
    if kind == "event":
        interval = EVENT_INTERVAL
        lookback = interval + DRIFT
    elif kind in ("threshold", "distinct"):
        window = _window_seconds(detection, logic)
        interval = min(THRESHOLD_MAX_INTERVAL, max(MIN_INTERVAL, window // 10 // 60 * 60))
        lookback = window
    elif kind == "new_terms":
        # per document, like a query rule; the history reaches back logic.window (history_window_start)
        interval = EVENT_INTERVAL
        lookback = interval + DRIFT
    elif kind == "sequence":
        window = _window_seconds(detection, logic)
        interval = max(EVENT_INTERVAL, -(-window // 120) * 60)  # ceil(window / 2) in whole minutes
        lookback = window + interval + DRIFT
    else:
        raise detection.error("logic.type", "no Kibana schedule for logic type %r" % kind)
    return {"interval": format_duration(interval), "from": "now-" + format_duration(lookback), "to": "now"}


def _is_sequence(text):
    return text.lstrip().startswith("sequence")


def query_field(detection):
    """Where a problem with the rule's query is to be fixed: the file's hand-written override, or
    (a generated query) the logic it was generated from."""
    authored = getattr(detection, "authored", None) or detection.data
    return "elastic.override.query" if (authored.get("elastic") or {}).get("override") else "logic"


def elastic_query(detection, params=None):
    """The rule's query text: ``elastic.query`` with ``{window}`` replaced by ``logic.window``."""
    elastic = detection.data["elastic"]
    logic = effective_logic(detection, params)
    text = elastic["query"]
    sequence = elastic["language"] == "eql" and _is_sequence(text)
    if sequence and logic["type"] != "sequence":
        raise detection.error(query_field(detection), "an EQL sequence needs logic.type sequence, not %s" % logic["type"])
    if logic["type"] == "sequence" and not sequence:
        raise detection.error(query_field(detection), "a sequence detection needs an EQL `sequence` query")
    if sequence:
        if _LITERAL_MAXSPAN.search(text):
            raise detection.error(query_field(detection), "write `with maxspan=%s`: the window comes from logic.window"
                                  % _WINDOW_PLACEHOLDER)
        if _WINDOW_PLACEHOLDER not in text:
            raise detection.error(query_field(detection), "an EQL sequence needs `with maxspan=%s` (filled from logic.window)"
                                  % _WINDOW_PLACEHOLDER)
    if _WINDOW_PLACEHOLDER in text:
        if "window" not in logic:
            raise detection.error(query_field(detection), "uses %s but a %s detection has no window"
                                  % (_WINDOW_PLACEHOLDER, logic["type"]))
        text = text.replace(_WINDOW_PLACEHOLDER, format_duration(_window_seconds(detection, logic)))
    return text


def _prose(text):
    """Re-flow YAML-wrapped prose: lines of a paragraph joined, paragraphs kept apart."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n\n".join(" ".join(p.split()) for p in paragraphs)


def _distinct_field(detection, logic):
    """The ECS field of the distinct count (generated from logic.distinct, harness/elastic/querygen.py)."""
    return detection.data["elastic"]["cardinality_field"]


def _threat(detection):
    try:
        return attack.threat(detection.data["mitre"])
    except attack.AttackError as err:
        field = "mitre[%d].technique" % err.index if err.tactic_index is None else \
            "mitre[%d].tactics[%d]" % (err.index, err.tactic_index)
        raise detection.error(field, str(err))


def _query_fields(detection, rule):
    """Fields the query text reads: {name: the detection field to blame if one is unmapped}."""
    # the query modules are imported here, not at the top: they are only needed to build rules
    text = rule["query"]
    parsed = None
    try:
        if rule["language"] == "eql":
            from . import eql

            parsed = eql.parse_eql(text)
            names = set(eql.fields_referenced(text))
        else:
            from . import kql

            names = set(kql.fields_referenced(text))
    except ImportError:
        raise
    except Exception as err:  # a parse error, whatever the parser raised: report it against the query
        raise detection.error(query_field(detection), "cannot read the fields of the %s query: %s" % (rule["language"], err))
    if parsed is not None:
        from .eqlparse import EventFilter, walk

        # `X where` (X not `any`) is a term on the category field
        if any(isinstance(n, EventFilter) and n.category for n in walk(parsed)):
            names.add(rule.get("event_category_override", "event.category"))
        _check_runs(detection, parsed)
    return dict.fromkeys(names, query_field(detection))


def _check_runs(detection, parsed):
    """An EQL sequence's stages must match logic.steps, `with runs=N` included (N = min_count)."""
    steps = detection.data["logic"].get("steps")
    if parsed.kind != "sequence" or not steps:
        return
    if len(parsed.stages) != len(steps):
        raise detection.error(query_field(detection), "the sequence has %d stages but logic.steps has %d"
                              % (len(parsed.stages), len(steps)))
    for i, (stage, step) in enumerate(zip(parsed.stages, steps)):
        if stage.runs != step.get("min_count", 1):
            raise detection.error(query_field(detection), "sequence stage %d has runs=%d but logic.steps[%d].min_count is %d"
                                  % (i + 1, stage.runs, i, step.get("min_count", 1)))


def _required_fields(detection, rule):
    from . import mapping

    sources = _query_fields(detection, rule)
    threshold = rule.get("threshold", {})
    for name in threshold.get("field", []):
        sources.setdefault(name, "elastic.group_fields")
    for c in threshold.get("cardinality", []):
        sources.setdefault(c["field"], "logic.distinct")
    for name in rule.get("new_terms_fields", []):
        sources.setdefault(name, "elastic.new_terms_fields")
    for key in ("event_category_override", "tiebreaker_field"):
        if key in rule:
            sources.setdefault(rule[key], "elastic." + key)
    out = []
    for name in sorted(sources):
        kind = mapping.field_type(name)
        if not kind:
            raise detection.error(sources[name], "the rule reads %s, which is not in the ECS mapping "
                                  "(harness/elastic/mapping.py): a KQL query silently matches nothing on an "
                                  "unmapped field and EQL fails; fix the name or map the field" % name)
        out.append({"name": name, "type": kind})
    return out


def _tags(detection, threat, query):
    tags = list(BASE_TAGS)
    if "iam.amazonaws.com" in query:
        tags.append("Data Source: AWS IAM")
    tags.extend("Tactic: %s" % t["tactic"]["name"] for t in threat)
    if detection.data.get("building_block"):
        tags.append(BUILDING_BLOCK_TAG)
    tags.append(GUIDE_TAG)
    return tags


def kibana_rule(detection, params=None):
    """The Kibana rule (import format) for one DetectionFile; ``params`` overrides threshold/window."""
    data = detection.data
    elastic = data["elastic"]
    logic = effective_logic(detection, params)
    query = elastic_query(detection, params)
    threat = _threat(detection)
    rule = {
        "rule_id": rule_id(data["id"]),
        "name": data["title"],
        "description": _prose(data["description"]),
        "version": versions.version_of(detection),
        "type": elastic["type"],
        "language": elastic["language"],
        "query": query,
        "index": list(querygen.INDEX),
        "risk_score": data["risk_score"],
        "severity": data["severity"],
        "threat": threat,
        "tags": _tags(detection, threat, query),
        "note": elastic["note"].strip() + "\n",
        "false_positives": [_prose(fp) for fp in data["false_positives"]],
        "references": list(data.get("links", [])),
        "related_integrations": [dict(r) for r in RELATED_INTEGRATIONS],
        "author": list(AUTHOR),
        "license": LICENSE,
        "max_signals": MAX_SIGNALS,
        "enabled": False,
    }
    rule.update(schedule(detection, params))
    if logic["type"] != "sequence":
        rule["timestamp_override"] = "event.ingested"
    if data.get("building_block"):
        rule["building_block_type"] = "default"
    rule["setup"] = pipeline.SETUP + ("\n" + elastic["setup"].strip() + "\n" if elastic.get("setup") else "")

    if elastic["type"] == "threshold":
        group = [elastic["group_fields"][name] for name in logic["group_by"]]
        group += [f for f in elastic.get("partition_fields", []) if f not in group]
        if logic["type"] == "distinct":
            # count >= 1 and distinct(field) >= N: the distinct count is the condition
            rule["threshold"] = {"field": group, "value": 1,
                                 "cardinality": [{"field": _distinct_field(detection, logic), "value": logic["threshold"]}]}
        else:
            # distinct event.id too: a copy delivered by a second trail must not count twice
            rule["threshold"] = {"field": group, "value": logic["threshold"],
                                 "cardinality": [{"field": "event.id", "value": logic["threshold"]}]}
    elif elastic["type"] == "eql":
        for key in ("event_category_override", "tiebreaker_field"):
            if elastic.get(key):
                rule[key] = elastic[key]
    elif elastic["type"] == "new_terms":
        rule["new_terms_fields"] = list(elastic["new_terms_fields"])
        # Kibana's new_terms: a term alerts when it did not occur between history_window_start and the
        # run's from (date math relative to the run: "If a term is found between the times
        # history_window_start and from then it will not be classified as a new term", the rule type's
        # specification, elastic/security-docs#2257; https://www.elastic.co/docs/solutions/security/
        # detect-and-alert/new-terms), so the history is the logic's window
        rule["history_window_start"] = ("now-" + format_duration(_window_seconds(detection, logic))
                                        if logic["type"] == "new_terms" else elastic["history_window_start"])

    rule["required_fields"] = _required_fields(detection, rule)
    problem = schema_problem(rule)
    if problem:  # a generator bug, not the author's: say so
        raise detection.error("elastic", "the generated Kibana rule is invalid (%s); please report this" % problem)
    return rule


_VALIDATOR = None


def validator():
    """jsonschema validator for harness/schemas/kibana_rule.schema.json."""
    global _VALIDATOR
    if _VALIDATOR is None:
        with open(SCHEMA_PATH, "r", encoding="utf-8") as handle:
            _VALIDATOR = jsonschema.Draft202012Validator(json.load(handle))
    return _VALIDATOR


def schema_problem(rule):
    """None if ``rule`` fits the Kibana rule schema, else one line naming the field and the problem."""
    errors = list(validator().iter_errors(rule))
    if not errors:
        return None
    err = max(errors, key=lambda e: len(e.absolute_path))
    where = ".".join(str(p) for p in err.absolute_path) or "(rule)"
    return "%s: %s" % (where, err.message)


def rules_ndjson(detections):
    """The NDJSON text of every detection's rule: one compact JSON object a line, sorted by rule_id."""
    rules = sorted((kibana_rule(d) for d in detections), key=lambda r: r["rule_id"])
    return "".join(json.dumps(r, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rules)


def rules_path(layout):
    return layout.dist / "elastic" / "rules.ndjson"


@distributable
def elastic_rules(layout, detections):
    """Write dist/elastic/rules.ndjson (atomically: deploy may read it) and return its path."""
    text = rules_ndjson(detections)
    path = rules_path(layout)
    write_atomic(path, text)
    return [path]
