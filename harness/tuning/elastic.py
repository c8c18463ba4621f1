"""Tuning compiled for Elastic: exception lists and items, rule links, and rule field overrides.

Kibana's mechanism, and the facts this module rests on:

- Exception containers and items: ``POST /api/exception_lists`` (``list_id``, ``name``,
  ``description``, ``type: detection``, ``namespace_type: single``) and ``POST
  /api/exception_lists/items`` (``list_id``, ``item_id``, ``name``, ``description``, ``type:
  simple``, ``namespace_type``, ``entries``); a rule uses a list through its ``exceptions_list``
  ``[{id, list_id, namespace_type, type}]`` (Elastic Security docs, "Create exception container",
  "Create exception item": https://www.elastic.co/guide/en/security/8.4/exceptions-api-create-exception-item.html).
- Entry types are ``match``, ``match_any``, ``list``, ``exists``, ``nested``, ``wildcard``; the
  entries of one item are ANDed, the items of a rule's lists ORed, and an event any item matches is
  excluded (same page: "Boolean AND logic is used to evaluate the relationship between array
  elements. If you want to use OR logic, create a separate exception item"; elastic/kibana
  x-pack/solutions/security/plugins/lists/server/services/exception_lists/build_exception_filter.ts:
  items -> ``bool.should``, entries -> ``bool.filter``, negated; ``match`` and each ``match_any``
  value -> ``match_phrase``).
- Exceptions filter the *source events* of every rule type used here, before the rule's logic:
  query and threshold rules search with the exception filter, and EQL rules (our sequences) send it
  as the EQL request's ``filter``, which Elasticsearch applies to events before sequence matching
  (elastic/kibana .../rule_types/eql/build_eql_search_request.ts: ``exceptionFilter`` into
  ``filter.bool.filter``). So an allowed event never joins a threshold count or a sequence.
- ``source.ip`` is an ``ip`` field (harness/elastic/mapping.py) that the integration's pipeline sets
  from ``sourceIPAddress`` when that is an address (harness/elastic/ecs.py); a query on an ip field
  with a CIDR value matches the addresses in the network (Elasticsearch reference, "IP field type",
  Querying ip fields). That a ``match_phrase`` on an ip field is evaluated as that term query is
  Elasticsearch's handling of match queries on non-text fields; we have no Kibana test data with a
  CIDR in an exception entry (unverified against a live Kibana).

Field names come from harness/elastic/querygen.py's ``ECS_FIELDS`` (``source.ip`` for addresses, the
ip-typed twin of ``source_ip``'s ``source.address``; ``user.name`` for an IAM user's name: for IAM
users the pipeline copies ``userIdentity.userName`` there, for sessions it writes the issuer's
name, so a by-name principal also requires ``userIdentity.type: IAMUser``).
"""

import ipaddress

from ..elastic import mapping, rules
from ..elastic.ecs import get_field
from ..elastic.querygen import ECS_FIELDS

LIST_PREFIX = "awssignin-tuning"
SHARED_LIST_ID = LIST_PREFIX + "-shared"
NAMESPACE = "single"
TAG = "awssignin-tuning"
SOURCE_IP = "source.ip"


def rule_list_id(detection_id):
    return "%s-%s" % (LIST_PREFIX, detection_id)


def _values(field, values):
    values = list(values)
    if len(values) == 1:
        return {"field": field, "operator": "included", "type": "match", "value": values[0]}
    return {"field": field, "operator": "included", "type": "match_any", "value": values}


def _principal_entries(p):
    if "arn" in p:
        return [_values(ECS_FIELDS["arn"], [p["arn"]])]
    return [_values(ECS_FIELDS["identity_type"], ["IAMUser"]),
            _values("user.name", [p["user_name"]]),
            _values(ECS_FIELDS["account_id"], [p["account"]])]


def entry_items(entry):
    """The exception items' ``entries`` for one allowlist entry: one item per principal (OR needs
    separate items), each ANDing the entry's other conditions."""
    common = []
    if entry.networks:
        common.append(_values(SOURCE_IP, [n.with_prefixlen if n.prefixlen != n.max_prefixlen
                                          else str(n.network_address) for n in entry.networks]))
    if entry.accounts:
        common.append(_values(ECS_FIELDS["account_id"], entry.accounts))
    agents = [_values(ECS_FIELDS["user_agent"], entry.user_agents)] if entry.user_agents else []
    if entry.countries:
        # the GeoIP processor's ISO code, what the geo rules read (querygen ECS_FIELDS source_country)
        common.append(_values(ECS_FIELDS["source_country"], entry.countries))
    if not entry.principals:
        return [common]
    return [common + _principal_entries(p) + agents for p in entry.principals]


def _item_id(entry, n, count):
    base = "%s-%s" % (LIST_PREFIX, entry.label.replace("/", "-"))
    return base if count == 1 else "%s-%d" % (base, n + 1)


