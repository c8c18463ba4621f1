"""What a deploy would change on one Kibana: the plan, rule by rule, from the pack and the target.

Who owns which field
- The pack owns ``PACK_FIELDS``: every field harness/elastic/rules.py generates (query, threshold,
  schedule, metadata, notes, ``version``...). A deploy makes them equal to the pack's.
- A pack-owned field that differs on a target rule at the pack's ``version`` was customised there
  (the version lock guarantees that the pack's content changes only with its version): it is
  kept, and reported, unless ``--overwrite-customised``. A higher pack version is an upgrade and
  replaces the pack-owned fields.
- Everything else on the target is the user's and is never changed: ``enabled``,
  ``exceptions_list``, ``actions``, ``throttle`` and notify settings, ``response_actions``,
  ``investigation_fields``, ``alert_suppression``, ``timeline_id``, ``meta``, mappings and
  overrides the user added, and any field a later Kibana adds. ``enabled`` is set only on create
  (``--enable``) or when a rule is named (``--enable-rule``); ``exceptions_list`` only gains the
  links a tuning file asks for, never loses one.

How an existing rule is updated: ``PATCH /api/detection_engine/rules`` with the pack-owned fields.
Kibana's patch keeps every field the body does not carry (``applyRulePatch`` builds the next rule
as ``patch.field ?? existing.field``, elastic/kibana
x-pack/solutions/security/plugins/security_solution/server/lib/detection_engine/rule_management/
logic/detection_rules_client/mergers/apply_rule_patch.ts), so the user's state survives by
construction, including fields this code does not know. ``PUT`` replaces the whole rule: fields
it does not carry are reset to ``RULE_DEFAULTS`` (``exceptions_list: []``, ``actions: []``...,
mergers/apply_rule_defaults.ts and apply_rule_update.ts; the docs: "PUT replaces the original
rule and deletes fields that are not specified", https://www.elastic.co/guide/en/security/current/
rules-api-update.html), so a merged PUT body would silently drop any user field it failed to copy.
PATCH has two limits, and only then is PUT used, with the target's user fields copied into the
body: it cannot change a rule's type (patch_rule.ts: "PATCH cannot change a rule's type"), and it
cannot remove a field (``null`` or absent both mean "keep").

``_import?overwrite=true`` is not used for existing rules: on Kibana >= 8.15.2 it honours the
file's ``enabled`` and replaces the whole rule, so it disables rules the user enabled and unlinks
their exceptions (elastic/kibana#192272, fixed by #192302; #269435: "Rule import unlinks exception
lists when overwrite_exceptions=false"). ``_bulk_create``/``_bulk_update`` are deprecated since 8.2
(https://www.elastic.co/guide/en/security/8.15/bulk-actions-rules-api.html).
"""

import json
from dataclasses import dataclass, field
from typing import Dict, List, Optional

PACK_FIELDS = frozenset({
    "name", "description", "version", "type", "language", "query", "index", "risk_score", "severity",
    "threat", "tags", "note", "false_positives", "references", "related_integrations", "author", "license",
    "max_signals", "interval", "from", "to", "timestamp_override", "building_block_type", "setup",
    "threshold", "event_category_override", "tiebreaker_field", "new_terms_fields", "history_window_start",
    "required_fields",
})

# in rule responses only; a PUT body must not carry them (apply_rule_update.ts keeps them from the
# existing rule whatever the body says)
RESPONSE_ONLY = frozenset({
    "id", "created_at", "created_by", "updated_at", "updated_by", "revision", "immutable", "rule_source",
    "execution_summary", "outcome", "alias_target_id", "alias_purpose",
})

# user fields whose meaning depends on the rule type: kept by PATCH, dropped by a type change
TYPE_SPECIFIC = frozenset({
    "alert_suppression", "filters", "saved_id", "data_view_id", "timestamp_field", "threat_filters",
    "threat_query", "threat_mapping", "threat_language", "threat_index", "threat_indicator_path",
    "concurrent_searches", "items_per_search", "anomaly_threshold", "machine_learning_job_id",
})

CREATE, UPDATE, UNCHANGED, ORPHAN, DELETE = "new", "changed", "unchanged", "not in pack", "delete"


def _is_empty(value):
    return value is None or value == "" or value == [] or value == {}


def _strip(value):
    """Drop empty values inside dicts: Kibana answers with defaults ([] / "") the pack leaves out."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            item = _strip(item)
            if not _is_empty(item):
                out[key] = item
        return out
    if isinstance(value, list):
        return [_strip(item) for item in value]
    return value


def comparable(name, value):
    """A field's value as compared: responses add ``ecs`` to required_fields and defaults elsewhere."""
    if name == "required_fields" and isinstance(value, list):
        return sorted((str(f.get("name")), str(f.get("type"))) for f in value if isinstance(f, dict)) or None
    value = _strip(value)
    return None if _is_empty(value) else value


