"""The Kibana rule export: every detection's rule fits Kibana's rule schema, and each field is
derived the way Kibana needs it (types, schedule, threat, threshold, required fields)."""

import copy
import json
import uuid

import pytest

from harness.detections import DetectionError, DetectionFile, load_all, load_file, validator
from harness.elastic import rules as R
from harness.elastic import attack


@pytest.fixture(scope="module")
def catalog():
    from harness.project import Layout

    return load_all(Layout().detections)


def _detection(base, **changes):
    """A variant of a real detection file (its authored text), re-validated and generated again.
    ``elastic.query`` becomes a hand-written override of the generated query."""
    from harness import generate

    data = copy.deepcopy(base.authored)
    if "elastic.query" in changes:
        changes["elastic.override"] = {"query": changes.pop("elastic.query"), "reason": "a test's hand-written query"}
    for dotted, value in changes.items():
        node = data
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node[part]
        if value is None:
            node.pop(parts[-1], None)
        else:
            node[parts[-1]] = value
    errors = list(validator().iter_errors(data))
    assert not errors, errors[0].message
    return generate.resolve(DetectionFile(base.path, data, base.lines))


@pytest.fixture(scope="module")
def brute_force(layout_root):
    return load_file(layout_root / "detections" / "root_console_brute_force.yml")


@pytest.fixture(scope="module")
def token_abuse(layout_root):
    return load_file(layout_root / "detections" / "signin_token_abuse.yml")


@pytest.fixture(scope="module")
def layout_root():
    from harness.project import Layout

    return Layout().root


SEQUENCE_STEP = {"field": "event_name", "equals": "ConsoleLogin"}
SEQUENCE_LOGIC = {
    "type": "sequence", "group_by": ["account_id", "user"], "window": "15m",
    "steps": [
        {"name": "failures", "where": {"all": [SEQUENCE_STEP, {"field": "outcome", "equals": "failure"}]},
         "by": ["account_id", "user"], "min_count": 3},
        {"name": "success", "where": {"all": [SEQUENCE_STEP, {"field": "outcome", "equals": "success"}]},
         "by": ["account_id", "user"]},
    ],
}
SEQUENCE_QUERY = (
    'sequence by cloud.account.id, user.name with maxspan={window}\n'
    '  [any where data_stream.dataset == "aws.cloudtrail" and event.action == "ConsoleLogin"'
    ' and event.outcome == "failure"] with runs=3\n'
    '  [any where data_stream.dataset == "aws.cloudtrail" and event.action == "ConsoleLogin"'
    ' and event.outcome == "success"]'
)


def _sequence(base, query=None, window="15m"):
    changes = {"logic": dict(copy.deepcopy(SEQUENCE_LOGIC), window=window), "tests": base.authored["tests"][:2]}
    if query is not None:
        changes["elastic.query"] = query
    return _detection(base, **changes)


# ------------------------------------------------------------------------------------------------
# every shipped detection


def test_every_detection_exports_a_rule_kibana_accepts(catalog):
    assert catalog, "no detections found"
    for det in catalog:
        rule = R.kibana_rule(det)
        assert R.schema_problem(rule) is None, det.id
        assert rule["rule_id"] == str(uuid.uuid5(R.RULE_ID_NAMESPACE, det.id))
        assert rule["name"] == det.data["title"]
        assert rule["enabled"] is False
        assert rule["risk_score"] == det.data["risk_score"] and rule["severity"] == det.data["severity"]
        assert rule["references"] == det.data.get("links", [])
        assert rule["required_fields"], det.id
        assert rule["related_integrations"] == R.RELATED_INTEGRATIONS
        assert rule["related_integrations"][0]["version"].startswith("^")  # the form Kibana 8.19's editor accepts


