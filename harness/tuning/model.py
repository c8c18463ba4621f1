"""The site tuning file: loaded, validated, and turned into allowlist entries and parameters.

A tuning file lives in the user's repository, never in the pack, so a pack upgrade never touches it.
It holds allowlist entries (every detection's under ``allow``, one detection's under
``detections.<id>.allow``) and per-detection parameters (``threshold``, ``window``). Every problem
is a ``TuningError`` naming the file, the line and the field (the loader is the detection files'
own: aliases refused, size and depth bounded, duplicate keys refused).

An entry's conditions are ANDed (``source_ip`` and ``principal``: from one of these addresses AND
as one of these principals); the values of one condition are ORed. ``country`` (GeoIP country codes
of the source address) narrows a principal or an account: the countries a user or account is
expected in, for the geo detections. ``user_agent`` narrows a
principal and is refused on its own: the user agent is whatever the caller sends, so an allowlist
by user agent alone would let anyone who copies it through.
"""

import ipaddress
import json
from pathlib import Path

import jsonschema

from awssignin.engine import checked_overrides
from awssignin.geo import CODE_BY_NAME

from ..detections import DetectionError, _dotted
from ..yamlload import load_with_lines

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "tuning.schema.json"
PARAMETERS = ("threshold", "window")
# characters no allowlist value may hold: "*" is a wildcard in a Splunk search term with no escape
# (and a literal in a Kibana `match` entry, so the platforms would disagree); a backtick starts a
# Splunk macro call; control characters would break a .conf line
_FORBIDDEN = "*`"


class TuningError(DetectionError):
    """A tuning file that cannot be used: ``file``, ``field`` and ``line`` say where."""


class Entry(object):
    """One allowlist entry. ``scope`` is None for an entry that applies to every detection, else
    the detection id. ``networks``: ip_network objects (a single address is a /32 or /128)."""

    def __init__(self, name, scope, reason, networks, accounts, principals, user_agents, line, countries=()):
        self.name = name
        self.scope = scope
        self.reason = reason
        self.networks = networks
        self.accounts = accounts
        self.principals = principals        # [{"arn": ...}] or [{"account": ..., "user_name": ...}]
        self.user_agents = user_agents
        self.countries = list(countries)    # ISO codes of source_country (GeoIP), ORed
        self.line = line

    @property
    def label(self):
        """How summaries name the entry: ``name`` (global) or ``detection/name``."""
        return self.name if self.scope is None else "%s/%s" % (self.scope, self.name)

    def __repr__(self):
        return "Entry(%s)" % self.label


class Tuning(object):
    """A validated tuning file: ``entries`` (global first, then per detection, in file order) and
    ``params`` ({detection id: {"threshold": n, "window": "30m"}}, checked against each logic)."""

    def __init__(self, path, entries, params):
        self.path = str(path)
        self.entries = entries
        self.params = params

    def entries_for(self, detection_id):
        return [e for e in self.entries if e.scope is None or e.scope == detection_id]

    def params_for(self, detection_id):
        return dict(self.params.get(detection_id) or {})

    def tunes(self, detection_id):
        return bool(self.entries_for(detection_id) or self.params.get(detection_id))


_VALIDATOR = None


def _validator():
    global _VALIDATOR
    if _VALIDATOR is None:
        with open(str(SCHEMA_PATH), "r", encoding="utf-8") as handle:
            _VALIDATOR = jsonschema.Draft202012Validator(json.load(handle))
    return _VALIDATOR


def _line(lines, field):
    while field:
        if field in lines:
            return lines[field]
        if field.endswith("]"):
            field = field[:field.rfind("[")]
        else:
            field = field.rsplit(".", 1)[0] if "." in field else ""
    return lines.get("")


def _as_list(value):
    return value if isinstance(value, list) else [value]


