"""The equivalence check: a platform artefact that disagrees with the logic fails the build and
prints the record; declared differences are accepted, and only those."""

import copy
import json

import pytest

from harness import equivalence, generate
from harness.detections import DetectionFile, load_all
from harness.project import Layout

LAYOUT = Layout()


@pytest.fixture(scope="module")
def catalog():
    return {d.id: d for d in load_all(LAYOUT.detections)}


@pytest.fixture(scope="module")
def base_records():
    return equivalence.fixture_records(LAYOUT.fixtures)


def variant(det, **authored):
    data = copy.deepcopy(det.authored)
    data.update(authored)
    return generate.resolve(DetectionFile(det.path, data, det.lines))


def test_every_shipped_detection_is_equivalent_on_both_platforms(catalog, base_records):
    problems = []
    for det in catalog.values():
        problems.extend(equivalence.check(det, base_records))
    assert not problems, "\n".join(str(p) for p in problems[:5])


def test_an_overridden_query_with_a_changed_value_fails_and_prints_the_record(catalog, base_records):
    det = catalog["root_console_login"]
    query = det.data["elastic"]["query"].replace('"Root"', '"IAMUser"')
    bad = variant(det, elastic=dict(det.authored["elastic"], override={
        "query": query, "reason": "a deliberately diverging hand-written query"}))
    problems = equivalence.check(bad, base_records)
    assert problems and {p.platform for p in problems} == {"elastic"}
    text = str(problems[0])
    assert "root_console_login: where:" in text and query in text
    record = json.loads(text.split("record: ", 1)[1])
    assert record["eventName"] == "ConsoleLogin"
    assert record["userIdentity"]["type"] in ("Root", "IAMUser")


def test_a_splunk_override_that_drops_what_the_logic_keeps_fails(catalog, base_records):
    det = catalog["root_console_login"]
    bad = variant(det, splunk={"override": {"search": 'eventSource="signin.amazonaws.com" eventName="CheckMfa"',
                                            "reason": "a deliberately narrow base search"}})
    problems = equivalence.check(bad, base_records)
    assert problems and all(p.platform == "splunk" for p in problems)
    assert "the logic accepts it and the Splunk base search drops it" in str(problems[0])


def test_a_wider_splunk_base_search_is_fine(catalog, base_records):
    # the command runs the logic itself: the base search is only a prefilter
    det = catalog["root_console_login"]
    wide = variant(det, splunk={"override": {"search": 'eventSource="signin.amazonaws.com"',
                                             "reason": "a prefilter wider than the generated one"}})
    assert equivalence.check(wide, base_records) == []


def test_a_declared_difference_is_accepted_and_only_where_it_says(catalog, base_records):
    det = catalog["root_console_login"]
    query = det.data["elastic"]["query"] + ' and not source.address: "AWS Internal"'
    override = dict(det.authored["elastic"], override={"query": query, "reason": "drop AWS-internal sign-ins"})
    undeclared = variant(det, elastic=override)
    assert equivalence.check(undeclared, base_records)
    declared = variant(det, elastic=override, known_differences=[{
        "platform": "elastic", "where": {"field": "source_ip", "equals": "AWS Internal"},
        "why": "a test: the override leaves out AWS-internal sign-ins"}])
    assert equivalence.check(declared, base_records) == []
    # declared for Splunk only: Elastic still fails
    wrong_platform = variant(det, elastic=override, known_differences=[{
        "platform": "splunk", "where": {"field": "source_ip", "equals": "AWS Internal"},
        "why": "a test: declared for the wrong platform"}])
    assert equivalence.check(wrong_platform, base_records)


def test_the_record_space_sets_each_field_to_named_values_near_misses_cases_and_removal(base_records):
    spec = {"all": [{"field": "event_name", "equals": "ConsoleLogin"}, {"field": "identity_type", "equals": "Root"}]}
    space = equivalence.record_space(base_records, spec)
    names = {r.get("eventName", "<absent>") for r in space}
    assert {"ConsoleLogin", "consolelogin", "CONSOLELOGIN", "ConsoleLoginx", "ConsoleLogi", "", "<absent>"} <= names
    types = {(r.get("userIdentity") or {}).get("type", "<absent>") for r in space}
    assert {"Root", "root", "ROOT", "IAMUser", "AssumedRole", "<absent>"} <= types


def test_mapping_level_differences_cover_the_integrations_mfa_spellings(catalog, base_records):
    # "NO" is No to the engine and true to the integration: declared once, in the Elastic mapping
    from harness.elastic.querygen import FIELD_DIFFERENCES

    record = {"eventName": "ConsoleLogin", "additionalEventData": {"MFAUsed": "NO"}}
    assert any(d.applies(record) and "mfa_used" in d.fields for d in FIELD_DIFFERENCES)
    record["additionalEventData"]["MFAUsed"] = "No"
    assert not any(d.applies(record) and "mfa_used" in d.fields for d in FIELD_DIFFERENCES)


def test_lint_runs_the_equivalence_check(tmp_path, catalog):
    import shutil

    from harness.lint import lint_all

    root = tmp_path / "project"
    shutil.copytree(LAYOUT.detections, root / "detections")
    shutil.copytree(LAYOUT.root / "addon", root / "addon")
    path = root / "detections" / "root_console_login.yml"
    text = path.read_text(encoding="utf-8")
    query = catalog["root_console_login"].data["elastic"]["query"].replace('"success"', '"failure"')
    text = text.replace("elastic:\n", "elastic:\n  override:\n    query: '%s'\n    reason: a deliberately diverging query\n"
                        % query, 1)
    path.write_text(text, encoding="utf-8")
    problems, _ = lint_all(Layout(root))
    assert any("root_console_login: where: the logic" in p and "record:" in p for p in problems)
