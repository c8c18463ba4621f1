"""One raw CloudTrail record -> the document Elastic's AWS integration indexes into logs-aws.cloudtrail-*.

This reproduces the AWS integration's CloudTrail ingest pipeline
(``packages/aws/data_stream/cloudtrail/elasticsearch/ingest_pipeline/default.yml``) as of package
**8.9.0** (``AWS_PACKAGE_VERSION``; elastic/integrations 3ab4281, changelog entry 8.9.0 / PR #21870,
the newest version of the file readable here), plus what the aws-s3 input and Fleet add around it.
The result is a nested dict, as ``_source`` would be. The pipeline calls no sub-pipeline any more
(``third-party`` is no longer referenced; the entity logic is an inline script, not reproduced).

Behaviour worth knowing, each one taken from the pipeline (processor tags in brackets):

- Null, ``""``, ``"-"`` and ``"none"`` values, and objects/arrays left empty by that, are dropped
  before anything else [script_remove_nulls_before_renames].
- ``user.name`` is ``userIdentity.userName``; for ``AssumedRole`` and ``FederatedUser`` it is then
  *overwritten* by ``sessionContext.sessionIssuer.userName`` [rename_user_name_assumed_role_b771e356,
  ``override: true``]. For ``UserAuthentication`` without one it is ``additionalEventData.UserName``,
  which is moved out of the payload before it is stringified [rename_additionalEventData_UserName_...].
- ``user.id`` is ``userIdentity.principalId``; for ``IdentityCenterUser`` without one it is
  ``onBehalfOf.userId`` [rename_user_id_identity_center_user_a2cfa5f2], also kept in
  ``aws.cloudtrail.user_identity.on_behalf_of.user_id``.
- AWS-service actors (type ``AWSService``, or an ``AssumedRole`` whose issuer ARN contains
  ``:role/aws-service-role/``) get ``service.name`` (``invokedBy``, else the service in the role path)
  and no ``user.name`` / ``user.id`` [script_aws_service_actor_93211d93].
- For ``AssumedRole`` / ``FederatedUser`` / ``IdentityCenterUser`` with an ``...:sts:...`` ARN, the
  session name (after the last ``/``) goes to ``related.user``; when it is an e-mail address its
  local part goes there too and the address becomes ``user.email`` [extract_session_name_from_arn,
  extract_session_name_email_prefix_453956b3, set_user_email_from_session_name_39bbd1e6]. A
  ``user.name`` containing ``@`` (not first) also becomes ``user.email`` [set_user_email_d6b77481].
- ``related.user`` order: session name, its e-mail local part, ``requestParameters.userName``,
  ``requestParameters.newUserName``, ``responseElements.user.userId``, ``user.id``, ``user.name``,
  ``user.changes.name``, ``on_behalf_of.user_id`` (no duplicates).
- ``user.target.name`` / ``user.changes.name`` / ``group.name`` / ``user.target.id`` /
  ``group.id`` are copied from ``requestParameters.userName`` / ``.newUserName`` / ``.groupName`` /
  ``responseElements.user.userId`` / ``.group.groupId`` of the record itself (no longer from the
  flattened copies, so huge payloads keep them).
- ``event.outcome`` is ``failure`` when errorCode or errorMessage exists, else ``success``; for
  ``ConsoleLogin`` only, the lower-cased ``responseElements.ConsoleLogin`` replaces it. A ConsoleLogin
  without responseElements is now categorised normally [script_add_ecs_categorization].
  ``serviceEventDetails`` (Identity Center outcomes) is never read for the outcome.
- ``event.category`` / ``event.type`` come from a per-action table; other actions get
  ``event.type: [info]`` and no category.
- ``aws.cloudtrail.console_login.additional_eventdata.*`` is set for ``ConsoleLogin`` only, from the
  record's ``additionalEventData``: ``MFAUsed`` / ``MobileVersion`` exactly ``"No"`` -> false, any
  other value -> true [script_console_login_additional_eventdata].
- ``source.ip`` is ``source.address`` when that is a valid IP [convert_source_address_to_source_ip].
- ``cloud.account.id``: ``userIdentity.accountId``, else ``recipientAccountId``, else ``awsAccountId``.
- ``aws.cloudtrail.management_event`` is converted to a string (``"true"``), ``creationDate`` also
  accepts the basic ISO forms (``20131102T010628Z``), ``cloud.service.name`` is the event source
  without ``.amazonaws.com``, and ``related.ip`` / ``related.hosts`` are filled.
- ``aws.cloudtrail.{request_parameters, response_elements, additional_eventdata,
  service_event_details}`` are Java ``Map.toString()`` strings. The JSON processor builds
  ``java.util.HashMap``s, so the key order is HashMap iteration order; ``_java_order`` computes it
  (bucket index of ``String.hashCode``; checked against java.util.HashMap).
- ``aws.cloudtrail.flattened.*`` keep the objects themselves when their string form is shorter
  than 32766 characters (the default ``retain`` setting).
- Processor failures the pipeline reports instead of stopping (an unparseable ``creationDate``, an
  STS ARN the session-name grok does not match, a non-string ``responseElements.ConsoleLogin``) set
  ``event.kind: pipeline_error``, ``tags: [preserve_original_event]`` and an ``error.message`` entry;
  the message names the processor tag, but its wording after "failed with message:" is ours, not
  Elasticsearch's.

GeoIP (``source.geo.*``, ``source.as.*``) comes from a MaxMind database when one is in use
(harness/elastic/geo.py). Not reproduced: user-agent parsing (only
``user_agent.original``), the entity script (``related.entity``, ``actor.*``, ``target.*``,
``*.entity.id``, ``host.target.id``; it runs only with the ``actor_target_mapping`` tag), ``tags``
set by the integration policy, ``event.original``, the ``retain`` option (``keyword`` / ``flattened``
/ ``minimal`` / ``none``), digest and Insights records. A record whose ``eventTime`` cannot be
parsed is refused (the pipeline would index it with the shipper's time and a pipeline error). Pass
pre-computed fields as ``enrichment`` when a test needs them.
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

from .geo import enrich as _geoip
from .mapping import source_path

AWS_PACKAGE_VERSION = "8.9.0"
# The elastic/integrations commit whose default.yml this module follows.
PIPELINE_COMMIT = "3ab428122032078a49f7d46b08c4586907546c2c"
ECS_VERSION = "8.11.0"
DATA_STREAM = {"type": "logs", "dataset": "aws.cloudtrail", "namespace": "default"}

# The flattened copies are kept only when the string form is shorter than this (Lucene's term limit).
_FLATTENED_MAX_CHARS = 32766

# The pipeline's "script_add_ecs_categorization" table: action -> (event.category, event.type).
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
    "GetCallerIdentity": (["authentication"], ["info"]),
    "DescribeInstances": (["host"], ["info"]),
    "DescribeSecurityGroups": (["network"], ["info"]),
    "ListBuckets": (["file"], ["info"]),
    "DescribeNetworkInterfaces": (["network"], ["info"]),
    "DescribeRegions": (["api"], ["info"]),
    "ListRoles": (["iam"], ["info"]),
    "DescribeVpcs": (["network"], ["info"]),
    "DescribeNetworkAcls": (["network"], ["info"]),
    "DescribeLoadBalancers": (["network"], ["info"]),
    "DescribeVolumes": (["host"], ["info"]),
    "DescribeTrails": (["configuration"], ["info"]),
    "ListFunctions": (["package"], ["info"]),
    "ListTables": (["database"], ["info"]),
    "ListInstanceAssociations": (["host"], ["info"]),
    "DescribeDBInstances": (["database"], ["info"]),
    "AuthorizeSecurityGroupIngress": (["network"], ["access"]),
    "CreateTopic": (["configuration"], ["creation"]),
    "Subscribe": (["configuration"], ["change"]),
    "Publish": (["api"], ["info"]),
    "SendCommand": (["process"], ["start"]),
    "GetPolicy": (["iam"], ["info"]),
    "CreatePolicy": (["iam"], ["creation"]),
    "ListAttachedRolePolicies": (["iam"], ["info"]),
    "AttachRolePolicy": (["iam"], ["change"]),
    "Converse": (["api"], ["info"]),
    "CreateDocument": (["file"], ["creation"]),
    "StartSession": (["session"], ["start"]),
    "CreateControlChannel": (["session"], ["start"]),
    "OpenControlChannel": (["session"], ["start"]),
    "CreateDataChannel": (["session"], ["start"]),
    "OpenDataChannel": (["session"], ["start"]),
    "TerminateSession": (["session"], ["end"]),
    "ListObjects": (["file"], ["info"]),
    "HeadObject": (["file"], ["info"]),
    "GetObject": (["file"], ["info"]),
    "PutObject": (["file"], ["change"]),
    "DeleteTrail": (["configuration"], ["deletion"]),
    "DeleteObject": (["file"], ["deletion"]),
}

# Record keys that must be objects when present (the pipeline would fail or silently skip them
# otherwise, and a fixture with such a value is a broken fixture).
OBJECT_KEYS = (
    "userIdentity", "userIdentity.sessionContext", "userIdentity.sessionContext.attributes",
    "userIdentity.sessionContext.sessionIssuer", "userIdentity.onBehalfOf", "requestParameters",
    "responseElements", "additionalEventData", "serviceEventDetails", "tlsDetails",
)

# userIdentity.* moved as-is to aws.cloudtrail.user_identity.* (after the user fields).
_IDENTITY_RENAMES = (
    ("invokedBy", "invoked_by"),
    ("invokedByDelegate.accountId", "invoked_by_delegate.account_id"),
    ("credentialId", "credential_id"),
    ("identityProvider", "identity_provider"),
    ("inScopeOf.issuerType", "in_scope_of.issuer_type"),
    ("inScopeOf.credentialsIssuedTo", "in_scope_of.credentials_issued_to"),
    ("inScopeOf.sourceArn", "in_scope_of.source_arn"),
    ("inScopeOf.sourceAccount", "in_scope_of.source_account"),
    ("sessionContext.ec2RoleDelivery", "session_context.ec2_role_delivery"),
    ("sessionContext.sourceIdentity", "session_context.source_identity"),
    ("sessionContext.webIdFederationData.federatedProvider",
     "session_context.web_id_federation_data.federated_provider"),
    ("sessionContext.webIdFederationData.attributes",
     "session_context.web_id_federation_data.attributes"),
    ("sessionContext.assumedRoot", "session_context.assumed_root"),
    ("sessionContext.signInSessionArn", "session_context.sign_in_session_arn"),
)

_SESSION_NAME_RE = re.compile(r"^arn:[a-z0-9-]+:sts:.*/(.*)$", re.DOTALL)
_SERVICE_ROLE_MARKER = ":role/aws-service-role/"
_ERROR_TEMPLATE = ("Processor %s with tag %s in pipeline logs-aws.cloudtrail failed with message: "
                   "%s")


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
           enrichment: Optional[Mapping[str, Any]] = None, geo: Any = None) -> Dict[str, Any]:
    """Map one CloudTrail record to its logs-aws.cloudtrail-* document (nested, like ``_source``).

    ``ingested`` becomes ``event.ingested`` (Fleet's final pipeline sets it, not the CloudTrail
    pipeline); ``created`` becomes ``event.created`` (the pipeline copies the shipper's
    ``@timestamp`` there). ``enrichment`` is deep-merged last, for fields the pipeline computes and
    we do not. ``geo`` (harness.geoip.Geo; None: the database in use) feeds the geoip processors
    (``source.geo`` / ``source.as``, harness/elastic/geo.py). Raises EcsMappingError naming the
    field when the record cannot be mapped.
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
        # The pipeline would keep the shipper's read time as @timestamp (and report a pipeline
        # error); a record without a usable eventTime cannot be placed in time, so we refuse it.
        raise EcsMappingError("eventTime", "missing or not an ISO 8601 time: %r" % (event_time,))

    doc: Dict[str, Any] = {}
    event: Dict[str, Any] = {}
    doc["event"] = event
    if created is not None:
        event["created"] = created
    doc["ecs"] = {"version": ECS_VERSION}
    doc["@timestamp"] = _format_ms(parsed)
    ct: Dict[str, Any] = {}            # aws.cloudtrail, attached to the document only if non-empty
    ctx = _Ctx()

    _put(ct, "event_version", json.get("eventVersion"))
    ui = json.get("userIdentity") or {}
    session = ui.get("sessionContext") or {}
    attributes = session.get("attributes") or {}
    issuer = session.get("sessionIssuer") or {}
    behalf = ui.get("onBehalfOf") or {}
    identity_type = ui.get("type")
    _put(ct, "user_identity.type", identity_type)

    service_name = _aws_service_actor(json, identity_type) if "userIdentity" in json else None
    _put(doc, "service.name", service_name)
    if service_name is None:
        _put(doc, "user.name", ui.get("userName"))
        _put(doc, "user.id", ui.get("principalId"))
    _put(ct, "user_identity.arn", ui.get("arn"))
    _put(doc, "cloud.account.id", ui.get("accountId"))
    _put(ct, "user_identity.access_key_id", ui.get("accessKeyId"))
    _put(ct, "user_identity.session_context.mfa_authenticated", attributes.get("mfaAuthenticated"))
    creation = attributes.get("creationDate")
    if creation is not None:
        creation_ms = _parse_date_formats(creation) if isinstance(creation, str) else None
        if creation_ms is not None:
            _put(ct, "user_identity.session_context.creation_date", _format_ms(creation_ms))
        else:
            ctx.error("date", "date_json_userIdentity_sessionContext_attributes_creationDate_to_"
                      "aws_cloudtrail_user_identity_session_context_creation_date_7cf57f10",
                      "unable to parse date [%s]" % (creation,))
    _put(ct, "user_identity.session_context.session_issuer.type", issuer.get("type"))
    if identity_type in ("AssumedRole", "FederatedUser") and service_name is None \
            and issuer.get("userName") is not None:
        _put(doc, "user.name", issuer["userName"])             # rename with override: true
    _put(ct, "user_identity.session_context.session_issuer.principal_id", issuer.get("principalId"))

    # Session name from the STS ARN -> related.user (and user.email when it is an address).
    arn = ct.get("user_identity", {}).get("arn")
    if identity_type in ("AssumedRole", "FederatedUser", "IdentityCenterUser") \
            and isinstance(arn, str) and ":sts:" in arn and "/" in arn:
        match = _SESSION_NAME_RE.match(arn)
        if match is None:
            ctx.error("grok", "extract_session_name_from_arn",
                      "Provided Grok expressions do not match field value: [%s]" % arn)
        elif match.group(1):
            session_name = match.group(1)
            _append_unique(doc, "related.user", session_name)
            if "@" in session_name:
                prefix = session_name.split("@", 1)[0]
                if prefix:
                    _append_unique(doc, "related.user", prefix)
                if _get(doc, "user.email") is None:
                    _put(doc, "user.email", session_name)
    _put(ct, "user_identity.on_behalf_of.user_id", behalf.get("userId"))
    _put(ct, "user_identity.on_behalf_of.identity_store_arn", behalf.get("identityStoreArn"))
    if identity_type == "IdentityCenterUser" and _get(doc, "user.id") is None:
        _put(doc, "user.id", behalf.get("userId"))
    _put(ct, "user_identity.session_context.session_issuer.arn", issuer.get("arn"))
    _put(ct, "user_identity.session_context.session_issuer.account_id", issuer.get("accountId"))
    _put(ct, "session_credential_from_console", json.get("sessionCredentialFromConsole"))
    for source, target in _IDENTITY_RENAMES:
        _put(ct, "user_identity." + target, _get(ui, source))

    source_name = json.get("eventSource")
    if isinstance(source_name, str) and source_name.endswith(".amazonaws.com"):
        _put(doc, "cloud.service.name", source_name[:source_name.find(".amazonaws.com")] or None)
    _put(event, "provider", source_name)
    if json.get("eventName") is not None:
        _put(event, "action", _mustache(json["eventName"]) or None)
    _put(ct, "event_category", json.get("eventCategory"))
    aed_source = json.get("additionalEventData")
    if event.get("action") == "UserAuthentication" and _get(doc, "user.name") is None \
            and aed_source is not None and aed_source.get("UserName") is not None:
        # rename: moved out of json.additionalEventData before the payload is stringified
        _put(doc, "user.name", aed_source.pop("UserName"))
        if not aed_source:
            del json["additionalEventData"]
    doc.setdefault("cloud", {})["provider"] = "aws"
    _put(doc, "cloud.region", json.get("awsRegion"))
    address = json.get("sourceIPAddress")
    if address is not None:
        _put(doc, "source.address", address)
        if isinstance(address, str) and _is_ip(address):
            _put(doc, "source.ip", address)
    _geoip(doc, geo)
    _put(doc, "user_agent.original", json.get("userAgent"))
    _put(ct, "error_code", json.get("errorCode"))
    _put(ct, "error_message", json.get("errorMessage"))

    flattened: Dict[str, Any] = {}
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
    if flattened:
        ct["flattened"] = flattened

    _put(ct, "request_id", json.get("requestID"))
    _put(event, "id", json.get("eventID"))
    _put(ct, "event_type", json.get("eventType"))
    _put(ct, "api_version", json.get("apiVersion"))
    management = json.get("managementEvent")
    if management is not None:        # convert type: string
        _put(ct, "management_event", java_to_string(management))
    _put(ct, "read_only", json.get("readOnly"))
    resources = json.get("resources")
    if isinstance(resources, list):
        resources = _dedupe_resources(resources)
    _put(ct, "resources", resources)
    _put(ct, "recipient_account_id", json.get("recipientAccountId"))
    if _get(doc, "cloud.account.id") is None:
        _put(doc, "cloud.account.id", json.get("recipientAccountId"))
    shared = json.get("sharedEventID")
    _put(ct, "shared_event_id", shared if shared is not None else json.get("sharedEventId"))
    _put(ct, "vpc_endpoint_id", json.get("vpcEndpointId"))
    _put(ct, "vpc_endpoint_account_id", json.get("vpcEndpointAccountId"))
    addendum = json.get("addendum") if isinstance(json.get("addendum"), dict) else {}
    for source, target in (("reason", "reason"), ("updatedFields", "updated_fields"),
                           ("originalRequestID", "original_request_id"),
                           ("originalEventID", "original_event_id")):
        _put(ct, "addendum." + target, addendum.get(source))

    request = json.get("requestParameters") or {}
    response = json.get("responseElements") or {}
    for value in (request.get("userName"), request.get("newUserName"),
                  _get(response, "user.userId")):
        if value is not None:
            _append_unique(doc, "related.user", _mustache(value))

    if json.get("eventName") == "ConsoleLogin":
        _console_login_booleans(ct, json.get("additionalEventData"))

    _categorize(event, ct, json, ctx)
    if _get(doc, "cloud.account.id") is None:
        _put(doc, "cloud.account.id", json.get("awsAccountId"))
    for target, obj, path in (("group.id", response, "group.groupId"),
                              ("user.target.id", response, "user.userId"),
                              ("user.changes.name", request, "newUserName"),
                              ("group.name", request, "groupName"),
                              ("user.target.name", request, "userName")):
        value = _get(obj, path)
        if value is not None:               # set copy_from, ignore_empty_value: copied as-is
            _put(doc, target, copy.deepcopy(value))
    _tls(doc, ct, json.get("tlsDetails"))

    name = _get(doc, "user.name")
    if _get(doc, "user.email") is None and isinstance(name, str) and name.find("@") > 0:
        _put(doc, "user.email", name)
    for value in (_get(doc, "user.id"), name, _get(doc, "user.changes.name"),
                  _get(ct, "user_identity.on_behalf_of.user_id")):
        if value is not None:
            _append_unique(doc, "related.user", _mustache(value))
    _related_addresses(doc, json)

    if ct:
        doc.setdefault("aws", {})["cloudtrail"] = ct
    return _finish(doc, ingested, enrichment, ctx)