def items_of(entry):
    """The Kibana exception items (create-item bodies) of one entry."""
    groups = entry_items(entry)
    list_id = SHARED_LIST_ID if entry.scope is None else rule_list_id(entry.scope)
    out = []
    for n, entries in enumerate(groups):
        out.append({
            "list_id": list_id,
            "item_id": _item_id(entry, n, len(groups)),
            "name": "awssignin allowlist: %s" % entry.label,
            "description": entry.reason or "Allowlist entry %s of the awssignin tuning file." % entry.label,
            "type": "simple",
            "namespace_type": NAMESPACE,
            "entries": entries,
            "tags": [TAG],
        })
    return out


def rule_overrides(detection, params):
    """The rule fields the parameters change ({field: value}), as ``rules.kibana_rule`` writes them."""
    if not params:
        return {}
    shipped, tuned = rules.kibana_rule(detection), rules.kibana_rule(detection, params)
    return dict((k, tuned[k]) for k in sorted(tuned) if shipped.get(k) != tuned[k])


def elastic_plan(tuning, detections):
    """What deploy must ensure on a Kibana space for this tuning:

    ``lists``: exception containers to create when missing (create-list bodies);
    ``items``: exception items to create or update (create-item bodies), by ``item_id``;
    ``rules``: {rule_id: {"detection", "exception_lists": [list_id, ...], "fields": {field: value}}}
    for every detection of the pack (a rule the tuning no longer touches gets no lists and no
    fields, so deploy unlinks ours and restores the pack's values).

    Every container and item carries the tag ``awssignin-tuning`` and a list_id starting with
    ``awssignin-tuning``: items found in those lists but not in the plan are stale and deploy may
    delete them; lists and items without that prefix are the user's and are never touched."""
    shared = [e for e in tuning.entries if e.scope is None]
    lists = {}
    if shared:
        lists[SHARED_LIST_ID] = _list(SHARED_LIST_ID, "awssignin allowlist (every detection)",
                                      "Allowlist entries of the awssignin tuning file that apply to every detection.")
    items = []
    for entry in tuning.entries:
        if entry.scope is not None and rule_list_id(entry.scope) not in lists:
            lists[rule_list_id(entry.scope)] = _list(
                rule_list_id(entry.scope), "awssignin allowlist: %s" % entry.scope,
                "Allowlist entries of the awssignin tuning file for the detection %s." % entry.scope)
        items.extend(items_of(entry))
    plan_rules = {}
    for det in sorted(detections, key=lambda d: d.id):
        linked = [SHARED_LIST_ID] if shared else []
        if any(e.scope == det.id for e in tuning.entries):
            linked.append(rule_list_id(det.id))
        plan_rules[rules.rule_id(det.id)] = {"detection": det.id, "exception_lists": linked,
                                             "fields": rule_overrides(det, tuning.params_for(det.id))}
    return {"lists": list(lists.values()), "items": items, "rules": plan_rules}


def _list(list_id, name, description):
    return {"list_id": list_id, "name": name, "description": description, "type": "detection",
            "namespace_type": NAMESPACE, "tags": [TAG]}


def linked_exceptions(existing, wanted_list_ids, ids_by_list_id):
    """A rule's new ``exceptions_list``: the user's own references kept as they are (in order), ours
    (list_id starting with ``awssignin-tuning``) replaced by ``wanted_list_ids``. ``ids_by_list_id``
    maps each wanted list_id to the saved-object ``id`` Kibana returned for the container."""
    kept = [ref for ref in (existing or []) if not str(ref.get("list_id", "")).startswith(LIST_PREFIX)]
    ours = []
    for list_id in wanted_list_ids:
        if list_id not in ids_by_list_id:
            raise ValueError("no container id for the exception list %s: create it first" % list_id)
        ours.append({"id": ids_by_list_id[list_id], "list_id": list_id, "namespace_type": NAMESPACE,
                     "type": "detection"})
    return kept + ours


# -- local evaluation: an exception item on an ECS document, as Elasticsearch matches it ---------

def _doc_values(doc, field):
    value = get_field(doc, field)
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if v is not None]


def _ip_matcher(pattern):
    network = ipaddress.ip_network(pattern, strict=False)

    def match(value):
        try:
            return ipaddress.ip_address(str(value)) in network
        except ValueError:
            return False
    return match


def _entry_matcher(entry):
    field, kind = entry["field"], entry["type"]
    if entry.get("operator") != "included" or kind not in ("match", "match_any"):
        raise ValueError("the local evaluator reads only included match / match_any entries, not %r" % entry)
    patterns = [entry["value"]] if kind == "match" else list(entry["value"])
    if mapping.field_type(field) == "ip":
        tests = [_ip_matcher(p) for p in patterns]
    else:
        # a keyword field: match_phrase on a keyword is an exact, case-sensitive term
        tests = [(lambda p: lambda v: v == p)(p) for p in patterns]
    return lambda doc: any(t(v) for v in _doc_values(doc, field) for t in tests)


def item_matcher(item):
    """A predicate over an ECS document: True when every entry of the item matches."""
    matchers = [_entry_matcher(e) for e in item["entries"]]
    return lambda doc: all(m(doc) for m in matchers)


def entry_matcher(entry):
    """True when any of the entry's exception items matches the document."""
    matchers = [item_matcher(item) for item in items_of(entry)]
    return lambda doc: any(m(doc) for m in matchers)
