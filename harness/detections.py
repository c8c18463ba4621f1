"""Loading and validating detection files (detections/<id>.yml).

Every error names the file, the field (as a dotted path) and, where YAML knows it, the line.
"""

import json
import re
from pathlib import Path

import jsonschema

from awssignin.predicates import PredicateError, compile_predicate
from awssignin.normalize import FIELDS

from . import generate

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


# the YAML loading (aliases refused, size and depth bounded, line of every field) lives in yamlload
from .yamlload import load_with_lines  # noqa: E402


def _dotted(path_items):
    out = ""
    for item in path_items:
        out += "[%d]" % item if isinstance(item, int) else ("." if out else "") + str(item)
    return out


class DetectionFile(object):
    """A validated detection: ``data`` is the parsed YAML, ``path`` its file."""

    def __init__(self, path, data, lines):
        self.path = Path(path)
        self.data = data        # with the generated platform sections once resolved (harness/generate.py)
        self.authored = data    # what the file says
        self.generated = None   # harness.elastic.querygen.Generated
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
        t = next((i for i, x in enumerate(self.data["tests"]) if x is test), None)
        return [self.fixture_path(fixtures_dir, t, f, name) for f, name in enumerate(test["fixtures"])]

    def fixture_path(self, fixtures_dir, t, f, name):
        """tests[t].fixtures[f] as a path that resolves (symlinks followed) inside ``fixtures_dir``."""
        field = "tests[%s].fixtures[%d]" % ("?" if t is None else t, f)
        try:
            root = Path(fixtures_dir).resolve()
            path = (root / name).resolve()
        except (OSError, RuntimeError, ValueError) as err:  # a NUL byte, a symlink loop
            raise self.error(field, "cannot resolve the fixture path %r: %s" % (name, err))
        if not path.is_relative_to(root):
            raise self.error(field, "fixture path %r resolves to %s, outside the fixtures directory %s; "
                             "fixtures must be files under it" % (name, path, root))
        return Path(fixtures_dir) / name


def load_file(path, fixtures_dir=None):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DetectionError(path, "", "not UTF-8 text (%s)" % err)
    data, lines = load_with_lines(text, path)
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
    return generate.resolve(det)


def _expand_uses(det):
    """Replace each ``{use: <id>}`` predicate by that per-event detection's ``logic.where``, so a
    sequence step that means another detection (token_relay's first step is signin_token_abuse)
    says so once instead of copying its predicate. The other file is read as YAML only; it must be
    an ``event`` detection whose predicate uses no other detection (no chains, no cycles)."""
    logic = det.data["logic"]
    places = [("logic.where", logic, "where")] if "where" in logic else \
        [("logic.steps[%d].where" % i, step, "where") for i, step in enumerate(logic.get("steps", []))]
    cache = {}

    def expand(node, field):
        if not isinstance(node, dict):
            return node
        if "use" in node:
            if len(node) != 1 or not isinstance(node["use"], str):
                raise det.error(field, "`use` names one detection id and stands alone")
            return referenced(node["use"], field + ".use")
        out = {}
        for key, value in node.items():
            if key in ("all", "any") and isinstance(value, list):
                out[key] = [expand(v, "%s.%s[%d]" % (field, key, i)) for i, v in enumerate(value)]
            elif key == "not":
                out[key] = expand(value, field + ".not")
            else:
                out[key] = value
        return out

    def referenced(other_id, field):
        if other_id == det.id:
            raise det.error(field, "a detection cannot use itself")
        if other_id not in cache:
            other = det.path.parent / ("%s.yml" % other_id)
            if not _ID.match(other_id) or not other.is_file():
                raise det.error(field, "no detection %r (no file %s)" % (other_id, other))
            try:
                data, _ = load_with_lines(other.read_text(encoding="utf-8"), other)
            except (DetectionError, UnicodeDecodeError) as err:
                raise det.error(field, "cannot read %s: %s" % (other, err))
            where = ((data or {}).get("logic") or {}).get("where") if isinstance(data, dict) else None
            if not isinstance(where, dict) or (data["logic"].get("type") != "event"):
                raise det.error(field, "%s is not an event detection with a logic.where" % other_id)
            if _has_use(where):
                raise det.error(field, "%s itself uses another detection; name the predicate directly" % other_id)
            cache[other_id] = where
        return cache[other_id]

    for field, holder, key in places:
        holder[key] = expand(holder[key], field)


_ID = re.compile(r"^[a-z][a-z0-9_]{2,62}$")


def _has_use(node):
    if not isinstance(node, dict):
        return False
    if "use" in node:
        return True
    children = [c for key in ("all", "any") if isinstance(node.get(key), list) for c in node[key]]
    return any(_has_use(c) for c in children + [node.get("not")])


def _check_semantics(det, fixtures_dir):
    d = det.data
    if d["id"] != det.path.stem:
        raise det.error("id", "must equal the file name (%r), got %r" % (det.path.stem, d["id"]))
    expected = SEVERITY_RISK[d["severity"]]
    if d["risk_score"] != expected:
        raise det.error("risk_score", "severity %s goes with risk_score %d, got %d"
                        % (d["severity"], expected, d["risk_score"]))
    logic = d["logic"]
    _expand_uses(det)
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
        # the first len(group_by) fields name the alert's group; any further ones only join the steps
        if len(step["by"]) < len(names):
            raise det.error("logic.steps[%d].by" % i, "needs at least one field per group_by name (%d)" % len(names))
        if [len(o["by"]) for o in logic["steps"]].count(len(step["by"])) != len(logic["steps"]):
            raise det.error("logic.steps[%d].by" % i, "every step needs as many key fields as the others")
        for j, f in enumerate(step["by"]):
            if f not in FIELDS:
                raise det.error("logic.steps[%d].by[%d]" % (i, j), "unknown field %r" % f)
    for i, known in enumerate(d.get("known_differences") or ()):
        where = "known_differences[%d]" % i
        try:
            compile_predicate(known["where"], where + ".where")
        except PredicateError as err:
            raise det.error(err.path, str(err).split(": ", 1)[-1])
        step = known.get("step")
        if step is not None and step not in [s["name"] for s in logic.get("steps", [])]:
            raise det.error(where + ".step", "no step named %r in logic.steps" % step)
    for t, test in enumerate(d["tests"]):
        for f, name in enumerate(test["fixtures"]):
            if not det.fixture_path(fixtures_dir, t, f, name).is_file():
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