_FIELD_PARTS: Dict[str, List[str]] = {}  # get_field: a field name's _source path, split


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
    parts = _FIELD_PARTS.get(name)
    if parts is None:
        parts = _FIELD_PARTS[name] = source_path(name).split(".")
    _collect(doc, parts, 0, found)
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

class _Ctx:
    """Processor failures the pipeline records (processor-level on_failure) instead of stopping."""

    def __init__(self) -> None:
        self.errors: List[str] = []

    def error(self, processor: str, tag: str, message: str) -> None:
        self.errors.append(_ERROR_TEMPLATE % (processor, tag, message))


def _aws_service_actor(json: Mapping[str, Any], identity_type: Any) -> Optional[str]:
    """script_aws_service_actor_93211d93: the AWS service acting, or None for people."""
    ui = json.get("userIdentity") or {}
    invoked_by = ui.get("invokedBy")
    invoked_by = invoked_by if isinstance(invoked_by, str) else None
    name = None
    if identity_type == "AWSService":
        name = invoked_by
    elif identity_type == "AssumedRole":
        issuer_arn = _get(ui, "sessionContext.sessionIssuer.arn")
        start = issuer_arn.find(_SERVICE_ROLE_MARKER) if isinstance(issuer_arn, str) else -1
        if start >= 0:
            rest = issuer_arn[start + len(_SERVICE_ROLE_MARKER):]
            slash = rest.find("/")
            name = invoked_by if invoked_by is not None else (rest[:slash] if slash > 0 else None)
    return name or None


