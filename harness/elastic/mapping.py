"""The logs-aws.cloudtrail-* index mapping, for every field ``ecs.to_ecs`` can produce.

Fields follow what the CloudTrail pipeline of AWS package 8.9.0 writes (see ``ecs.py``): since the
2.2x pipeline it also writes ``user.email``, ``cloud.service.name``, ``service.name``,
``related.ip`` / ``related.hosts``, ``error.message`` / ``tags`` on processor failures and more
``aws.cloudtrail.user_identity.*`` sub-fields. Types follow the AWS integration's field definitions (``data_stream/cloudtrail/fields/*.yml``)
and the ECS definitions it imports; ``ignore_above`` follows Fleet, which gives keyword fields
1024 unless the package says otherwise (8191 for request_parameters / response_elements). The
same table drives the local evaluators (typed comparison) and ``index_template()`` for the
Docker tier, so the two cannot drift.

Also mapped, although ``to_ecs`` does not compute them offline, are the GeoIP and user-agent
fields the real pipeline adds (``source.geo.*``, ``source.as.*``, ``user_agent.*``): rules may
reference them, and fixtures can supply them through ``to_ecs(..., enrichment=...)``.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

TEMPLATE_NAME = "awssignin-logs-aws.cloudtrail"
INDEX_PATTERNS = ["logs-aws.cloudtrail-*"]
# Above the built-in logs template (priority 100, pattern logs-*-*) so ours wins.
TEMPLATE_PRIORITY = 200
KEYWORD_IGNORE_ABOVE = 1024

FIELDS: Dict[str, str] = {
    "@timestamp": "date",
    "data_stream.type": "constant_keyword",
    "data_stream.dataset": "constant_keyword",
    "data_stream.namespace": "constant_keyword",
    "ecs.version": "keyword",
    "event.action": "keyword",
    "event.category": "keyword",
    "event.created": "date",
    "event.dataset": "constant_keyword",
    "event.id": "keyword",
    "event.ingested": "date",
    "event.kind": "keyword",
    "event.module": "constant_keyword",
    "event.outcome": "keyword",
    "event.provider": "keyword",
    "event.type": "keyword",
    "cloud.account.id": "keyword",
    "cloud.provider": "keyword",
    "cloud.region": "keyword",
    "cloud.service.name": "keyword",
    "service.name": "keyword",
    "error.message": "match_only_text",
    "tags": "keyword",
    "source.address": "keyword",
    "source.ip": "ip",
    "source.as.number": "long",
    "source.as.organization.name": "keyword",
    "source.as.organization.name.text": "match_only_text",
    "source.geo.city_name": "keyword",
    "source.geo.continent_name": "keyword",
    "source.geo.country_iso_code": "keyword",
    "source.geo.country_name": "keyword",
    "source.geo.location": "geo_point",
    "source.geo.region_iso_code": "keyword",
    "source.geo.region_name": "keyword",
    "user.id": "keyword",
    "user.name": "keyword",
    "user.name.text": "match_only_text",
    "user.email": "keyword",
    "user.changes.name": "keyword",
    "user.changes.name.text": "match_only_text",
    "user.target.id": "keyword",
    "user.target.name": "keyword",
    "user.target.name.text": "match_only_text",
    "group.id": "keyword",
    "group.name": "keyword",
    "related.user": "keyword",
    "related.ip": "ip",
    "related.hosts": "keyword",
    "user_agent.original": "keyword",
    "user_agent.original.text": "match_only_text",
    "user_agent.name": "keyword",
    "user_agent.version": "keyword",
    "user_agent.device.name": "keyword",
    "user_agent.os.full": "keyword",
    "user_agent.os.full.text": "match_only_text",
    "user_agent.os.name": "keyword",
    "user_agent.os.name.text": "match_only_text",
    "user_agent.os.version": "keyword",
    "tls.version_protocol": "keyword",
    "tls.version": "keyword",
    "tls.cipher": "keyword",
    "tls.client.server_name": "keyword",
    "aws.cloudtrail.event_version": "keyword",
    "aws.cloudtrail.event_category": "keyword",
    "aws.cloudtrail.user_identity.type": "keyword",
    "aws.cloudtrail.user_identity.arn": "keyword",
    "aws.cloudtrail.user_identity.access_key_id": "keyword",
    "aws.cloudtrail.user_identity.invoked_by": "keyword",
    "aws.cloudtrail.user_identity.invoked_by_delegate.account_id": "keyword",
    "aws.cloudtrail.user_identity.on_behalf_of.user_id": "keyword",
    "aws.cloudtrail.user_identity.on_behalf_of.identity_store_arn": "keyword",
    "aws.cloudtrail.user_identity.credential_id": "keyword",
    "aws.cloudtrail.user_identity.identity_provider": "keyword",
    "aws.cloudtrail.user_identity.in_scope_of.issuer_type": "keyword",
    "aws.cloudtrail.user_identity.in_scope_of.credentials_issued_to": "keyword",
    "aws.cloudtrail.user_identity.in_scope_of.source_arn": "keyword",
    "aws.cloudtrail.user_identity.in_scope_of.source_account": "keyword",
    "aws.cloudtrail.user_identity.session_context.ec2_role_delivery": "keyword",
    "aws.cloudtrail.user_identity.session_context.source_identity": "keyword",
    "aws.cloudtrail.user_identity.session_context.web_id_federation_data.federated_provider":
        "keyword",
    "aws.cloudtrail.user_identity.session_context.web_id_federation_data.attributes":
        "flattened",
    "aws.cloudtrail.user_identity.session_context.assumed_root": "keyword",
    "aws.cloudtrail.user_identity.session_context.sign_in_session_arn": "keyword",
    "aws.cloudtrail.session_credential_from_console": "keyword",
    "aws.cloudtrail.user_identity.session_context.mfa_authenticated": "keyword",
    "aws.cloudtrail.user_identity.session_context.creation_date": "date",
    "aws.cloudtrail.user_identity.session_context.session_issuer.type": "keyword",
    "aws.cloudtrail.user_identity.session_context.session_issuer.principal_id": "keyword",
    "aws.cloudtrail.user_identity.session_context.session_issuer.arn": "keyword",
    "aws.cloudtrail.user_identity.session_context.session_issuer.account_id": "keyword",
    "aws.cloudtrail.error_code": "keyword",
    "aws.cloudtrail.error_message": "keyword",
    "aws.cloudtrail.request_parameters": "keyword",
    "aws.cloudtrail.request_parameters.text": "text",
    "aws.cloudtrail.response_elements": "keyword",
    "aws.cloudtrail.response_elements.text": "text",
    "aws.cloudtrail.additional_eventdata": "keyword",
    "aws.cloudtrail.additional_eventdata.text": "text",
    "aws.cloudtrail.service_event_details": "keyword",
    "aws.cloudtrail.service_event_details.text": "text",
    "aws.cloudtrail.request_id": "keyword",
    "aws.cloudtrail.event_type": "keyword",
    "aws.cloudtrail.api_version": "keyword",
    "aws.cloudtrail.management_event": "keyword",
    "aws.cloudtrail.read_only": "boolean",
    "aws.cloudtrail.resources.arn": "keyword",
    "aws.cloudtrail.resources.account_id": "keyword",
    "aws.cloudtrail.resources.type": "keyword",
    "aws.cloudtrail.recipient_account_id": "keyword",
    "aws.cloudtrail.shared_event_id": "keyword",
    "aws.cloudtrail.vpc_endpoint_id": "keyword",
    "aws.cloudtrail.vpc_endpoint_account_id": "keyword",
    "aws.cloudtrail.addendum.reason": "keyword",
    "aws.cloudtrail.addendum.updated_fields": "keyword",
    "aws.cloudtrail.addendum.original_request_id": "keyword",
    "aws.cloudtrail.addendum.original_event_id": "keyword",
    "aws.cloudtrail.tls_details.key_exchange": "keyword",
    "aws.cloudtrail.console_login.additional_eventdata.mfa_used": "boolean",
    "aws.cloudtrail.console_login.additional_eventdata.mobile_version": "boolean",
    "aws.cloudtrail.console_login.additional_eventdata.login_to": "keyword",
    "aws.cloudtrail.flattened.request_parameters": "flattened",
    "aws.cloudtrail.flattened.response_elements": "flattened",
    "aws.cloudtrail.flattened.additional_eventdata": "flattened",
    "aws.cloudtrail.flattened.service_event_details": "flattened",
}

# constant_keyword values: every document of the index has them, in _source or not.
CONSTANT_VALUES: Dict[str, str] = {
    "data_stream.type": "logs",
    "data_stream.dataset": "aws.cloudtrail",
    "data_stream.namespace": "default",
    "event.dataset": "aws.cloudtrail",
    "event.module": "aws",
}

# Fields whose keyword limit is not Fleet's default.
_IGNORE_ABOVE: Dict[str, int] = {
    "aws.cloudtrail.request_parameters": 8191,
    "aws.cloudtrail.response_elements": 8191,
}

# Multi-fields: the sub-field name -> the field whose _source value it indexes.
MULTI_FIELDS: Dict[str, str] = {
    name: name.rsplit(".", 1)[0] for name in FIELDS
    if name.endswith(".text") and name.rsplit(".", 1)[0] in FIELDS
}

_OBJECTS = frozenset(
    ".".join(name.split(".")[:i]) for name in FIELDS if name not in MULTI_FIELDS
    for i in range(1, name.count(".") + 1)
) - frozenset(FIELDS)

_FLATTENED_ROOTS = tuple(sorted(name for name, kind in FIELDS.items() if kind == "flattened"))


def field_type(name: str) -> Optional[str]:
    """The mapped type of a field, or None when it is not mapped.

    A sub-key of a flattened field (``aws.cloudtrail.flattened.response_elements.ConsoleLogin``)
    is queryable and behaves as a keyword, so it reports ``keyword``; ``flattened_root`` tells
    the two apart. Object paths (``aws.cloudtrail``) are not fields: None (see ``is_object``).
    """
    kind = FIELDS.get(name)
    if kind is not None:
        return kind
    if flattened_root(name) is not None:
        return "keyword"
    return None


def flattened_root(name: str) -> Optional[str]:
    """The flattened field that ``name`` is a sub-key of (or is), else None."""
    for root in _FLATTENED_ROOTS:
        if name == root or name.startswith(root + "."):
            return root
    return None


def is_object(name: str) -> bool:
    """True for an object path that holds mapped fields (``aws.cloudtrail.console_login``)."""
    return name in _OBJECTS


def fields_under(name: str) -> list:
    """Mapped leaf fields below an object path (multi-fields excluded), sorted."""
    prefix = name + "."
    return sorted(f for f in FIELDS if f.startswith(prefix) and f not in MULTI_FIELDS)


def source_path(name: str) -> str:
    """Where a field's value lives in _source: a multi-field reads its parent."""
    return MULTI_FIELDS.get(name, name)


