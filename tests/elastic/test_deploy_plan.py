"""The deploy plan (harness/elastic/deploy_plan.py): which fields the pack owns, how a target rule
compares with the pack's, and what each rule's request carries."""

import copy

import pytest

from harness.elastic import deploy_plan as P


@pytest.fixture(scope="module")
def pack_rules():
    from harness.detections import load_all
    from harness.elastic.rules import kibana_rule
    from harness.project import Layout

    return [kibana_rule(d) for d in load_all(Layout().detections)]


def as_kibana_returns(rule, **user):
    """A rule as Kibana answers after creating it: defaults filled in, ``ecs`` added, ids."""
    out = {"id": "so-1", "revision": 3, "immutable": False, "rule_source": {"type": "internal"},
           "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-02T00:00:00Z", "created_by": "elastic",
           "updated_by": "elastic", "exceptions_list": [], "actions": [], "risk_score_mapping": [],
           "severity_mapping": [], "output_index": "", "setup": "", "references": [], "false_positives": []}
    out.update(copy.deepcopy(rule))
    out["required_fields"] = [dict(f, ecs=True) for f in rule.get("required_fields", [])]
    out.update(user)
    return out


def test_every_field_the_pack_generates_is_pack_owned(pack_rules):
    # a generated field missing here would count as the user's: never updated, never compared
    generated = set().union(*(set(r) for r in pack_rules)) - {"rule_id", "enabled"}
    assert generated <= P.PACK_FIELDS, sorted(generated - P.PACK_FIELDS)
    assert not P.PACK_FIELDS & {"enabled", "exceptions_list", "actions", "throttle", "response_actions",
                                "investigation_fields", "alert_suppression", "timeline_id", "meta"}


def test_kibanas_defaults_and_ecs_flags_are_not_changes(pack_rules):
    for rule in pack_rules:
        assert P.changed_fields(rule, as_kibana_returns(rule, enabled=True, actions=[{"id": "a"}])) == []


def test_a_changed_rule_names_its_fields(pack_rules):
    rule = pack_rules[0]
    target = as_kibana_returns(rule, query="other", tags=["mine"], note="")
    assert P.changed_fields(rule, target) == ["note", "query", "tags"]


def test_new_rules_are_created_disabled_unless_enabled(pack_rules):
    rule = pack_rules[0]
    plan = P.plan_rule(rule, None)
    assert (plan.action, plan.method, plan.body["enabled"], plan.enable) == (P.CREATE, "POST", False, False)
    assert {k: v for k, v in plan.body.items() if k != "enabled"} == {k: v for k, v in rule.items() if k != "enabled"}
    assert P.plan_rule(rule, None, enable_new=True).body["enabled"] is True
    assert P.plan_rule(rule, None, enable_named=True).body["enabled"] is True


def test_an_up_to_date_rule_sends_nothing_whatever_its_state(pack_rules):
    rule = pack_rules[0]
    for enabled in (True, False):
        plan = P.plan_rule(rule, as_kibana_returns(rule, enabled=enabled), enable_new=True)
        assert (plan.action, plan.method) == (P.UNCHANGED, None)
    # --enable-rule on a rule already on: nothing to do
    assert P.plan_rule(rule, as_kibana_returns(rule, enabled=True), enable_named=True).method is None


def test_a_changed_rule_is_patched_with_pack_fields_only(pack_rules):
    rule = dict(pack_rules[0], version=pack_rules[0]["version"] + 1)
    target = as_kibana_returns(pack_rules[0], enabled=True, exceptions_list=[{"list_id": "mine", "id": "1"}])
    plan = P.plan_rule(rule, target)
    assert (plan.action, plan.method) == (P.UPDATE, "PATCH")
    assert plan.changes == ["version"] and not plan.customised
    assert set(plan.body) == {"rule_id"} | (set(rule) & P.PACK_FIELDS) - {"type"}
    assert "enabled" not in plan.body and "exceptions_list" not in plan.body


def test_same_version_but_different_content_is_a_customisation_and_kept(pack_rules):
    rule = pack_rules[0]
    target = as_kibana_returns(rule, query="edited on the target")
    plan = P.plan_rule(rule, target)
    assert plan.customised and plan.kept == ["query"] and plan.changes == []
    assert (plan.action, plan.method) == (P.UNCHANGED, None) and not P.differs([plan])
    reset = P.plan_rule(rule, target, overwrite_customised=True)
    assert reset.customised and reset.changes == ["query"] and reset.method == "PATCH"
    # an upgrade replaces the pack's fields whatever the target holds
    upgrade = P.plan_rule(dict(rule, version=rule["version"] + 1), target)
    assert not upgrade.customised and upgrade.changes == ["query", "version"]
    # a target deployed from a later pack is not downgraded
    ahead = as_kibana_returns(rule, query="x", version=rule["version"] + 1)
    assert P.plan_rule(rule, ahead).method is None and P.plan_rule(rule, ahead).newer
    assert P.plan_rule(rule, ahead, overwrite_customised=True).changes == ["query", "version"]


def test_exception_links_are_added_never_removed():
    mine = {"id": "1", "list_id": "mine", "namespace_type": "single", "type": "detection"}
    pack = {"id": "2", "list_id": "pack", "namespace_type": "single", "type": "detection"}
    merged, added = P.merged_exceptions([mine], [pack, dict(mine)])
    assert merged == [mine, pack] and added == [pack]
    assert P.merged_exceptions([mine, pack], [pack]) == ([mine, pack], [])


def test_index_override_is_part_of_the_pack_content(pack_rules):
    rule = pack_rules[0]
    target = as_kibana_returns(rule)
    plan = P.plan_rule(rule, target, index=["custom-*"])
    assert plan.changes == ["index"] and plan.body["index"] == ["custom-*"]
    assert P.plan_rule(rule, as_kibana_returns(rule, index=["custom-*"]), index=["custom-*"]).method is None


def test_orphans_are_reported_and_deleted_only_with_prune(pack_rules):
    orphan = as_kibana_returns(dict(pack_rules[0], rule_id="gone"))
    plans = P.make_plan(pack_rules[:1], {}, [orphan])
    assert [p.action for p in plans] == [P.CREATE, P.ORPHAN] and plans[1].method is None
    assert P.make_plan(pack_rules[:1], {}, [orphan], prune=True)[1].method == "DELETE"
    assert P.differs(plans)
    assert not P.differs(P.make_plan(pack_rules[:1], {pack_rules[0]["rule_id"]: as_kibana_returns(pack_rules[0])}))


def test_the_diff_of_a_long_text_shows_where_it_changes(pack_rules):
    rule = max(pack_rules, key=lambda r: len(r["query"]))
    assert len(rule["query"]) > 300
    changed = dict(rule, query=rule["query"] + " and not user.name: x")
    old, new = P.field_diff(P.plan_rule(changed, as_kibana_returns(rule)), "query")
    assert old.startswith("...") and new.startswith("...")
    assert new.endswith("and not user.name: x") and not old.endswith("user.name: x")
    assert P.field_diff(P.plan_rule(dict(rule, tags=["a"]), as_kibana_returns(rule, tags=["b"])), "tags") == \
        ('["b"]', '["a"]')
