"""One raw CloudTrail record -> the document Elastic's AWS integration indexes into logs-aws.cloudtrail-*.

This reproduces the integration's ingest pipeline
(``packages/aws/data_stream/cloudtrail/elasticsearch/ingest_pipeline/default.yml``, checked at
elastic/integrations 0046748 and bf3be6b; the two agree on everything below) plus what the
aws-s3 input and Fleet add around it. The result is a nested dict, as ``_source`` would be.

Behaviour worth knowing, each one taken from the pipeline:

- Null and empty-string values (and objects/arrays left empty by that) are dropped first.
- The pipeline moves fields with ``rename`` processors, which fail (ignored) when the target
  already exists. So ``user.name`` comes from ``userIdentity.userName`` and only falls back to
  ``sessionContext.sessionIssuer.userName`` when the identity has no userName of its own
  (role and federated sessions); it never overwrites it.
- ``event.outcome`` is ``failure`` when errorCode or errorMessage exists, else ``success``; for
  ``ConsoleLogin`` only, the lower-cased ``responseElements.ConsoleLogin`` replaces it.
- ``event.category`` / ``event.type`` come from a per-action table (ConsoleLogin and AssumeRole
  are ``authentication``); every other action gets ``event.type: [info]`` and no category.
- ``aws.cloudtrail.{request_parameters, response_elements, additional_eventdata,
  service_event_details}`` are Java ``Map.toString()`` strings. The JSON processor builds
  ``java.util.HashMap``s, so the key order is HashMap iteration order; ``_java_order`` computes
  it (bucket index of ``String.hashCode``; checked against java.util.HashMap), which is why
  ``{LoginTo=.., MobileVersion=.., MFAUsed=..}`` comes out in that order whatever order AWS wrote.
- ``aws.cloudtrail.flattened.*`` keep the objects themselves when their string form is shorter
  than 32766 characters; MFA booleans and ``user.target.name`` etc. are read from those copies.

Not reproduced: GeoIP (``source.geo.*``, ``source.as.*``), user-agent parsing (only
``user_agent.original``), the entity sub-pipeline (``related.entity``, ``*.entity.id``), digest
and Insights records. Pass such pre-computed fields as ``enrichment`` when a test needs them.
"""
from __future__ import annotations

import calendar
import copy
import functools
import ipaddress
import math
import re
import time
from decimal import Decimal
from typing import Any, Dict, List, Mapping, Optional, Tuple

from awssignin.normalize import kind_of

from .mapping import source_path

ECS_VERSION = "8.11.0"
DATA_STREAM = {"type": "logs", "dataset": "aws.cloudtrail", "namespace": "default"}

# The flattened copies are kept only when the string form is shorter than this (Lucene's term limit).
_FLATTENED_MAX_CHARS = 32766

