"""Loading and validating detection files (detections/<id>.yml).

Every error names the file, the field (as a dotted path) and, where YAML knows it, the line.
"""

import json
from pathlib import Path

import jsonschema
import yaml

from awssignin.predicates import PredicateError, compile_predicate
from awssignin.normalize import FIELDS

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "detection.schema.json"
SEVERITY_RISK = {"low": 21, "medium": 47, "high": 73, "critical": 99}


class DetectionError(ValueError):
    """A detection file that cannot be used: ``file``, ``field`` and ``line`` say where."""

    def __init__(self, file, field, message, line=None):
        where = str(file)
        if line is not None:
            where += ":%d" % line
        if field:
            where += ": %s" % field
        ValueError.__init__(self, "%s: %s" % (where, message))
        self.file = str(file)
        self.field = field
        self.line = line
        self.message = message


def _schema():
    with open(SCHEMA_PATH, "r", encoding="utf-8") as handle:
        return json.load(handle)


_VALIDATOR = None


def validator():
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = jsonschema.Draft202012Validator(_schema())
    return _VALIDATOR


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping key and sequence item, by dotted path."""


def _load_with_lines(text, file):
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise DetectionError(file, "", "the file is empty")
        data = loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise DetectionError(file, "", "not valid YAML: %s" % (getattr(err, "problem", None) or err),
                             line=mark.line + 1 if mark else None)
    finally:
        loader.dispose()
    lines = {}

    def walk(n, path):
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, yaml.MappingNode):
            seen = set()
            for key, value in n.value:
                child = "%s.%s" % (path, key.value) if path else str(key.value)
                if key.value in seen:
                    # PyYAML would keep the last value silently
                    raise DetectionError(file, child, "duplicate key", key.start_mark.line + 1)
                seen.add(key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, "%s[%d]" % (path, i))

    walk(node, "")
    return data, lines


def _dotted(path_items):
    out = ""
    for item in path_items:
        out += "[%d]" % item if isinstance(item, int) else ("." if out else "") + str(item)
    return out


class DetectionFile(object):
    """A validated detection: ``data`` is the parsed YAML, ``path`` its file."""

    def __init__(self, path, data, lines):
        self.path = Path(path)
        self.data = data
        self.lines = lines

    @property
    def id(self):
        return self.data["id"]

    def line_of(self, field):
        while field:
            if field in self.lines:
                return self.lines[field]
            field = field.rsplit(".", 1)[0] if "." in field else ""
        return None

    def error(self, field, message):
        return DetectionError(self.path, field, message, self.line_of(field))

    def engine_spec(self):
        """The part of the detection the engine needs (what `build` writes to detections.json)."""
        d = self.data
        return {
            "id": d["id"],
            "title": d["title"],
            "severity": d["severity"],
            "risk_score": d["risk_score"],
            "mitre": [m["technique"] for m in d["mitre"]],
            "building_block": bool(d.get("building_block", False)),
            "logic": d["logic"],
        }

    def fixture_paths(self, fixtures_dir, test):
        return [Path(fixtures_dir) / f for f in test["fixtures"]]


def load_file(path, fixtures_dir=None):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DetectionError(path, "", "not UTF-8 text (%s)" % err)
    data, lines = _load_with_lines(text, path)
    if not isinstance(data, dict):
        raise DetectionError(path, "", "a detection file must be a YAML mapping")
    det = DetectionFile(path, data, lines)
    errors = sorted(validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        # report the most specific error first; a oneOf/if-then failure points at the field that differs
        err = max(errors, key=lambda e: len(e.absolute_path))
        field = _dotted(err.absolute_path)
        raise det.error(field, err.message)
    _check_semantics(det, fixtures_dir or path.parent / "fixtures")
    return det


def _check_semantics(det, fixtures_dir):
    d = det.data
    if d["id"] != det.path.stem:
        raise det.error("id", "must equal the file name (%r), got %r" % (det.path.stem, d["id"]))
    expected = SEVERITY_RISK[d["severity"]]
    if d["risk_score"] != expected:
        raise det.error("risk_score", "severity %s goes with risk_score %d, got %d"
                        % (d["severity"], expected, d["risk_score"]))
    logic = d["logic"]
    wheres = ([("logic.where", logic["where"])] if "where" in logic else
              [("logic.steps[%d].where" % i, s["where"]) for i, s in enumerate(logic.get("steps", []))])
    for field, where in wheres:
        try:
            compile_predicate(where, field)
        except PredicateError as err:
            raise det.error(err.path, str(err).split(": ", 1)[-1])
    names = list(logic["group_by"])
    for i, name in enumerate(names):
        if logic["type"] != "sequence" and name not in FIELDS:
            raise det.error("logic.group_by[%d]" % i, "unknown field %r" % name)
    if logic["type"] == "distinct" and logic["distinct"] not in FIELDS:
        raise det.error("logic.distinct", "unknown field %r" % logic["distinct"])
    for i, step in enumerate(logic.get("steps", [])):
        if len(step["by"]) != len(names):
            raise det.error("logic.steps[%d].by" % i, "needs one field per group_by name (%d)" % len(names))
        for j, f in enumerate(step["by"]):
            if f not in FIELDS:
                raise det.error("logic.steps[%d].by[%d]" % (i, j), "unknown field %r" % f)
    if set(d["elastic"]["group_fields"]) != set(names):
        raise det.error("elastic.group_fields", "must map exactly the group names %s, got %s"
                        % (names, sorted(d["elastic"]["group_fields"])))
    for t, test in enumerate(d["tests"]):
        for f, name in enumerate(test["fixtures"]):
            if not (Path(fixtures_dir) / name).is_file():
                raise det.error("tests[%d].fixtures[%d]" % (t, f), "no such fixture file: %s" % (Path(fixtures_dir) / name))
        for p in test.get("params", {}):
            if p not in logic:
                raise det.error("tests[%d].params.%s" % (t, p), "a %s detection has no %s" % (logic["type"], p))
        for e, exp in enumerate(test["expect"]):
            if set(exp["group"]) != set(names):
                raise det.error("tests[%d].expect[%d].group" % (t, e), "must name exactly the group fields %s" % names)


def load_all(detections_dir, ids=None):
    """Every detections/*.yml, sorted by id; ``ids`` restricts (unknown ids are an error)."""
    detections_dir = Path(detections_dir)
    files = sorted(detections_dir.glob("*.yml"))
    dets = [load_file(f, detections_dir / "fixtures") for f in files]
    seen = {}
    for det in dets:
        if det.id in seen:
            raise det.error("id", "duplicate id, also in %s" % seen[det.id])
        seen[det.id] = det.path
    if ids:
        unknown = [i for i in ids if i not in seen]
        if unknown:
            raise ValueError("unknown detection(s): %s (known: %s)" % (", ".join(unknown), ", ".join(sorted(seen))))
        dets = [d for d in dets if d.id in ids]
    return dets