def _console_login_booleans(ct: Dict[str, Any], aed: Optional[Dict[str, Any]]) -> None:
    """ConsoleLogin only: MFAUsed / MobileVersion exactly "No" -> false, any other value -> true."""
    if not isinstance(aed, dict):
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


def _categorize(event: Dict[str, Any], ct: Dict[str, Any], json: Mapping[str, Any],
                ctx: "_Ctx") -> None:
    """The "script_add_ecs_categorization" script.

    ConsoleLogin reads ``json.responseElements?.ConsoleLogin`` (null-safe, so a ConsoleLogin
    without responseElements is categorised like any other); a non-string value makes
    ``Processors.lowercase`` throw, which the processor's on_failure records, and the category
    is then not applied.
    """
    event["kind"] = "event"
    event["type"] = ["info"]
    failed = ct.get("error_code") is not None or ct.get("error_message") is not None
    event["outcome"] = "failure" if failed else "success"
    action = event.get("action")
    if action is None:
        return
    if action == "ConsoleLogin":
        value = _get(json, "responseElements.ConsoleLogin")
        if value is not None:
            if not isinstance(value, str):
                ctx.error("script", "script_add_ecs_categorization",
                          "cannot lowercase a %s" % kind_of(value))
                return
            event["outcome"] = value.lower()
    categorized = CATEGORIZATION.get(action)
    if categorized is not None:
        event["category"] = list(categorized[0])
        event["type"] = list(categorized[1])