def test_rule_ids_are_stable_uuids_of_the_detection_id():
    # a changed namespace would orphan every rule users already imported: pin one value
    assert R.rule_id("root_console_login") == str(uuid.uuid5(
        uuid.uuid5(uuid.NAMESPACE_URL, "https://awssignin.invalid/detections"), "root_console_login"))
    assert R.rule_id("root_console_login") == R.rule_id("root_console_login")
    assert R.rule_id("root_console_login") != R.rule_id("root_console_brute_force")


def test_ndjson_is_sorted_deterministic_and_has_no_export_details(catalog, tmp_path):
    from harness.project import Layout

    layout = Layout(tmp_path)
    (path,) = R.elastic_rules(layout, catalog)
    assert path == tmp_path / "dist" / "elastic" / "rules.ndjson"
    text = path.read_text(encoding="utf-8")
    assert text == R.rules_ndjson(list(reversed(catalog)))  # input order does not matter
    lines = text.splitlines()
    assert len(lines) == len(catalog) and text.endswith("\n")
    rules = [json.loads(line) for line in lines]
    assert [r["rule_id"] for r in rules] == sorted(r["rule_id"] for r in rules)
    assert not any("exported_count" in r for r in rules)
    assert all("\n" not in line for line in lines)


def test_the_build_registers_the_rules_distributable():
    from harness import build

    build._load_platforms()
    assert R.elastic_rules in build.DISTRIBUTABLES


# ------------------------------------------------------------------------------------------------
# rule types and schedules


def test_per_event_query_rule(catalog):
    det = next(d for d in catalog if d.id == "root_console_login")
    rule = R.kibana_rule(det)
    assert (rule["type"], rule["language"]) == ("query", "kuery")
    assert (rule["interval"], rule["from"], rule["to"]) == ("5m", "now-6m", "now")
    assert rule["timestamp_override"] == "event.ingested"
    assert rule["index"] == ["logs-aws.cloudtrail-*"]
    assert "threshold" not in rule and "building_block_type" not in rule
    assert {"name": "aws.cloudtrail.user_identity.type", "type": "keyword"} in rule["required_fields"]
    assert {"name": "data_stream.dataset", "type": "constant_keyword"} in rule["required_fields"]


def test_threshold_rule_groups_by_ecs_fields_and_looks_back_exactly_the_window(brute_force):
    rule = R.kibana_rule(brute_force)
    assert rule["type"] == "threshold"
    # distinct event.id as well: a copy delivered by a second trail does not count twice
    assert rule["threshold"] == {"field": ["cloud.account.id"], "value": 5,
                                 "cardinality": [{"field": "event.id", "value": 5}]}
    # 15m window: look back 15m (never alert on a burst longer than the window), run every 1m
    assert (rule["interval"], rule["from"]) == ("1m", "now-15m")
    assert rule["timestamp_override"] == "event.ingested"
    names = [f["name"] for f in rule["required_fields"]]
    assert "cloud.account.id" in names and names == sorted(names)


@pytest.mark.parametrize("window, interval, lookback", [
    ("10m", "1m", "now-10m"), ("15m", "1m", "now-15m"), ("30m", "3m", "now-30m"),
    ("60m", "5m", "now-1h"), ("2m", "1m", "now-2m"),
])
def test_threshold_schedule_follows_the_window(brute_force, window, interval, lookback):
    det = _detection(brute_force, **{"logic.window": window})
    assert R.schedule(det) == {"interval": interval, "from": lookback, "to": "now"}


def test_test_params_override_threshold_and_window(brute_force):
    rule = R.kibana_rule(brute_force, params={"threshold": 4, "window": "30m"})
    assert rule["threshold"]["value"] == 4
    assert rule["from"] == "now-30m"
    with pytest.raises(DetectionError, match="no steps to override"):
        R.kibana_rule(brute_force, params={"steps": []})


def test_group_order_follows_logic_group_by(brute_force):
    det = _detection(brute_force, **{"logic.group_by": ["source_ip", "account_id"]})
    assert R.kibana_rule(det)["threshold"]["field"] == ["source.address", "cloud.account.id"]