# The pipeline's "Add ECS categorization" table: action -> (event.category, event.type).
# Actions not listed keep event.type ["info"] and get no event.category.
_IAM_USER_CHANGE = (["iam"], ["user", "change"])
_IAM_GROUP_CHANGE = (["iam"], ["group", "change"])
_IAM_ADMIN_CHANGE = (["iam"], ["admin", "change"])
CATEGORIZATION = {
    "AssumeRole": (["authentication"], ["info"]),
    "ConsoleLogin": (["authentication"], ["info"]),
    "AddUserToGroup": _IAM_GROUP_CHANGE,
    "AttachGroupPolicy": _IAM_GROUP_CHANGE,
    "AttachUserPolicy": _IAM_USER_CHANGE,
    "ChangePassword": _IAM_USER_CHANGE,
    "CreateAccessKey": _IAM_USER_CHANGE,
    "CreateBucket": (["file"], ["creation"]),
    "CreateGroup": (["iam"], ["group", "creation"]),
    "CreateKeyPair": (["iam"], ["admin", "creation"]),
    "CreateUser": (["iam"], ["user", "creation"]),
    "CreateVirtualMFADevice": _IAM_USER_CHANGE,
    "DeactivateMFADevice": _IAM_USER_CHANGE,
    "DeleteAccessKey": _IAM_USER_CHANGE,
    "DeleteBucket": (["file"], ["deletion"]),
    "DeleteGroup": (["iam"], ["group", "deletion"]),
    "DeleteGroupPolicy": _IAM_GROUP_CHANGE,
    "DeleteSSHPublicKey": _IAM_USER_CHANGE,
    "DeleteUser": (["iam"], ["user", "deletion"]),
    "DeleteUserPermissionsBoundary": _IAM_USER_CHANGE,
    "DeleteUserPolicy": _IAM_USER_CHANGE,
    "DeleteVirtualMFADevice": _IAM_USER_CHANGE,
    "DetachGroupPolicy": _IAM_GROUP_CHANGE,
    "DetachUserPolicy": _IAM_USER_CHANGE,
    "EnableMFADevice": _IAM_USER_CHANGE,
    "GetGroup": (["iam"], ["group", "info"]),
    "GetGroupPolicy": (["iam"], ["group", "info"]),
    "GetUser": (["iam"], ["user", "info"]),
    "GetUserPolicy": (["iam"], ["user", "info"]),
    "ListAttachedGroupPolicies": (["iam"], ["group", "info"]),
    "ListAttachedUserPolicies": (["iam"], ["user", "info"]),
    "ListGroupPolicies": (["iam"], ["group", "info"]),
    "ListGroups": (["iam"], ["group", "info"]),
    "ListGroupsForUser": (["iam"], ["user", "info"]),
    "ListUserPolicies": (["iam"], ["user", "info"]),
    "ListUsers": (["iam"], ["user", "info"]),
    "ListUserTags": (["iam"], ["user", "info"]),
    "PutGroupPolicy": _IAM_GROUP_CHANGE,
    "PutUserPermissionsBoundary": _IAM_USER_CHANGE,
    "PutUserPolicy": _IAM_USER_CHANGE,
    "RemoveUserFromGroup": _IAM_GROUP_CHANGE,
    "SetDefaultPolicyVersion": _IAM_ADMIN_CHANGE,
    "SetSecurityTokenServicePreferences": _IAM_ADMIN_CHANGE,
    "TagUser": _IAM_USER_CHANGE,
    "UntagUser": _IAM_USER_CHANGE,
    "UpdateAccessKey": _IAM_USER_CHANGE,
    "UpdateAccountPasswordPolicy": _IAM_ADMIN_CHANGE,
    "UpdateGroup": _IAM_GROUP_CHANGE,
    "UpdateLoginProfile": _IAM_USER_CHANGE,
    "UpdateRole": _IAM_ADMIN_CHANGE,
    "UpdateSSHPublicKey": _IAM_USER_CHANGE,
    "UpdateUser": _IAM_USER_CHANGE,
}

# Record keys that must be objects when present (the pipeline would silently skip them otherwise,
# and a fixture with such a value is a broken fixture).
_OBJECT_KEYS = (
    "userIdentity", "userIdentity.sessionContext", "userIdentity.sessionContext.attributes",
    "userIdentity.sessionContext.sessionIssuer", "requestParameters", "responseElements",
    "additionalEventData", "serviceEventDetails", "tlsDetails",
)


class EcsMappingError(ValueError):
    """A record that cannot be mapped; ``field`` names the offending CloudTrail key."""

    def __init__(self, field: str, message: str):
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

