"""The equivalence check: each platform's artefact against the detection's logic, record by record.

For every condition of a detection (its ``where``, or each sequence step's), over a generated space
of records, three verdicts are computed the way each platform reaches them:

- the logic, by the engine, on the sign-in view of the raw record;
- the Kibana rule's query (generated, or the file's override) by the project's KQL / EQL evaluator
  with Elasticsearch's semantics, on the ECS document the AWS integration would index;
- the Splunk base search by the SPL evaluator, on the ``aws:cloudtrail`` field view.

Elastic must agree with the logic exactly. Splunk's base search is a prefilter before the command
that runs the logic itself, so it must keep every record the logic keeps (it may keep more).
A disagreement is accepted only when it is declared: platform-wide, by the Elastic field mapping's
``FIELD_DIFFERENCES`` (how the integration's pipeline writes a field the condition reads), or in the
detection file's ``known_differences`` (a predicate over the sign-in view saying which records).
Anything else is an error that prints the record.

The space of records: every fixture record (they hold the record shapes of notes/vendor-rules.md
§3), reduced to one per distinct combination of the raw fields the condition reads, and then each of
those with one raw field the condition reads set to each value the condition names, to a near miss
of it, to another case, to empty, and removed.
"""

import copy
import ipaddress
import json
from pathlib import Path

from awssignin.normalize import BadRecord, MASKED_USER, OUTCOME_MARKERS, SERVICE_OUTCOME_EVENTS, from_cloudtrail
from awssignin.predicates import compile_predicate, fields_used

from . import geoip
from .detections import DetectionError
from .elastic import eql, kql, mapping, querygen
from .elastic.ecs import EcsMappingError, to_ecs
from .predicate_ast import named_values
from .reader import Reader
from .splunk import searchgen
from .splunk.fieldview import FieldViewError, field_view
from .splunk.spl import SplError, compile_search, fields_referenced as spl_fields

IDENTITY_TYPES = ["Root", "IAMUser", "AssumedRole", "FederatedUser", "IdentityCenterUser", "AWSService",
                  "AWSAccount", "Unknown"]
EVENT_NAMES = sorted(set(OUTCOME_MARKERS) | set(SERVICE_OUTCOME_EVENTS) |
                     {"CreateLoginProfile", "UpdateLoginProfile", "AssumeRole", "ListUsers"})

# raw paths behind each sign-in view field (awssignin.normalize); "{name}" is the record's eventName
RAW_PATHS = dict((name, [path]) for name, path in searchgen.RAW_FIELDS.items())
RAW_PATHS.update({
    "outcome": ["responseElements.{name}", "serviceEventDetails.{name}", "errorCode", "errorMessage"],
    "user": ["userIdentity.type", "userIdentity.userName", "userIdentity.arn", "userIdentity.accountId"],
    "account_id": ["userIdentity.accountId", "recipientAccountId"],
    "access_key_id": ["userIdentity.accessKeyId"],
    # the GeoIP country comes from the address (harness/geoip.py enrich_view, the ECS geoip step)
    "source_country": ["sourceIPAddress"],
})
# values worth trying on a raw path whatever the condition names
VOCABULARY = {
    "userIdentity.type": IDENTITY_TYPES,
    "eventName": EVENT_NAMES,
    "responseElements.{name}": ["Success", "Failure"],
    "serviceEventDetails.{name}": ["Success", "Failure"],
    "errorCode": ["AccessDenied"],
    "errorMessage": ["Failed authentication", "No username found in supplied account"],
    "userIdentity.userName": [MASKED_USER, "alice"],
    "additionalEventData.MFAUsed": ["Yes", "No", "YES", "NO", "no"],
    "sourceIPAddress": ["AWS Internal", "redacted", "203.0.113.7", "2001:db8::7", "not-an-ip",
                        # countries of detections/fixtures/geoip.csv, an address it does not hold,
                        # and ranges that never count (RFC 1918, CGNAT, IPv6 ULA)
                        "198.51.100.5", "203.0.113.200", "198.51.100.200", "10.0.0.1", "100.64.0.1", "fd00::1"],
}
_ABSENT = object()