def test_distinct_detection_becomes_threshold_with_cardinality(brute_force):
    det = _detection(brute_force, **{
        "logic.type": "distinct", "logic.distinct": "source_ip", "logic.threshold": 3})
    rule = R.kibana_rule(det)
    assert rule["threshold"] == {"field": ["cloud.account.id"], "value": 1,
                                 "cardinality": [{"field": "source.address", "value": 3}]}
    assert {"name": "source.address", "type": "keyword"} in rule["required_fields"]


def test_eql_sequence_gets_window_from_logic_and_no_timestamp_override(brute_force):
    det = _sequence(brute_force)
    rule = R.kibana_rule(det)
    assert "with maxspan=15m" in rule["query"] and "{window}" not in rule["query"]
    assert "timestamp_override" not in rule
    assert rule["tiebreaker_field"] == "event.id"
    # interval >= maxspan/2, and one run window holds a whole sequence wherever the runs fall
    assert (rule["interval"], rule["from"]) == ("8m", "now-24m")
    names = {f["name"] for f in rule["required_fields"]}
    assert {"cloud.account.id", "user.name", "event.action", "event.outcome", "event.id"} <= names
    assert R.schema_problem(rule) is None
    rule = R.kibana_rule(det, params={"window": "60m"})
    assert "with maxspan=1h" in rule["query"] and (rule["interval"], rule["from"]) == ("30m", "now-91m")


def test_sequence_schedule_meets_elastic_constraints(brute_force):
    for minutes in (3, 5, 15, 45, 60, 120):
        det = _sequence(brute_force, window="%dm" % minutes)
        sched = R.schedule(det)
        interval = int(sched["interval"][:-1]) * (60 if sched["interval"].endswith("h") else 1)
        lookback_text = sched["from"][len("now-"):]
        lookback = int(lookback_text[:-1]) * {"m": 1, "h": 60}[lookback_text[-1]]
        assert lookback + 10 >= minutes               # (to - from) + 10m >= maxspan
        assert interval * 2 >= minutes                # interval >= maxspan / 2
        assert lookback >= minutes + interval         # a whole sequence fits one run


def test_generated_sequence_query(brute_force):
    rule = R.kibana_rule(_sequence(brute_force))
    assert rule["query"] == SEQUENCE_QUERY.replace("{window}", "15m")
    assert rule["tiebreaker_field"] == "event.id"  # ties by eventID, as the engine orders them


def test_sequence_steps_with_own_join_keys_get_per_stage_by(brute_force):
    logic = copy.deepcopy(SEQUENCE_LOGIC)
    logic["steps"][0]["by"] = ["account_id", "user", "source_ip"]
    logic["steps"][1]["by"] = ["account_id", "request_user_name", "source_ip"]
    rule = R.kibana_rule(_detection(brute_force, logic=logic, tests=brute_force.authored["tests"][:2]))
    first, second = rule["query"].split("\n")[1:]
    assert first.endswith("] by cloud.account.id, user.name, source.address with runs=3")
    assert second.endswith("] by cloud.account.id, user.target.name, source.address")


def test_overridden_eql_sequence_errors_name_the_field(brute_force):
    with pytest.raises(DetectionError, match=r"elastic\.override\.query.*maxspan=\{window\}"):
        R.kibana_rule(_sequence(brute_force, query=SEQUENCE_QUERY.replace("{window}", "15m")))
    with pytest.raises(DetectionError, match=r"elastic\.override\.query.*needs `with maxspan=\{window\}`"):
        R.kibana_rule(_sequence(brute_force, query=SEQUENCE_QUERY.replace(" with maxspan={window}", "")))
    with pytest.raises(DetectionError, match=r"runs=2 but logic\.steps\[0\]\.min_count is 3"):
        R.kibana_rule(_sequence(brute_force, query=SEQUENCE_QUERY.replace("runs=3", "runs=2")))


