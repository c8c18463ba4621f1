"""The local Splunk runner end to end: saved search + macros + SPL evaluator + the real command over SCP v2."""

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from harness.build import engine_table
from harness.detections import load_file
from harness.project import Layout
from harness.splunk import appbuild
from harness.splunk.runner import RunnerError, SplunkLocalRunner, row_to_alert, tokenize_args

REPO = Path(__file__).resolve().parents[2]
DETECTIONS = ("root_console_login", "root_console_brute_force")


@pytest.fixture
def project(tmp_path, vendored_lib):
    """A copy of the project holding the detections under test, with its generated files built."""
    root = tmp_path / "project"
    (root / "detections" / "fixtures").mkdir(parents=True)
    for ident in DETECTIONS:
        source = REPO / "detections" / ("%s.yml" % ident)
        if source.is_file():
            shutil.copy2(str(source), str(root / "detections" / source.name))
            shutil.copytree(str(REPO / "detections" / "fixtures" / ident), str(root / "detections" / "fixtures" / ident))
    (root / "addon" / "bin").mkdir(parents=True)
    shutil.copy2(str(REPO / "addon" / "bin" / "awssignin.py"), str(root / "addon" / "bin" / "awssignin.py"))
    shutil.copytree(str(REPO / "addon" / "lib" / "awssignin"), str(root / "addon" / "lib" / "awssignin"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "detections.json"))
    os.symlink(str(vendored_lib / "splunklib"), str(root / "addon" / "lib" / "splunklib"))
    layout = Layout(root)
    dets = [load_file(p, layout.fixtures) for p in sorted(layout.detections.glob("*.yml"))]
    files = dict(engine_table(layout, dets))
    paths = appbuild.conf_paths(layout)
    files[paths["savedsearches"]] = appbuild.savedsearches_conf(dets)
    files[paths["macros"]] = appbuild.macros_conf(dets)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return layout


def detection(layout, ident):
    path = layout.detections / ("%s.yml" % ident)
    if not path.is_file():
        pytest.skip("%s is not in this checkout" % path.name)
    return load_file(path, layout.fixtures)


def records_of(layout, det, test):
    records = []
    for path in det.fixture_paths(layout.fixtures, test):
        with open(str(path), encoding="utf-8") as handle:
            records.extend(json.load(handle)["Records"])
    return records


def outcome(alerts):
    return sorted((sorted(a["group"].items()), sorted(a["event_ids"])) for a in alerts)


def expected(test):
    return sorted((sorted(e["group"].items()), sorted(e["event_ids"])) for e in test["expect"])


def test_root_console_login_tests_pass_on_every_splunk_python(project, command_python):
    det = detection(project, "root_console_login")
    runner = SplunkLocalRunner(project, python=command_python)
    assert det.data["tests"], "the detection has tests"
    for test in det.data["tests"]:
        alerts = runner.run(det, records_of(project, det, test), test.get("params"))
        assert outcome(alerts) == expected(test), test["name"]


def test_alerts_have_the_alert_schema(project):
    det = detection(project, "root_console_login")
    test = det.data["tests"][0]
    [alert] = SplunkLocalRunner(project).run(det, records_of(project, det, test))
    assert alert == {
        "detection": "root_console_login",
        "title": det.data["title"],
        "severity": "high",
        "risk_score": 73,
        "mitre": ["T1078.004"],
        "platform": "splunk",
        "first_seen": "2026-03-10T09:03:00Z",
        "last_seen": "2026-03-10T09:03:00Z",
        "group": {"account_id": "111122223333", "source_ip": "203.0.113.20"},
        "count": 1,
        "event_ids": ["6e8f1510-200d-591f-b422-ff516fcfb619"],
    }


def test_the_run_reports_the_search_and_what_the_base_search_kept(project):
    det = detection(project, "root_console_login")
    near_misses = [t for t in det.data["tests"] if not t["expect"]][0]
    records = records_of(project, det, near_misses)
    run = SplunkLocalRunner(project).run_detailed(det, records)
    assert run.alerts == []
    assert run.search.startswith("sourcetype=aws:cloudtrail eventSource=\"signin.amazonaws.com\"")
    assert run.search.endswith("| awssignin detection=root_console_login | search *")
    # the failed root login passes the base search (the command rejects it); IAM users etc. do not
    roots = [r for r in records if r["userIdentity"].get("type") == "Root" and r["eventName"] == "ConsoleLogin"]
    assert run.matched == len(roots) >= 1


def test_input_order_does_not_matter(project):
    det = detection(project, "root_console_login")
    records = []
    for test in det.data["tests"]:
        records.extend(records_of(project, det, test))
    runner = SplunkLocalRunner(project, chunk_size=2)
    first = outcome(runner.run(det, records))
    random.Random(3).shuffle(records)
    assert outcome(runner.run(det, records)) == first
    assert len(first) == 2 + 1  # the fixtures' three distinct root sign-ins (one delivered twice)