class Disagreement(object):
    def __init__(self, detection, condition, platform, record, logic, artefact, text):
        self.detection = detection
        self.condition = condition
        self.platform = platform
        self.record = record
        self.logic = logic
        self.artefact = artefact
        self.text = text

    def __str__(self):
        if self.platform == "splunk":
            what = "the logic accepts it and the Splunk base search drops it"
        else:
            what = "the logic %s it and the Kibana rule %s it" % (
                "accepts" if self.logic else "rejects", "accepts" if self.artefact else "rejects")
        return "%s: %s: %s; undeclared (add a known_differences entry with a reason if it is inherent):\n" \
               "  %s\n  record: %s" % (self.detection, self.condition, what, self.text.replace("\n", "\n  "),
                                      json.dumps(self.record, sort_keys=True, ensure_ascii=True))


def _resolve(path, record):
    if "{name}" in path:
        name = record.get("eventName")
        if not isinstance(name, str):
            return None
        return path.replace("{name}", name)
    return path


def _get(record, path):
    node = record
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return _ABSENT
        node = node[part]
    return node


def _set(record, path, value):
    out = copy.deepcopy(record)
    parts = path.split(".")
    node = out
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            if value is _ABSENT:
                return out
            child = node[part] = {}
        node = child
    if value is _ABSENT:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
    return out


def _variants(value):
    out = [value, value.lower(), value.upper(), value + "x", "", _ABSENT]
    if len(value) > 1:
        out.append(value[:-1])
    return out


def record_space(base_records, spec, extra_fields=()):
    """The records to compare on for one condition (a list of raw records, no duplicates).
    ``extra_fields``: further view fields to vary (those an artefact reads beyond the logic)."""
    views = sorted(fields_used(spec) | set(extra_fields))
    paths = []
    for name in views:
        for p in RAW_PATHS.get(name, []):
            if p not in paths:
                paths.append(p)
    if "eventName" not in paths and any("{name}" in p for p in paths):
        paths.append("eventName")
    named = named_values(spec)
    reference = {}  # raw path -> the values whose relation to a record's value matters
    for name in views:
        for p in RAW_PATHS.get(name, []):
            reference.setdefault(p, set()).update(named.get(name, ()))
    for p in paths:
        reference.setdefault(p, set()).update(VOCABULARY.get(p, []))
    reference = dict((p, sorted(values)) for p, values in reference.items())
    candidates = {}
    for name in views:
        for p in RAW_PATHS.get(name, []):
            values = candidates.setdefault(p, [])
            for v in sorted(named.get(name, ())):
                values.extend(_variants(v))   # the named values, their near misses and other cases
    for p in paths:
        # the vocabulary as written (other identity types, event names, outcome markers ...)
        candidates.setdefault(p, []).extend(VOCABULARY.get(p, []) + ["", _ABSENT])
        candidates[p] = _unique(candidates[p])

    seen = set()
    bases = []
    for record in base_records:
        # one base per combination of how each value read relates to the values that matter: two
        # records differing only in an unrelated user name or address behave alike
        key = repr([_relation(_get(record, _resolve(p, record) or p), reference[p]) for p in paths])
        if key not in seen:
            seen.add(key)
            bases.append(record)
    out = []
    keys = set()
    for base in bases:
        targets = [(_resolve(p, base), p) for p in paths]
        for record in [base] + [_set(base, target, v) for target, p in targets if target for v in candidates[p]]:
            key = json.dumps(record, sort_keys=True, default=str)
            if key not in keys:
                keys.add(key)
                out.append(record)
    return out


def _unique(values):
    """``values`` without repeats, in order (``_ABSENT`` equals only itself)."""
    out = []
    for v in values:
        if not any(v is y or (v is not _ABSENT and y is not _ABSENT and v == y) for y in out):
            out.append(v)
    return out


def _relation(value, reference):
    if value is _ABSENT:
        return "absent"
    if not isinstance(value, str):
        return (type(value).__name__, json.dumps(value, sort_keys=True, default=str)[:64])
    low = value.lower()
    return (value == "", value == MASKED_USER, _looks_like_ip(value), tuple(
        (value == r, low == r.lower(), r in value, value.startswith(r), value.endswith(r))
        for r in reference))


def _looks_like_ip(value):
    try:
        ipaddress.ip_address(value)
        return True
    except ValueError:
        return False