def test_building_block(catalog):
    base = next(d for d in catalog if d.id == "root_console_login")
    rule = R.kibana_rule(_detection(base, building_block=True))
    assert rule["building_block_type"] == "default"
    assert "Rule Type: BBR" in rule["tags"]
    assert "Rule Type: BBR" not in R.kibana_rule(base)["tags"]


def test_unmapped_override_field_is_an_error(token_abuse):
    det = _detection(token_abuse, **{"elastic.query": 'data_stream.dataset: "aws.cloudtrail" and event.actoin: "GetSigninToken"'})
    with pytest.raises(DetectionError, match=r"elastic\.override\.query: the rule reads event\.actoin"):
        R.kibana_rule(det)


def test_unparseable_override_is_an_error(token_abuse):
    det = _detection(token_abuse, **{"elastic.query": 'event.action: (GetSigninToken'})
    with pytest.raises(DetectionError, match=r"elastic\.override\.query: cannot read the fields of the kuery query"):
        R.kibana_rule(det)


# ------------------------------------------------------------------------------------------------
# ATT&CK


def test_threat_nests_subtechniques_one_entry_per_tactic(catalog):
    det = next(d for d in catalog if d.id == "root_console_login")
    rule = R.kibana_rule(_detection(det, mitre=[
        {"technique": "T1078.004", "tactics": ["TA0001", "TA0003"]},
        {"technique": "T1078", "tactics": ["TA0001"]},
        {"technique": "T1110.001", "tactics": ["TA0006"]},
    ]))
    assert [t["tactic"]["id"] for t in rule["threat"]] == ["TA0001", "TA0003", "TA0006"]
    first = rule["threat"][0]
    assert first["framework"] == "MITRE ATT&CK"
    assert first["tactic"] == {"id": "TA0001", "name": "Initial Access",
                               "reference": "https://attack.mitre.org/tactics/TA0001/"}
    assert first["technique"] == [{
        "id": "T1078", "name": "Valid Accounts", "reference": "https://attack.mitre.org/techniques/T1078/",
        "subtechnique": [{"id": "T1078.004", "name": "Cloud Accounts",
                          "reference": "https://attack.mitre.org/techniques/T1078/004/"}]}]
    assert rule["threat"][2]["technique"][0]["subtechnique"][0]["name"] == "Password Guessing"
    tactic_tags = [t for t in rule["tags"] if t.startswith("Tactic: ")]
    assert tactic_tags == ["Tactic: Initial Access", "Tactic: Persistence", "Tactic: Credential Access"]
    assert rule["tags"][:5] == R.BASE_TAGS and rule["tags"][-1] == "Resources: Investigation Guide"


def test_a_technique_without_subtechnique_has_no_subtechnique_key():
    (entry,) = attack.threat([{"technique": "T1621", "tactics": ["TA0006"]}])
    assert entry["technique"] == [{"id": "T1621", "name": "Multi-Factor Authentication Request Generation",
                                   "reference": "https://attack.mitre.org/techniques/T1621/"}]


def test_catalog_techniques_are_all_known():
    # every technique in the catalog (shared/detections.md), with a tactic ATT&CK files it under
    for tid in ["T1078.004", "T1110.001", "T1550.001", "T1021.007", "T1110", "T1078", "T1110.003",
                "T1110.004", "T1589.001", "T1621", "T1539", "T1552.005", "T1098", "T1098.001", "T1136.003"]:
        name, tactics = attack.TECHNIQUES[tid]
        assert attack.threat([{"technique": tid, "tactics": list(tactics)}])


def test_attack_errors_name_the_mitre_entry(catalog):
    det = next(d for d in catalog if d.id == "root_console_login")
    with pytest.raises(DetectionError, match=r"mitre\[0\]\.technique: unknown ATT&CK technique 'T9999'"):
        R.kibana_rule(_detection(det, mitre=[{"technique": "T9999", "tactics": ["TA0001"]}]))
    with pytest.raises(DetectionError, match=r"mitre\[0\]\.tactics\[1\]: T1110\.001 .* not an ATT&CK technique of tactic TA0001"):
        R.kibana_rule(_detection(det, mitre=[{"technique": "T1110.001", "tactics": ["TA0006", "TA0001"]}]))