def _tls(doc: Dict[str, Any], ct: Dict[str, Any], tls: Any) -> None:
    if not isinstance(tls, dict) or tls.get("tlsVersion") == "tlsVersion":
        return
    version = tls.get("tlsVersion")
    if version is not None:
        protocol, sep, number = (version.partition("v") if isinstance(version, str)
                                 else ("", "", ""))
        if sep:
            if protocol:
                _put(doc, "tls.version_protocol", protocol.lower())
            if number:
                _put(doc, "tls.version", number)
        else:       # dissect's on_failure: the raw value goes to tls.version
            _put(doc, "tls.version", version)
    _put(doc, "tls.cipher", tls.get("cipherSuite"))
    _put(doc, "tls.client.server_name", tls.get("clientProvidedHostHeader"))
    _put(ct, "tls_details.key_exchange", tls.get("keyExchange"))


def _related_addresses(doc: Dict[str, Any], json: Mapping[str, Any]) -> None:
    """related.ip and related.hosts, in the pipeline's order."""
    ip = _get(doc, "source.ip")
    if ip is not None:
        _append_unique(doc, "related.ip", ip)
    service_ip = _get(json, "serviceEventDetails.sourceIpAddress")
    if isinstance(service_ip, str) and _is_ip(service_ip):
        _append_unique(doc, "related.ip", service_ip)
    server = _get(doc, "tls.client.server_name")
    if isinstance(server, str) and not server.endswith(".amazonaws.com"):
        _append_unique(doc, "related.hosts", server)
    address = _get(doc, "source.address")
    if ip is None and isinstance(address, str) and "." in address and " " not in address \
            and not address.endswith(".amazonaws.com"):
        _append_unique(doc, "related.hosts", address)
    computer = _get(json, "requestParameters.computerName")
    if computer is not None:
        _append_unique(doc, "related.hosts", _mustache(computer))
    found: List[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 10 and value.startswith("i-") \
                and value not in found:
            found.append(value)

    resources = json.get("resources")
    if isinstance(resources, list):
        for resource in _dedupe_resources(resources):
            arn = resource.get("arn")
            if isinstance(arn, str) and ":instance/" in arn:
                add(arn[arn.rfind("/") + 1:])
    for container in (json.get("requestParameters"), json.get("responseElements")):
        if not isinstance(container, dict):
            continue
        for key in ("instanceId", "target", "resourceId"):
            add(container.get(key))
        if isinstance(container.get("instanceIds"), list):
            for value in container["instanceIds"]:
                add(value)
        items = _get(container, "instancesSet.items")
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict):
                    add(item.get("instanceId"))
    for host in found:
        _append_unique(doc, "related.hosts", host)


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
            enrichment: Optional[Mapping[str, Any]], ctx: Optional["_Ctx"] = None) -> Dict[str, Any]:
    """Recorded processor failures, what the aws-s3 input and Fleet add, then enrichment."""
    if ctx is not None and ctx.errors:
        doc["error"] = {"message": list(ctx.errors)}
        doc["event"]["kind"] = "pipeline_error"
        doc["tags"] = ["preserve_original_event"]
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
# script_remove_nulls_before_renames drops these string values too (anywhere in the record).
_DROPPED_STRINGS = frozenset(("", "-", "none"))