def fixture_records(fixtures_dir):
    """Every record of every fixture file (CloudTrail files, NDJSON), as the reader reads them."""
    files = sorted(str(p) for p in Path(fixtures_dir).rglob("*") if p.is_file() and p.suffix in (".json", ".ndjson", ".gz"))
    return [record for record, _ in Reader(files, on_skip=lambda problem: None)]


def _conditions(detection):
    """(name, predicate spec) per condition of the logic."""
    logic = detection.data["logic"]
    if logic["type"] == "sequence":
        return [(s["name"], s["where"]) for s in logic["steps"]]
    return [("where", logic["where"])]


def _elastic_matchers(detection):
    """One document test per condition, compiled from the rule's actual query text."""
    from .elastic.rules import elastic_query

    elastic = detection.data["elastic"]
    text = elastic_query(detection)
    if elastic["language"] == "eql":
        compiled = eql.compile_eql(text, field_type=mapping.field_type)
        if compiled.is_sequence:
            return compiled.stage_matchers(), text
        return [compiled.match], text
    return [kql.compile_kql(text)], text


def _declared(detection, platform, condition, fields, record, view):
    for difference in querygen.FIELD_DIFFERENCES if platform == "elastic" else ():
        if difference.fields & fields and difference.applies(record):
            return True
    for known in detection.data.get("known_differences") or ():
        if known["platform"] != platform or known.get("step") not in (None, condition):
            continue
        if view is not None and compile_predicate(known["where"], "known_differences")(view):
            return True
    return False


_ECS_TO_VIEW = dict((ecs, view) for view, ecs in querygen.ECS_FIELDS.items())
_RAW_TO_VIEW = dict((raw, view) for view, raw in searchgen.RAW_FIELDS.items())


def _artefact_fields(query, language, search):
    """View fields the artefacts read (so an override reading something the logic does not is
    varied too)."""
    names = eql.fields_referenced(query) if language == "eql" else kql.fields_referenced(query)
    out = set(_ECS_TO_VIEW[n] for n in names if n in _ECS_TO_VIEW)
    out |= set(_RAW_TO_VIEW[n] for n in spl_fields(search) if n in _RAW_TO_VIEW)
    return out


def check(detection, base_records, limit=5):
    """Undeclared disagreements of one detection (at most ``limit`` per condition and platform)."""
    problems = []
    matchers, query = _elastic_matchers(detection)
    search = detection.data["splunk"]["search"]
    spl = compile_search(search)
    extra = _artefact_fields(query, detection.data["elastic"]["language"], search)
    for (name, spec), elastic_match in zip(_conditions(detection), matchers):
        logic = compile_predicate(spec, name)
        fields = fields_used(spec)
        counts = {"elastic": 0, "splunk": 0}
        for record in record_space(base_records, spec, extra):
            try:
                view = geoip.enrich_view(from_cloudtrail(record))
            except BadRecord:
                continue  # the reader skips it for every platform
            expected = bool(logic(view))
            try:
                doc = to_ecs(record)
            except EcsMappingError:
                doc = None
            if doc is not None and counts["elastic"] < limit:
                got = bool(elastic_match(doc))
                if got != expected and not _declared(detection, "elastic", name, fields, record, view):
                    counts["elastic"] += 1
                    problems.append(Disagreement(detection.id, name, "elastic", record, expected, got,
                                                 "Kibana query: " + query))
            if expected and counts["splunk"] < limit:
                try:
                    fv = field_view(record)
                except FieldViewError:
                    continue
                if not spl(fv) and not _declared(detection, "splunk", name, fields, record, view):
                    counts["splunk"] += 1
                    problems.append(Disagreement(detection.id, name, "splunk", record, True, False,
                                                 "Splunk base search: " + search))
    return problems


def check_all(detections, fixtures_dir):
    """Undeclared disagreements of every detection. A detection whose query or search does not
    compile is passed over: lint reports that with its file and line, and there is nothing to
    compare."""
    base = fixture_records(fixtures_dir)
    problems = []
    # the geo detections are compared with a GeoIP database: the one in use, else the fixture table's
    with _geo(fixtures_dir):
        for det in detections:
            try:
                problems.extend(check(det, base))
            except (kql.KqlError, eql.EqlError, SplError, DetectionError):
                continue
    return problems


def _geo(fixtures_dir):
    if geoip.current() is not None:
        return geoip.use(geoip.current())
    return geoip.for_run((), fixtures_dir, environ={})
