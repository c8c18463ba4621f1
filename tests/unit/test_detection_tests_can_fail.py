"""The detection tests are evidence only if they can fail: a changed threshold, a changed fixture or
a wrong Elastic query must turn `awssignin test` red on the platform concerned."""

import copy
import json
import shutil

import pytest

from harness.detections import DetectionFile, load_all
from harness.project import Layout
from harness.testing import run_tests

# the geo detections' fixtures need the GeoIP database awssignin test uses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("geoip_in_use")

from fixturedata import ROOT


@pytest.fixture(scope="module")
def detections():
    return dict((d.id, d) for d in load_all(ROOT / "detections"))


def changed(det, mutate):
    data = copy.deepcopy(det.data)
    mutate(data)
    return DetectionFile(det.path, data, det.lines)


def statuses(layout, det, platforms=("splunk", "elastic")):
    return {(o.test, o.platform): o.status for o in run_tests(layout, [det], list(platforms))}


def test_the_shipped_detections_pass(detections):
    outcomes = run_tests(Layout(ROOT), list(detections.values()))
    assert outcomes and all(o.status == "pass" for o in outcomes), [o for o in outcomes if o.status != "pass"]


def test_a_changed_threshold_fails_on_both_platforms(detections, tmp_path):
    # the engine reads the generated table, so the change goes through a copy of the project
    layout = _project_copy(tmp_path)
    det = changed(detections["root_console_brute_force"], lambda d: d["logic"].__setitem__("threshold", 7))
    _write_table(layout, det, detections)
    result = statuses(layout, det)
    six = "six failures in ten minutes from two IPs make one alert"
    assert result[(six, "splunk")] == "fail"
    assert result[(six, "elastic")] == "fail"


def test_a_changed_fixture_fails_on_both_platforms(detections, tmp_path):
    layout = _project_copy(tmp_path)
    fixture = layout.fixtures / "console_login_without_mfa" / "iam_user_no_mfa.json"
    data = json.loads(fixture.read_text())
    for record in data["Records"]:
        if record["eventName"] == "ConsoleLogin" and record["userIdentity"].get("userName") == "alice":
            record["additionalEventData"]["MFAUsed"] = "Yes"
    fixture.write_text(json.dumps(data))
    result = statuses(layout, detections["console_login_without_mfa"])
    name = "IAM users signing in without MFA fire, whatever region the sign-in endpoint logged"
    assert result[(name, "splunk")] == "fail" and result[(name, "elastic")] == "fail"


@pytest.mark.parametrize("query_change", [
    ('event.outcome: "success"', 'event.outcome: "Success"'),          # keyword values are case-sensitive
    ('aws.cloudtrail.user_identity.type: "Root"', 'aws.cloudtrail.user_identity.type: "root"'),
])
def test_a_wrong_elastic_query_fails_only_on_elastic(detections, query_change):
    old, new = query_change
    det = changed(detections["root_console_login"],
                  lambda d: d["elastic"].__setitem__("query", d["elastic"]["query"].replace(old, new)))
    assert det.data["elastic"]["query"] != detections["root_console_login"].data["elastic"]["query"]
    result = statuses(Layout(ROOT), det, ["elastic"])
    assert result[("a root console sign-in fires once, though two trails delivered it", "elastic")] == "fail"


def test_a_wrong_splunk_base_search_fails_on_splunk(detections, tmp_path):
    layout = _project_copy(tmp_path)
    det = changed(detections["signin_token_abuse"],
                  lambda d: d["splunk"].__setitem__("search", 'eventSource="signin.amazonaws.com" eventName="GetSigninToken" errorCode=*'))
    _write_splunk_confs(layout, det, detections)
    result = statuses(layout, det, ["splunk"])
    assert result[("a role and a federated user asking for sign-in tokens from scripts fire", "splunk")] == "fail"


def _project_copy(tmp_path):
    for part in ("detections", "addon"):
        shutil.copytree(ROOT / part, tmp_path / part, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return Layout(tmp_path)


def _write_table(layout, det, detections):
    from harness.build import engine_table
    dets = [det if d.id == det.id else d for d in detections.values()]
    for path, text in engine_table(layout, dets).items():
        path.write_text(text)


def _write_splunk_confs(layout, det, detections):
    from harness.build import write_generated
    dets = [det if d.id == det.id else d for d in detections.values()]
    write_generated(layout, dets)