def to_ecs(record: Mapping[str, Any], ingested: Optional[str] = None, *,
           created: Optional[str] = None,
           enrichment: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Map one CloudTrail record to its logs-aws.cloudtrail-* document (nested, like ``_source``).

    ``ingested`` becomes ``event.ingested`` (Fleet's final pipeline sets it, not the CloudTrail
    pipeline); ``created`` becomes ``event.created`` (the shipper's read time). ``enrichment`` is
    deep-merged last, for fields the pipeline computes and we do not (``source.geo.*`` ...).
    Raises EcsMappingError naming the field when the record cannot be mapped.
    """
    if not isinstance(record, dict):
        raise EcsMappingError("record", "expected a JSON object, got %s" % kind_of(record))
    for name, value in (("ingested", ingested), ("created", created)):
        if value is not None and (not isinstance(value, str) or _parse_iso(value) is None):
            raise EcsMappingError(name, "expected an ISO 8601 time, got %r" % (value,))

    json = _clean(record)
    if json is _DROP:
        raise EcsMappingError("record", "every value is null or empty")
    _check_objects(json)

    event_time = json.get("eventTime")
    parsed = _parse_iso(event_time) if isinstance(event_time, str) else None
    if parsed is None:
        # The pipeline would keep the shipper's read time as @timestamp; a record without a
        # usable eventTime cannot be placed in time, so we refuse it.
        raise EcsMappingError("eventTime", "missing or not an ISO 8601 time: %r" % (event_time,))

    doc: Dict[str, Any] = {}
    event: Dict[str, Any] = {}
    doc["event"] = event
    if created is not None:
        event["created"] = created
    doc["ecs"] = {"version": ECS_VERSION}
    doc["@timestamp"] = _format_ms(parsed)
    ct: Dict[str, Any] = {}            # aws.cloudtrail, attached to the document only if non-empty

    _put(ct, "event_version", json.get("eventVersion"))
    ui = json.get("userIdentity") or {}
    session = ui.get("sessionContext") or {}
    attributes = session.get("attributes") or {}
    issuer = session.get("sessionIssuer") or {}
    _put(ct, "user_identity.type", ui.get("type"))
    if ui.get("userName") is not None:
        _append_unique(doc, "related.user", _mustache(ui["userName"]))
    _put(doc, "user.name", ui.get("userName"))
    _put(doc, "user.id", ui.get("principalId"))
    _put(ct, "user_identity.arn", ui.get("arn"))
    _put(doc, "cloud.account.id", ui.get("accountId"))
    _put(ct, "user_identity.access_key_id", ui.get("accessKeyId"))
    _put(ct, "user_identity.session_context.mfa_authenticated", attributes.get("mfaAuthenticated"))
    creation = attributes.get("creationDate")
    creation_ms = _parse_iso(creation) if isinstance(creation, str) else None
    if creation_ms is not None:
        _put(ct, "user_identity.session_context.creation_date", _format_ms(creation_ms))
    _put(ct, "user_identity.session_context.session_issuer.type", issuer.get("type"))
    if _get(doc, "user.name") is None:      # rename fails when user.name already exists
        _put(doc, "user.name", issuer.get("userName"))
    _put(ct, "user_identity.session_context.session_issuer.principal_id", issuer.get("principalId"))
    _put(ct, "user_identity.session_context.session_issuer.arn", issuer.get("arn"))
    _put(ct, "user_identity.session_context.session_issuer.account_id", issuer.get("accountId"))
    _put(ct, "user_identity.invoked_by", ui.get("invokedBy"))

    _put(event, "provider", json.get("eventSource"))
    if json.get("eventName") is not None:
        _put(event, "action", _mustache(json["eventName"]) or None)
    _put(ct, "event_category", json.get("eventCategory"))
    _put(doc, "cloud.region", json.get("awsRegion"))
    address = json.get("sourceIPAddress")
    if address is not None:
        _put(doc, "source.address", address)
        if isinstance(address, str) and _is_ip(address):
            _put(doc, "source.ip", address)
    _put(doc, "user_agent.original", json.get("userAgent"))
    _put(ct, "error_code", json.get("errorCode"))
    _put(ct, "error_message", json.get("errorMessage"))

    # The stringify-and-flatten script dereferences ctx.aws.cloudtrail: it fails (ignored) when
    # nothing has created that object yet, which only happens for records without eventVersion.
    flattened: Optional[Dict[str, Any]] = None
    if ct:
        flattened = {}
        ct["flattened"] = flattened
        for source, target in (("requestParameters", "request_parameters"),
                               ("responseElements", "response_elements"),
                               ("additionalEventData", "additional_eventdata"),
                               ("serviceEventDetails", "service_event_details")):
            value = json.get(source)
            if value is None:
                continue
            text = java_to_string(value)
            ct[target] = text
            if _utf16_len(text) < _FLATTENED_MAX_CHARS:
                flattened[target] = value

    _put(ct, "request_id", json.get("requestID"))
    _put(event, "id", json.get("eventID"))
    _put(ct, "event_type", json.get("eventType"))
    _put(ct, "api_version", json.get("apiVersion"))
    _put(ct, "management_event", json.get("managementEvent"))
    _put(ct, "read_only", json.get("readOnly"))
    resources = json.get("resources")
    if isinstance(resources, list):
        resources = _dedupe_resources(resources)
    _put(ct, "resources", resources)
    _put(ct, "recipient_account_id", json.get("recipientAccountId"))
    _put(ct, "shared_event_id", json.get("sharedEventId"))     # sic: AWS writes sharedEventID
    _put(ct, "vpc_endpoint_id", json.get("vpcEndpointId"))

    request = _dict_or_none(flattened, "request_parameters")
    response = _dict_or_none(flattened, "response_elements")
    for key in ("userName", "newUserName"):
        if request is not None and request.get(key) is not None:
            _append_unique(doc, "related.user", _mustache(request[key]))

    if json.get("eventName") == "ConsoleLogin":
        _console_login_booleans(ct, _dict_or_none(flattened, "additional_eventdata"))

    if ct:
        doc.setdefault("aws", {})["cloudtrail"] = ct
    if not _categorize(event, ct, response):
        return _finish(doc, ingested, enrichment)

    # Later processors: only reached when categorization did not fail.
    if _get(doc, "cloud.account.id") is None:
        _put(doc, "cloud.account.id", json.get("awsAccountId"))
    for target, obj, path in (("group.id", response, "group.groupId"),
                              ("user.target.id", response, "user.userId"),
                              ("user.changes.name", request, "newUserName"),
                              ("group.name", request, "groupName"),
                              ("user.target.name", request, "userName")):
        value = _mustache(_get(obj, path)) if obj is not None else ""
        if value:
            _put(doc, target, value)
    tls = json.get("tlsDetails") or {}
    version = tls.get("tlsVersion")
    if version is not None:
        protocol, sep, number = _mustache(version).partition("v")
        if not sep:
            # dissect fails without ignore_failure: the pipeline stops here.
            return _finish(doc, ingested, enrichment)
        _put(doc, "tls.version_protocol", protocol.lower())
        _put(doc, "tls.version", number)
    _put(doc, "tls.cipher", tls.get("cipherSuite"))
    _put(doc, "tls.client.server_name", tls.get("clientProvidedHostHeader"))
    return _finish(doc, ingested, enrichment)


def get_field(doc: Mapping[str, Any], name: str) -> Any:
    """The value of a dotted field name in a document, or None when it has none.

    Resolves nested objects, keys that themselves contain dots (``{"source.ip": ...}`` is the
    same field as ``{"source": {"ip": ...}}``), arrays of objects (values are collected from
    every element) and sub-keys of flattened objects
    (``aws.cloudtrail.flattened.response_elements.ConsoleLogin``). A field found at one place
    is returned as stored (a list stays a list); values found at several places come back as
    one flat list. Multi-fields (``aws.cloudtrail.request_parameters.text``) read their parent.
    """
    found: List[Any] = []
    _collect(doc, source_path(name).split("."), 0, found)
    found = [v for v in found if v is not None]
    if not found:
        return None
    if len(found) == 1:
        return found[0]
    flat: List[Any] = []
    for value in found:
        if isinstance(value, list):
            flat.extend(_flatten(value))
        else:
            flat.append(value)
    return flat


def java_to_string(value: Any) -> str:
    """``Object.toString()`` of a value as Elasticsearch's JSON processor built it.

    Objects are java.util.HashMap (``{k=v, k2=v2}``, in HashMap order: ``_clean`` already put
    dict keys in that order), arrays are ArrayList (``[a, b]``), strings print bare, numbers
    as Java prints Integer/Long/Double.
    """
    if isinstance(value, dict):
        return "{" + ", ".join("%s=%s" % (k, java_to_string(v)) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(java_to_string(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _java_double(value)
    if value is None:
        return "null"
    return str(value)


# ----------------------------------------------------------------------------------------------
# Pipeline steps
# ----------------------------------------------------------------------------------------------

def _console_login_booleans(ct: Dict[str, Any], aed: Optional[Dict[str, Any]]) -> None:
    """ConsoleLogin only: MFAUsed / MobileVersion exactly "No" -> false, any other value -> true."""
    if aed is None:
        return
    out: Dict[str, Any] = {}
    if aed.get("MobileVersion") is not None:
        out["mobile_version"] = aed["MobileVersion"] != "No"
    if aed.get("LoginTo") is not None:
        out["login_to"] = aed["LoginTo"]
    if aed.get("MFAUsed") is not None:
        out["mfa_used"] = aed["MFAUsed"] != "No"
    if out:
        ct["console_login"] = {"additional_eventdata": out}


def _categorize(event: Dict[str, Any], ct: Dict[str, Any],
                response: Optional[Dict[str, Any]]) -> bool:
    """The "Add ECS categorization" script. Returns False where the script throws.

    The script reads ``flattened?.response_elements.ConsoleLogin`` for ConsoleLogin: Painless's
    ``?.`` guards one step only, so a ConsoleLogin without a stored responseElements object
    dereferences null. The processor has no ignore_failure, so the pipeline's on_failure handler
    runs and every later processor is skipped (no category, no tls.*). Real ConsoleLogin records
    always carry responseElements; this only matters for malformed ones.
    """
    event["kind"] = "event"
    event["type"] = ["info"]
    failed = ct.get("error_code") is not None or ct.get("error_message") is not None
    event["outcome"] = "failure" if failed else "success"
    action = event.get("action")
    if action is None:
        return True
    if action == "ConsoleLogin":
        if response is None:
            return False
        if response.get("ConsoleLogin") is not None:
            event["outcome"] = _mustache(response["ConsoleLogin"]).lower()
    categorized = CATEGORIZATION.get(action)
    if categorized is not None:
        event["category"] = list(categorized[0])
        event["type"] = list(categorized[1])
    return True


def _dedupe_resources(resources: List[Any]) -> List[Dict[str, Any]]:
    """Rename ARN/accountId and keep one resource per (arn, account_id, type), last one wins."""
    unique: Dict[str, Dict[str, Any]] = {}
    for original in resources:
        if not isinstance(original, dict):
            continue
        resource = dict(original)
        if "ARN" in resource:
            resource["arn"] = resource.pop("ARN")
        if "accountId" in resource:
            resource["account_id"] = resource.pop("accountId")
        key = "%s_%s_%s" % (_mustache(resource.get("arn", "")),
                            _mustache(resource.get("account_id", "")),
                            _mustache(resource.get("type", "")))
        unique[key] = resource          # like HashMap.put: replaces the value, keeps the slot
    return [unique[k] for k in _java_order(tuple(unique))]


def _finish(doc: Dict[str, Any], ingested: Optional[str],
            enrichment: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """What the aws-s3 input and Fleet add around the pipeline, then caller-supplied enrichment."""
    doc["data_stream"] = dict(DATA_STREAM)
    event = doc["event"]
    event["dataset"] = DATA_STREAM["dataset"]
    event["module"] = "aws"
    if ingested is not None:
        event["ingested"] = ingested
    doc.setdefault("cloud", {})["provider"] = "aws"
    if enrichment:
        _deep_merge(doc, enrichment)
    return doc


# ----------------------------------------------------------------------------------------------
# Null/empty dropping and Java HashMap order
# ----------------------------------------------------------------------------------------------

_DROP = object()


def _clean(value: Any) -> Any:
    """The pipeline's recursive drop of null / "" / emptied containers, on a copy.

    Dict keys come out in java.util.HashMap iteration order, computed from *all* original keys
    (a HashMap never shrinks, so dropped keys still decided its capacity).
    """
    if value is None or value == "":
        return _DROP
    if isinstance(value, dict):
        out = {}
        for key in _java_order(tuple(value)):
            cleaned = _clean(value[key])
            if cleaned is not _DROP:
                out[key] = cleaned
        return out if out else _DROP
    if isinstance(value, list):
        items = [c for c in (_clean(v) for v in value) if c is not _DROP]
        return items if items else _DROP
    return value


@functools.lru_cache(maxsize=4096)      # the same object shapes recur record after record
def _java_order(keys: Tuple[str, ...]) -> Tuple[str, ...]:
    """Iteration order of a java.util.HashMap after putting ``keys`` in this order.

    Default capacity 16, load factor 0.75; a bucket reaching 9 entries in a table smaller than 64
    forces a resize (treeifyBin). Entries iterate by bucket index, then in insertion order (splits
    on resize keep relative order). Tree bins (9+ colliding keys in a table of 64+) are not
    modelled: no CloudTrail object comes near that.
    """
    if len(keys) < 2:
        return keys
    hashes = {k: _spread(_java_string_hash(k)) for k in keys}
    capacity = 16
    counts: Dict[int, int] = {}
    for size, key in enumerate(keys, 1):
        index = hashes[key] & (capacity - 1)
        counts[index] = counts.get(index, 0) + 1
        grow = counts[index] >= 9 and capacity < 64
        if size > capacity * 3 // 4 or grow:
            capacity *= 2
            counts = {}
            for placed in keys[:size]:
                i = hashes[placed] & (capacity - 1)
                counts[i] = counts.get(i, 0) + 1
    mask = capacity - 1
    return tuple(sorted(keys, key=lambda k: hashes[k] & mask))   # stable: ties keep insertion order


@functools.lru_cache(maxsize=4096)      # CloudTrail repeats the same few hundred key names
def _java_string_hash(text: str) -> int:
    h = 0
    data = text.encode("utf-16-be", "surrogatepass")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h


def _spread(h: int) -> int:
    return h ^ (h >> 16)


def _java_double(value: float) -> str:
    """Double.toString: plain notation in [1e-3, 1e7), else d.dddE<n>; shortest round-trip digits."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    magnitude = abs(value)
    if magnitude == 0:
        return sign + "0.0"
    exact = Decimal(repr(magnitude)).normalize()     # repr gives the shortest round-trip digits
    _, digit_tuple, exponent = exact.as_tuple()
    digits = "".join(str(d) for d in digit_tuple)
    if 1e-3 <= magnitude < 1e7:
        text = format(exact, "f")
        return sign + (text if "." in text else text + ".0")
    scientific = len(digits) - 1 + exponent
    return "%s%s.%sE%d" % (sign, digits[0], digits[1:] or "0", scientific)


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------

_ISO_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?$")


def _parse_iso(text: str) -> Optional[int]:
    """ISO 8601 (as the ingest ``date`` processor's ISO8601 format reads it) -> epoch ms, or None."""
    m = _ISO_RE.match(text)
    if not m:
        return None
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    h, mi, s = (int(g) if g else 0 for g in m.group(4, 5, 6))
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1]
            and h < 24 and mi < 60 and s < 60):
        return None
    ms = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1000
    if m.group(7):
        ms += int(m.group(7).ljust(9, "0")[:3])
    zone = m.group(8)
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)
        ms -= (1 if zone[0] == "+" else -1) * offset * 60000
    return ms


