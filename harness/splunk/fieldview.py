"""The fields Splunk shows for one CloudTrail record indexed as ``sourcetype=aws:cloudtrail``.

Splunk_TA_aws extracts CloudTrail at search time with ``KV_MODE = json`` (notes/splunk.md §7.2):

- nested keys become dotted names: ``userIdentity.type``, ``additionalEventData.MFAUsed``;
- array elements get ``{}`` appended to the array's name (``resources{}.ARN``, ``tags{}``), and a name
  that receives several values is multivalue (here: a Python list, in document order);
- every value is text: strings as written (case kept), ``true``/``false`` for JSON booleans, numbers as
  their JSON text;
- ``_time`` comes from ``eventTime`` (the TA's timestamp), ``sourcetype`` is ``aws:cloudtrail``.

The view is the input of the local SPL evaluator (``spl.py``), so it must be what a real search sees,
not what would be convenient. Two choices are not documented by Splunk and are made on purpose:

JSON ``null`` surfaces as the text ``"null"`` (``NULL_TEXT``), not as an absent field.
    notes/splunk.md says null "probably surfaces as the string null (unverified)". If that is right
    and we dropped the field, ``field=*`` / ``field!=x`` would match in Splunk but not here, and
    ``NOT field=*`` would match here but not in Splunk: a detection could pass its local tests and
    then silently miss or over-match in production. Keeping ``"null"`` means a search that must
    treat null as missing has to say so (``field!=null``, ``NOT field=null``), and such a search is
    correct whichever way real Splunk behaves. ``null_as=None`` drops nulls instead, so a caller can
    run the same tests under both behaviours.

An empty string is an absent field.
    Splunk has no empty field value: the search command protocol sends an empty cell for a missing
    field, and the engine's ``flat_getter`` already reads ``""`` as absent. CloudTrail writes
    ``"accessKeyId": ""`` on failed sign-ins; ``userIdentity.accessKeyId=*`` does not match it here.

With ``addon=True`` the view also carries the add-on's computed fields that reuse a raw CloudTrail
name the engine reads (``normalize.SPLUNK_FIELDS``); ``addon=False`` is CloudTrail sent without the
add-on (HEC, Firehose, a plain ``KV_MODE = json`` sourcetype). Only one such field is known:
``errorCode``, which the add-on's props.conf EVAL sets to the original code, else ``success`` /
``failure`` from ``responseElements.ConsoleLogin`` (notes/splunk.md §7.3, from a third-party mirror of
the add-on's props.conf; the add-on's source is not public, and its documentation's CIM field report,
https://splunk.github.io/splunk-add-on-for-amazon-web-services/CIMChanges/7.9.1/, lists the CIM fields
it derives: action, result, status, user ...). Its other CIM aliases and EVALs have CIM names
(``src``, ``user``, ``action`` ...) that the engine never reads and detections never use, so they are
not modelled; neither are index-time fields (``index``, ``host``, ``source``) or Splunk's limit on how
much of a large event auto-KV reads.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
from typing import Any, Dict, Optional

SOURCETYPE = "aws:cloudtrail"
NULL_TEXT = "null"

# CloudTrail writes eventTime as 2026-01-15T09:12:00Z; accept a fraction and an explicit offset too.
_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?\Z"
)


class FieldViewError(ValueError):
    """The record cannot be given a Splunk field view; ``field`` names the offending field."""

    def __init__(self, field: str, message: str):
        ValueError.__init__(self, "%s: %s" % (field, message))
        self.field = field
        self.message = message


def field_view(
    record: Dict[str, Any],
    include_raw: bool = False,
    *,
    raw: Optional[str] = None,
    null_as: Optional[str] = NULL_TEXT,
    addon: bool = False,
) -> Dict[str, Any]:
    """The search-time fields of one raw CloudTrail record (a dict as AWS writes it).

    Values are ``str``, or a ``list`` of ``str`` for a multivalue field; ``_time`` is a number
    (``int`` for whole seconds). ``include_raw`` adds ``_raw``: ``raw`` when given (the record's
    original text), else the record re-serialised as compact JSON. ``addon`` adds the Splunk Add-on
    for AWS's computed fields that reuse raw names (module docstring). Raises FieldViewError when the
    record is not an object or its ``eventTime`` is missing or unreadable (Splunk would stamp such
    an event with some other time; our tests could not reason about it).
    """
    if not isinstance(record, dict):
        raise FieldViewError("(record)", "expected a JSON object, got %s" % type(record).__name__)
    view: Dict[str, Any] = {}
    _flatten_object(record, "", view, null_as)
    view["_time"] = _epoch(record.get("eventTime"))
    view["sourcetype"] = SOURCETYPE
    if addon:
        _addon_fields(view)
    if include_raw:
        view["_raw"] = raw if raw is not None else json.dumps(record, separators=(",", ":"))
    return view


# responseElements.ConsoleLogin -> the add-on's errorCode when the record has none (see the docstring)
ADDON_CONSOLE_LOGIN_CODES = {"Success": "success", "Failure": "failure"}


def _addon_fields(view: Dict[str, Any]) -> None:
    """The Splunk Add-on for AWS's search-time fields that overwrite raw names (see the docstring)."""
    if "errorCode" in view:
        return
    marker = view.get("responseElements.ConsoleLogin")
    if marker.__class__ is list:
        marker = marker[0] if marker else None
    code = ADDON_CONSOLE_LOGIN_CODES.get(marker)
    if code is not None:
        view["errorCode"] = code