# what Kibana stores for a field a rule leaves out (RULE_DEFAULTS and the type-specific ``language``
# default in mergers/apply_rule_defaults.ts); a pack rule without the field is equal to a target
# rule holding the default
KIBANA_DEFAULTS = {"interval": "5m", "from": "now-6m", "to": "now", "max_signals": 100, "version": 1,
                   "language": "kuery"}


def pack_value(pack_rule, name):
    if name in pack_rule:
        return pack_rule[name]
    if name == "language" and pack_rule.get("type") in ("eql", "esql"):
        return None
    return KIBANA_DEFAULTS.get(name)


def changed_fields(pack_rule, target_rule):
    """The pack-owned fields whose values differ between the pack's rule and the target's."""
    return sorted(name for name in PACK_FIELDS
                  if comparable(name, pack_value(pack_rule, name)) != comparable(name, target_rule.get(name)))


def version_of(rule):
    value = rule.get("version") if isinstance(rule, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _list_key(ref):
    return (ref.get("list_id"), ref.get("namespace_type", "single")) if isinstance(ref, dict) else None


def merged_exceptions(existing, links):
    """The target's exception-list references plus ``links`` not already there (none removed)."""
    existing = [ref for ref in (existing or []) if isinstance(ref, dict)]
    have = {_list_key(ref) for ref in existing}
    added = [dict(ref) for ref in links or [] if _list_key(ref) not in have]
    return existing + added, added


@dataclass
class RulePlan:
    rule_id: str
    name: str
    action: str                       # CREATE, UPDATE, UNCHANGED, ORPHAN, DELETE
    method: Optional[str] = None      # POST, PATCH, PUT, DELETE; None: nothing to send
    body: Optional[dict] = None
    changes: List[str] = field(default_factory=list)   # pack-owned fields that change
    kept: List[str] = field(default_factory=list)      # pack-owned fields the user customised, kept
    removed: List[str] = field(default_factory=list)   # pack-owned fields the pack no longer sets
    dropped: List[str] = field(default_factory=list)   # user fields a type change cannot keep
    links_added: List[dict] = field(default_factory=list)
    enable: bool = False              # this deploy turns the rule on
    target_enabled: Optional[bool] = None
    target_version: Optional[int] = None
    pack_version: Optional[int] = None
    pack: Optional[dict] = None
    target: Optional[dict] = None

    @property
    def same_version(self):
        return self.target_version is not None and self.target_version == self.pack_version

    @property
    def newer(self):
        """The target was deployed from a later pack."""
        return self.target_version is not None and self.pack_version is not None and \
            self.target_version > self.pack_version

    @property
    def customised(self):
        """Pack-owned fields differ although the target has the pack's version: edited on the target."""
        return self.same_version and bool(self.kept or self.changes)

    @property
    def sends(self):
        return self.method is not None


def pack_body(pack_rule, index=None):
    body = {k: v for k, v in pack_rule.items() if k != "enabled"}
    if index:
        body["index"] = list(index)
    return body


def plan_rule(pack_rule, target_rule, enable_new=False, enable_named=False, links=None, index=None,
              overwrite_customised=False, forced=()):
    """The plan for one pack rule; ``target_rule`` is the rule as Kibana returns it, or None.

    At the pack's version the pack has nothing new to deliver, so pack-owned fields that differ
    there are the user's customisations and are kept (``plan.kept``), unless
    ``overwrite_customised``; an explicit ``index`` override and the ``forced`` fields (those a
    tuning file sets: the user's own declared values) are applied regardless. A higher
    pack version is an upgrade: the pack's content replaces the target's. A lower one (the target
    came from a later pack) is not a downgrade either, unless ``overwrite_customised``.
    """
    wanted = pack_body(pack_rule, index)
    rid = str(pack_rule["rule_id"])
    plan = RulePlan(rule_id=rid, name=str(pack_rule.get("name", "")), action=UNCHANGED,
                    pack_version=version_of(pack_rule), pack=wanted, target=target_rule)
    if target_rule is None:
        body = dict(wanted)
        body["enabled"] = bool(enable_new or enable_named)
        if links:
            body["exceptions_list"], plan.links_added = merged_exceptions([], links)
        plan.action, plan.method, plan.body, plan.enable = CREATE, "POST", body, body["enabled"]
        return plan

    plan.target_enabled = target_rule.get("enabled") is True
    plan.target_version = version_of(target_rule)
    plan.changes = changed_fields(wanted, target_rule)
    ahead = plan.target_version is not None and plan.pack_version is not None and plan.target_version > plan.pack_version
    if (plan.same_version or ahead) and not overwrite_customised:
        # a target deployed from a later pack is not downgraded either
        forced = set(forced) | ({"index"} if index else set())
        plan.kept = [name for name in plan.changes if name not in forced]
        plan.changes = [name for name in plan.changes if name in forced]
    plan.removed = [name for name in plan.changes if comparable(name, pack_value(wanted, name)) is None]
    plan.enable = bool(enable_named) and not plan.target_enabled
    exceptions, plan.links_added = merged_exceptions(target_rule.get("exceptions_list"), links)
    if not plan.changes and not plan.enable and not plan.links_added:
        return plan
    plan.action = UPDATE
    type_change = "type" in plan.changes
    if type_change or plan.removed:
        # PATCH can neither change the type nor remove a field: PUT the pack's rule with the
        # target's user fields copied in (the only path that can lose a user field, so it is named)
        keep = {k: v for k, v in target_rule.items()
                if k not in PACK_FIELDS and k not in RESPONSE_ONLY and v is not None}
        if type_change:
            plan.dropped = sorted(k for k in keep if k in TYPE_SPECIFIC)
            keep = {k: v for k, v in keep.items() if k not in TYPE_SPECIFIC}
        body = dict(keep)
        body.update(wanted)
        body.update({name: target_rule[name] for name in plan.kept if name in target_rule})
        body["enabled"] = True if plan.enable else plan.target_enabled
        body["exceptions_list"] = exceptions
        plan.method, plan.body = "PUT", body
        return plan
    body = {"rule_id": rid}
    if plan.changes:
        # every pack-owned field (the type is unchanged here: a patch cannot change it), or only
        # the changed ones when the user's customisations of the others are kept
        sent = set(plan.changes) if plan.kept else PACK_FIELDS - {"type"}
        body.update({k: v for k, v in wanted.items() if k in sent})
    if plan.enable:
        body["enabled"] = True
    if plan.links_added:
        body["exceptions_list"] = exceptions
    plan.method, plan.body = "PATCH", body
    return plan


def plan_orphan(target_rule, prune=False):
    plan = RulePlan(rule_id=str(target_rule.get("rule_id", "")), name=str(target_rule.get("name", "")),
                    action=DELETE if prune else ORPHAN, target=target_rule,
                    target_enabled=target_rule.get("enabled") is True, target_version=version_of(target_rule))
    if prune:
        plan.method = "DELETE"
    return plan


def make_plan(pack_rules, target_rules, orphans=(), enable_new=False, enable_ids=(), prune=False,
              links=None, index=None, overwrite_customised=False, forced=None):
    """[RulePlan] for every pack rule (in pack order) then every orphan.

    ``target_rules``: {rule_id: rule on the target}; ``orphans``: target rules of the pack that
    the pack no longer ships; ``links``: {rule_id: [exception list references]} from tuning;
    ``forced``: {rule_id: [field]} the tuning file sets on that rule.
    """
    enable_ids = set(enable_ids)
    links = links or {}
    forced = forced or {}
    out = [plan_rule(rule, target_rules.get(str(rule["rule_id"])), enable_new=enable_new,
                     enable_named=str(rule["rule_id"]) in enable_ids, links=links.get(str(rule["rule_id"])),
                     index=index, overwrite_customised=overwrite_customised,
                     forced=forced.get(str(rule["rule_id"]), ()))
           for rule in pack_rules]
    out += [plan_orphan(rule, prune) for rule in orphans]
    return out


def differs(plans):
    """True when a deploy would change the target (for ``--dry-run --check``); customisations it
    keeps do not count: they are the user's, not drift."""
    return any(p.action != UNCHANGED for p in plans)


def excerpt(value, limit=160):
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def field_diff(plan, name, context=40, limit=160):
    """(old, new) excerpts of one changed field; long texts start shortly before the first
    difference, so a change at the end of a long query is visible."""
    old = (plan.target or {}).get(name)
    new = (plan.pack or {}).get(name)
    if comparable(name, old) is None or comparable(name, new) is None:
        return ("(none)" if comparable(name, old) is None else excerpt(old, limit),
                "(none)" if comparable(name, new) is None else excerpt(new, limit))
    texts = [v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False) for v in (old, new)]
    first = next((i for i, (a, b) in enumerate(zip(*texts)) if a != b), min(map(len, texts)))
    start = max(0, first - context) if max(map(len, texts)) > limit else 0
    return tuple(("..." if start else "") + excerpt(t[start:], limit) for t in texts)


def summary(plans) -> Dict[str, int]:
    counts = {CREATE: 0, UPDATE: 0, UNCHANGED: 0, ORPHAN: 0, DELETE: 0}
    for plan in plans:
        counts[plan.action] += 1
    return counts