def _format_ms(ms: int) -> str:
    """The date processor's output: yyyy-MM-dd'T'HH:mm:ss.SSSZ in UTC."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".%03dZ" % millis


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _mustache(value: Any) -> str:
    """How an ingest template ``{{field}}`` renders a value (no escaping for ingest templates)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return java_to_string(value)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _put(target: Dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    parts = path.split(".")
    node = target
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def _get(source: Optional[Mapping[str, Any]], path: str) -> Any:
    node: Any = source
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _append_unique(doc: Dict[str, Any], path: str, value: str) -> None:
    values = _get(doc, path)
    if values is None:
        _put(doc, path, [value])
    elif value not in values:
        values.append(value)


def _dict_or_none(flattened: Optional[Mapping[str, Any]], key: str) -> Optional[Dict[str, Any]]:
    if flattened is None:
        return None
    value = flattened.get(key)
    return value if isinstance(value, dict) else None


def _deep_merge(target: Dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _check_objects(record: Mapping[str, Any]) -> None:
    for path in _OBJECT_KEYS:
        value = _get(record, path)
        if value is not None and not isinstance(value, dict):
            raise EcsMappingError(path, "expected an object, got %s" % kind_of(value))


def _collect(node: Any, parts: List[str], i: int, out: List[Any]) -> None:
    """Values at parts[i:] below node: nested keys, dotted keys and arrays of objects."""
    if i == len(parts):
        out.append(node)
        return
    if isinstance(node, list):
        for item in node:
            if isinstance(item, (dict, list)):
                _collect(item, parts, i, out)
        return
    if not isinstance(node, Mapping):
        return
    if parts[i] in node:
        _collect(node[parts[i]], parts, i + 1, out)
    for j in range(i + 2, len(parts) + 1):
        key = ".".join(parts[i:j])
        if key in node:
            _collect(node[key], parts, j, out)


def _flatten(values: List[Any]) -> List[Any]:
    out: List[Any] = []
    for value in values:
        if isinstance(value, list):
            out.extend(_flatten(value))
        elif value is not None:
            out.append(value)
    return out