def _flatten_object(obj: Dict[str, Any], prefix: str, out: Dict[str, Any], null_as: Optional[str]) -> None:
    # Plain strings are most of a CloudTrail record: store them inline, recurse for the rest.
    for key, value in obj.items():
        if value.__class__ is str:
            if value:
                name = prefix + key
                if name in out:
                    _put(out, name, value)
                else:
                    out[name] = value
        else:
            _flatten(value, prefix + key, out, null_as)


def _flatten(value: Any, name: str, out: Dict[str, Any], null_as: Optional[str]) -> None:
    kind = value.__class__
    if kind is str:
        if value:
            _put(out, name, value)
    elif kind is dict:
        _flatten_object(value, name + ".", out, null_as)
    elif kind is list:
        name += "{}"
        for item in value:
            _flatten(item, name, out, null_as)
    elif value is None:
        if null_as is not None:
            _put(out, name, null_as)
    elif kind is bool:
        _put(out, name, "true" if value else "false")
    elif kind is float:
        _put(out, name, json.dumps(value))  # JSON's spelling (1e+21, not 1e21)
    else:
        _put(out, name, str(value))


def _put(out: Dict[str, Any], name: str, text: str) -> None:
    # A second value for a name (array elements, or "a.b" colliding with {"a": {"b": ...}}) makes the
    # field multivalue, as Splunk does; values stay in document order, duplicates included.
    current = out.get(name)
    if current is None:
        out[name] = text
    elif current.__class__ is list:
        current.append(text)
    else:
        out[name] = [current, text]


def _epoch(text: Any):
    if text is None or text == "":
        raise FieldViewError("eventTime", "missing")
    if not isinstance(text, str):
        raise FieldViewError("eventTime", "expected an ISO 8601 string, got %s" % type(text).__name__)
    m = _ISO.match(text)
    if not m:
        raise FieldViewError("eventTime", "not an ISO 8601 time: %r" % (text[:60],))
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    try:
        datetime.date(y, mo, d)
        if h > 23 or mi > 59 or s > 60:
            raise ValueError
    except ValueError:
        raise FieldViewError("eventTime", "not a valid date/time: %r" % (text,))
    epoch = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    tz = m.group(8)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        epoch -= sign * (int(digits[:2]) * 3600 + int(digits[2:]) * 60)
    frac = m.group(7)
    if frac and float(frac):
        return epoch + float(frac)
    return epoch