def ignore_above(name: str) -> Optional[int]:
    """Longest keyword value that is indexed (longer values are stored but never match)."""
    if FIELDS.get(name) != "keyword":
        return None
    return _IGNORE_ABOVE.get(name, KEYWORD_IGNORE_ABOVE)


def constant_value(name: str) -> Optional[str]:
    return CONSTANT_VALUES.get(name)


def properties() -> Dict[str, Any]:
    """The ``mappings.properties`` tree for FIELDS."""
    root: Dict[str, Any] = {}
    for name in sorted(FIELDS, key=lambda n: (n in MULTI_FIELDS, n)):
        if name in MULTI_FIELDS:
            parent = _node(root, MULTI_FIELDS[name])
            parent.setdefault("fields", {})[name.rsplit(".", 1)[1]] = {"type": FIELDS[name]}
            continue
        node = _node(root, name)
        node.update(_leaf(name))
    return root


def index_template() -> Dict[str, Any]:
    """Body for ``PUT _index_template/<TEMPLATE_NAME>``.

    ``dynamic: false`` keeps fields we do not map out of the index (still in _source), so a rule
    on an unmapped field matches nothing in Docker exactly as our lint says it would in Kibana.
    ``data_stream.*`` constants are left to the first document, as in Fleet's template.
    """
    return {
        "index_patterns": list(INDEX_PATTERNS),
        "data_stream": {},
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "mappings": {
                "dynamic": False,
                "date_detection": False,
                "properties": properties(),
            },
        },
        "_meta": {"managed_by": "awssignin",
                  "description": "AWS integration CloudTrail fields used by awssignin rules"},
    }


def _leaf(name: str) -> Dict[str, Any]:
    kind = FIELDS[name]
    leaf: Dict[str, Any] = {"type": kind}
    if kind == "keyword":
        leaf["ignore_above"] = ignore_above(name)
    if kind == "constant_keyword" and name.startswith("event."):
        leaf["value"] = CONSTANT_VALUES[name]
    return leaf


def _node(root: Dict[str, Any], name: str) -> Dict[str, Any]:
    parts = name.split(".")
    node = root
    for part in parts[:-1]:
        node = node.setdefault(part, {}).setdefault("properties", {})
    return node.setdefault(parts[-1], {})