def _clean(value: Any) -> Any:
    """The pipeline's recursive drop of null / "" / "-" / "none" / emptied containers, on a copy.

    Dict keys come out in java.util.HashMap iteration order, computed from *all* original keys
    (a HashMap never shrinks, so dropped keys still decided its capacity).
    """
    t = type(value)
    if t is str:  # the common cases first, by exact type (json gives exact types)
        return _DROP if value in _DROPPED_STRINGS else value
    if t is bool or t is int:
        return value
    if value is None or (isinstance(value, str) and value in _DROPPED_STRINGS):
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


_BASIC_RE = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{3}))?"
                       r"(Z|[+-]\d{2}:?\d{2})$")


def _parse_date_formats(text: str) -> Optional[int]:
    """creationDate's formats: ISO8601, then basic_date_time_no_millis / basic_date_time."""
    ms = _parse_iso(text)
    if ms is not None:
        return ms
    m = _BASIC_RE.match(text)
    if not m:
        return None
    zone = m.group(8)
    iso = "%s-%s-%sT%s:%s:%s%s%s" % (m.group(1), m.group(2), m.group(3), m.group(4), m.group(5),
                                     m.group(6), "." + m.group(7) if m.group(7) else "", zone)
    return _parse_iso(iso)


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


# dotted paths split once: the mapping puts and gets ~80 fixed paths per record
_PATH_PARTS: Dict[str, Tuple[str, ...]] = {}
_PATH_HEADS: Dict[str, Tuple[Tuple[str, ...], str]] = {}


def _put(target: Dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    split = _PATH_HEADS.get(path)
    if split is None:
        parts = path.split(".")
        split = _PATH_HEADS[path] = (tuple(parts[:-1]), parts[-1])
    node = target
    for part in split[0]:
        node = node.setdefault(part, {})
    node[split[1]] = value


def _get(source: Optional[Mapping[str, Any]], path: str) -> Any:
    node: Any = source
    parts = _PATH_PARTS.get(path)
    if parts is None:
        parts = _PATH_PARTS[path] = tuple(path.split("."))
    for part in parts:
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
    for path in OBJECT_KEYS:
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
    if type(node) is not dict and not isinstance(node, Mapping):  # typing.Mapping's check is slow
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