def test_the_filter_macro_applies_to_the_command_rows(project):
    det = detection(project, "root_console_login")
    test = [t for t in det.data["tests"] if len(t["expect"]) == 2][0]
    macros = appbuild.conf_paths(project)["macros"]
    text = macros.read_text(encoding="utf-8")
    tuned = text.replace("[root_console_login_filter]\ndefinition = search *",
                         "[root_console_login_filter]\ndefinition = search NOT group_account_id=111122223333")
    assert tuned != text
    macros.write_text(tuned, encoding="utf-8")
    alerts = SplunkLocalRunner(project).run(det, records_of(project, det, test))
    assert [a["group"]["account_id"] for a in alerts] == ["444455556666"]


def test_the_data_macro_selects_the_events(project):
    det = detection(project, "root_console_login")
    macros = appbuild.conf_paths(project)["macros"]
    text = macros.read_text(encoding="utf-8")
    macros.write_text(text.replace("definition = sourcetype=aws:cloudtrail", "definition = sourcetype=aws:s3"),
                      encoding="utf-8")
    run = SplunkLocalRunner(project).run_detailed(det, records_of(project, det, det.data["tests"][0]))
    assert run.matched == 0 and run.alerts == []


def test_records_without_a_field_view_are_skipped_and_reported(project):
    det = detection(project, "root_console_login")
    records = records_of(project, det, det.data["tests"][0])
    broken = dict(records[0], eventTime="not a time", eventID="broken")
    run = SplunkLocalRunner(project).run_detailed(det, [broken] + records)
    assert run.skipped == ["record 0: eventTime: not an ISO 8601 time: 'not a time'"]
    assert [a["event_ids"] for a in run.alerts] == [["6e8f1510-200d-591f-b422-ff516fcfb619"]]


def test_a_threshold_parameter_reaches_the_command(project):
    det = detection(project, "root_console_brute_force")
    [test] = [t for t in det.data["tests"] if t.get("params")]
    runner = SplunkLocalRunner(project)
    records = records_of(project, det, test)
    assert runner.run(det, records) == []  # the default threshold is not reached
    alerts = runner.run(det, records, test["params"])
    assert outcome(alerts) == expected(test)
    assert alerts[0]["count"] == test["params"]["threshold"]


def test_a_parameter_the_detection_lacks_is_an_error(project):
    det = detection(project, "root_console_login")
    runner = SplunkLocalRunner(project)
    with pytest.raises(RunnerError, match="a event detection has no threshold"):
        runner.run(det, [], {"threshold": 2})
    with pytest.raises(RunnerError, match="parameter 'colour' is not an option"):
        runner.run(det, [], {"colour": "red"})


def test_a_stale_detection_table_is_an_error(project):
    det = detection(project, "root_console_login")
    det.data["logic"]["group_by"] = ["account_id"]  # the yml changed, the build did not run
    with pytest.raises(RunnerError, match="is out of date with .*run `awssignin build`"):
        SplunkLocalRunner(project).run(det, [])


def test_a_stale_saved_search_is_an_error(project):
    det = detection(project, "root_console_login")
    conf = appbuild.conf_paths(project)["savedsearches"]
    text = conf.read_text(encoding="utf-8")
    conf.write_text(text.replace('userIdentity.type="Root"', 'userIdentity.type="IAMUser"'), encoding="utf-8")
    with pytest.raises(RunnerError, match=r"\[AWS Sign-In - .*\] in .*savedsearches.conf is out of date"):
        SplunkLocalRunner(project).run(det, [])


def test_without_savedsearches_conf_the_search_is_composed_like_the_build(project):
    det = detection(project, "root_console_login")
    appbuild.conf_paths(project)["savedsearches"].unlink()
    runner = SplunkLocalRunner(project)
    assert runner.search_text(det) == appbuild.saved_search_text(det)
    assert len(runner.run(det, records_of(project, det, det.data["tests"][0]))) == 1


def test_a_missing_macros_conf_says_to_build(project):
    det = detection(project, "root_console_login")
    appbuild.conf_paths(project)["macros"].unlink()
    with pytest.raises(RunnerError, match="macros.conf is missing; run `awssignin build`"):
        SplunkLocalRunner(project).run(det, [])


def test_command_arguments_are_split_like_splunkd():
    assert tokenize_args(' detection=a,b  window="15 m" "x y"') == (
        ["detection=a,b", "window=15 m", "x y"], ["detection=a,b", 'window="15 m"', '"x y"'])
    with pytest.raises(RunnerError, match="unterminated quote"):
        tokenize_args('detection="a')


def test_rows_convert_back_to_alerts():
    row = {"detection": "d", "title": "t", "severity": "low", "risk_score": "21", "mitre": "T1",
           "platform": "splunk", "first_seen": "2026-01-01T00:00:00Z", "last_seen": "2026-01-01T00:00:00Z",
           "group": '{"user":null,"account_id":"1"}', "count": "2", "event_ids": ["a", "b"]}
    alert = row_to_alert(row, "d")
    assert alert["mitre"] == ["T1"] and alert["risk_score"] == 21 and alert["count"] == 2
    assert alert["group"] == {"user": None, "account_id": "1"}
    with pytest.raises(RunnerError, match="cannot read"):
        row_to_alert(dict(row, count="many"), "d")