def load(path, detections):
    """The tuning file at ``path`` checked against ``detections`` (DetectionFile objects of the pack).
    Raises TuningError naming the file, line and field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise TuningError(path, "", "cannot read the tuning file: %s" % err)
    try:
        data, lines = load_with_lines(text, path)
    except DetectionError as err:
        raise TuningError(err.file, err.field, err.message, err.line)
    return parse(data, lines, path, detections)


def parse(data, lines, path, detections):
    def fail(field, message):
        return TuningError(path, field, message, _line(lines, field))

    if not isinstance(data, dict):
        raise fail("", "a tuning file is a YAML mapping with `allow` and/or `detections`")
    by_id = dict((d.id, d) for d in detections)
    _friendly_checks(data, fail, by_id)
    errors = sorted(_validator().iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        raise fail(_dotted(best.absolute_path), best.message)
    entries, names = [], {}
    for i, raw in enumerate(data.get("allow") or []):
        field = "allow[%d]" % i
        entries.append(_entry(raw, None, field, fail, names, _line(lines, field)))
    params = {}
    for det_id, section in sorted((data.get("detections") or {}).items()):
        det = by_id[det_id]
        for i, raw in enumerate(section.get("allow") or []):
            field = "detections.%s.allow[%d]" % (det_id, i)
            entries.append(_entry(raw, det_id, field, fail, names, _line(lines, field)))
        wanted = dict((k, section[k]) for k in PARAMETERS if k in section)
        if wanted:
            try:
                params[det_id] = checked_overrides(det_id, det.data["logic"], wanted)
            except ValueError as err:
                key = next((k for k in PARAMETERS if k in wanted and k in str(err)), sorted(wanted)[0])
                raise fail("detections.%s.%s" % (det_id, key), str(err))
    return Tuning(path, entries, params)


def _friendly_checks(data, fail, by_id):
    """The mistakes a schema message would explain badly, with a message that says what to do."""
    sections = data.get("detections")
    if isinstance(sections, dict):
        for det_id in sections:
            if det_id not in by_id:
                raise fail("detections.%s" % det_id, "unknown detection id %r (known: %s)"
                           % (det_id, ", ".join(sorted(by_id))))
    for field, raw in _raw_entries(data):
        if not isinstance(raw, dict):
            continue
        if "user_agent" in raw and "principal" not in raw:
            raise fail(field + ".user_agent", "a user agent is allowed only together with a principal "
                       "(the caller chooses its user agent, so alone it would allow anyone)")
        for value in _as_list(raw.get("account", [])):
            if isinstance(value, int) and not isinstance(value, bool):
                raise fail(field + ".account", "write the account id %r in quotes (\"%012d\"): YAML reads "
                           "it as a number, and would drop leading zeros" % (value, value))
        if "country" in raw and not any(k in raw for k in ("principal", "account")):
            raise fail(field + ".country", "a country is allowed only together with a principal or an account "
                       "(the countries a user or an account is expected in); for a VPN, list its egress "
                       "addresses under source_ip")
        for value in _as_list(raw.get("country", [])):
            if isinstance(value, str) and value not in CODE_BY_NAME.values():
                raise fail(field + ".country", "%r is not an ISO 3166-1 alpha-2 country code as GeoIP "
                           "databases write it (US, DE, GB ...)" % value)
        if not any(k in raw for k in ("source_ip", "account", "principal")):
            raise fail(field, "an entry needs at least one of source_ip, account, principal")
        for value in _as_list(raw.get("account", [])):
            if isinstance(value, str) and not (len(value) == 12 and value.isdigit()):
                raise fail(field + ".account", "an AWS account id is 12 digits, not %r" % value)
        for key in ("source_ip", "user_agent"):
            for value in _as_list(raw.get(key, [])):
                if not isinstance(value, str):
                    raise fail("%s.%s" % (field, key), "%r: write each value as text" % (value,))
        principals = raw.get("principal")
        for p in _as_list(principals) if principals is not None else []:
            if not isinstance(p, dict) or not (set(p) == {"arn"} or set(p) == {"account", "user_name"}):
                raise fail(field + ".principal", "a principal is {arn: <ARN>} or {account: \"<12 digits>\", "
                           "user_name: <IAM user name>}, not %r" % (p,))
            if isinstance(p.get("account"), int) and not isinstance(p["account"], bool):
                raise fail(field + ".principal.account", "write the account id in quotes: YAML reads "
                           "%r as a number" % p["account"])


def _raw_entries(data):
    if isinstance(data.get("allow"), list):
        for i, raw in enumerate(data["allow"]):
            yield "allow[%d]" % i, raw
    sections = data.get("detections")
    if isinstance(sections, dict):
        for det_id, section in sections.items():
            if isinstance(section, dict) and isinstance(section.get("allow"), list):
                for i, raw in enumerate(section["allow"]):
                    yield "detections.%s.allow[%d]" % (det_id, i), raw


def _checked_text(value, field, fail):
    bad = [c for c in value if c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127]
    if bad:
        raise fail(field, "%r may not hold %r (wildcards, backticks and control characters are refused: "
                   "Splunk has no escape for a * in a search term, and the platforms would disagree)"
                   % (value, bad[0]))
    if value != value.strip():
        raise fail(field, "%r has leading or trailing spaces" % value)
    return value


def _network(text, field, fail):
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as err:
        hint = ""
        try:
            hint = " (did you mean %s?)" % ipaddress.ip_network(text, strict=False)
        except ValueError:
            pass
        raise fail(field, "not an IP address or CIDR network: %r: %s%s" % (text, err, hint))


def _entry(raw, scope, field, fail, names, line):
    name = raw["name"]
    # names are unique across the file: summaries and Kibana item ids are keyed on them
    if name in names:
        raise fail(field + ".name", "the name %r is already used by %s" % (name, names[name]))
    networks = [_network(v, "%s.source_ip" % field, fail) for v in _as_list(raw.get("source_ip", []))]
    accounts = list(_as_list(raw.get("account", [])))
    principals = []
    for p in _as_list(raw.get("principal", [])) if "principal" in raw else []:
        if "arn" in p:
            principals.append({"arn": _checked_text(p["arn"], field + ".principal.arn", fail)})
        else:
            principals.append({"account": p["account"],
                               "user_name": _checked_text(p["user_name"], field + ".principal.user_name", fail)})
    agents = [_checked_text(v, field + ".user_agent", fail) for v in _as_list(raw.get("user_agent", []))]
    countries = list(_as_list(raw.get("country", [])))
    entry = Entry(name, scope, raw.get("reason"), networks, accounts, principals, agents, line, countries)
    names[name] = field
    return entry