# ------------------------------------------------------------------------------------------------
# text fields


def test_description_and_false_positives_are_reflowed(brute_force):
    rule = R.kibana_rule(brute_force)
    assert "\n" not in rule["description"]
    assert rule["description"].startswith("Repeated failed Management Console sign-ins as the account's root user:")
    assert all("\n" not in fp for fp in rule["false_positives"])
    assert rule["note"] == brute_force.data["elastic"]["note"].strip() + "\n"
    assert rule["author"] == ["awssignin"] and rule["license"] == "Apache-2.0" and rule["max_signals"] == 100


# ------------------------------------------------------------------------------------------------
# the schema rejects what Kibana rejects


@pytest.fixture
def good_rule(brute_force):
    rule = R.kibana_rule(brute_force)
    assert R.schema_problem(rule) is None
    return rule


@pytest.mark.parametrize("mutate, where", [
    (lambda r: r.pop("query"), "query"),
    (lambda r: r["threshold"].pop("value"), "value"),
    (lambda r: r["threshold"].update(value=0), "threshold.value"),
    (lambda r: r.pop("threshold"), "threshold"),
    (lambda r: r.update(severity="severe"), "severity"),
    (lambda r: r.update(risk_score=101), "risk_score"),
    (lambda r: r.update(risk_score="73"), "risk_score"),
    (lambda r: r.update(interval="5 minutes"), "interval"),
    (lambda r: r.update({"from": "6m"}), "from"),
    (lambda r: r.update(language="eql"), "language"),
    (lambda r: r.update(building_block_type="yes"), "building_block_type"),
    (lambda r: r["threat"][0].pop("tactic"), "tactic"),
    (lambda r: r["threat"][0]["technique"][0].pop("reference"), "reference"),
    (lambda r: r["required_fields"][0].pop("type"), "type"),
    (lambda r: r["required_fields"][0].update(ecs=True), "ecs"),
    (lambda r: r["related_integrations"][0].pop("version"), "version"),
    (lambda r: r.pop("rule_id"), "rule_id"),
    (lambda r: r.pop("version"), "version"),
    (lambda r: r.update(severty="high"), "severty"),
    (lambda r: r.update(type="sigma"), "type"),
    (lambda r: r["threshold"].update(cardinality=[{"field": "source.ip"}]), "value"),
])
def test_schema_rejects_invalid_rules(good_rule, mutate, where):
    rule = copy.deepcopy(good_rule)
    mutate(rule)
    problem = R.schema_problem(rule)
    assert problem is not None and where in problem


def test_schema_requires_query_per_type(good_rule, brute_force):
    eql = R.kibana_rule(_sequence(brute_force))
    del eql["query"]
    assert "'query' is a required property" in R.schema_problem(eql)
    # Kibana defaults the query of a plain query rule, so the schema (like Kibana) accepts it
    query_rule = {k: v for k, v in good_rule.items() if k not in ("threshold", "query")}
    query_rule["type"] = "query"
    assert R.schema_problem(query_rule) is None
    new_terms = dict(query_rule, type="new_terms", query="event.action: x", new_terms_fields=["user.id"])
    assert "history_window_start" in R.schema_problem(new_terms)
    new_terms["new_terms_fields"] = ["a", "b", "c", "d"]
    new_terms["history_window_start"] = "now-7d"
    assert "new_terms_fields" in R.schema_problem(new_terms)
    esql = dict(query_rule, type="esql", language="esql", query="FROM logs-*")
    assert R.schema_problem(esql) is not None  # index is not allowed on ES|QL rules
    del esql["index"]
    assert R.schema_problem(esql) is None
