"""The engine reads CloudTrail alike with and without the Splunk Add-on for AWS.

The add-on computes errorCode at search time: the original code, else ``success`` / ``failure`` from
responseElements.ConsoleLogin (harness/splunk/fieldview.py, ``addon=True``; the add-on's source is
not public, see notes/splunk.md §7.3). The issue that asked for this reads the add-on as setting
``errorCode=success`` on successful calls in general, so the tests also try that wider reading:
every record without an error gets ``errorCode=success``. Raw CloudTrail never has such a value
(AWS writes errorCode only for failed requests).
"""

from pathlib import Path

import pytest

from awssignin.engine import Engine
from awssignin.normalize import from_splunk
from harness.detections import load_all
from harness.project import Layout
from harness.splunk.fieldview import FieldViewError, field_view
from harness.splunk.runner import SplunkLocalRunner
from harness.testing import compare, fixture_records

# the geo detections' fixtures need the GeoIP database awssignin test uses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("geoip_in_use")

ROOT = Path(__file__).resolve().parents[2]


def no_addon(record):
    return field_view(record)


def addon(record):
    return field_view(record, addon=True)


def addon_success_everywhere(record):
    view = field_view(record, addon=True)
    if "errorCode" not in view and "errorMessage" not in view:
        view["errorCode"] = "success"
    return view


FIELD_SETS = {"without the add-on": no_addon, "with the add-on": addon,
              "with errorCode=success on every successful call": addon_success_everywhere}


@pytest.fixture(scope="module")
def layout():
    return Layout(ROOT)


@pytest.fixture(scope="module")
def detections(layout):
    return load_all(layout.detections)


def all_records(detections, layout):
    for det in detections:
        for test in det.data.get("tests", []):
            for record in fixture_records(det, test, layout.fixtures):
                yield det, test, record


def test_the_addon_computes_errorcode_from_the_console_login_marker():
    record = {"eventID": "e1", "eventTime": "2026-03-02T10:00:00Z", "eventSource": "signin.amazonaws.com",
              "eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Success"}}
    assert "errorCode" not in field_view(record)
    assert field_view(record, addon=True)["errorCode"] == "success"
    record["responseElements"]["ConsoleLogin"] = "Failure"
    assert field_view(record, addon=True)["errorCode"] == "failure"
    record["errorCode"] = "AccessDenied"  # an AWS error code is kept as it is
    assert field_view(record, addon=True)["errorCode"] == "AccessDenied"


def test_the_sign_in_view_is_the_same_with_and_without_the_addon(detections, layout):
    checked = 0
    for det, test, record in all_records(detections, layout):
        try:
            plain = from_splunk(no_addon(record))
        except (FieldViewError, ValueError):
            continue  # records the view cannot read are tested elsewhere
        for name, fields in FIELD_SETS.items():
            assert from_splunk(fields(record)) == plain, (det.id, test["name"], name, record.get("eventID"))
        checked += 1
    assert checked > 100


def test_errorcode_success_is_no_failure():
    # an IAM call's outcome comes from errorCode: the add-on's "success" must not make it a failure
    view = {"eventID": "e2", "eventTime": "2026-03-02T10:00:00Z", "eventSource": "iam.amazonaws.com",
            "eventName": "CreateLoginProfile", "errorCode": "success", "requestParameters.userName": "alice"}
    assert from_splunk(view)["outcome"] == "success" and from_splunk(view)["error_code"] is None
    view["errorCode"] = "AccessDenied"
    assert from_splunk(view)["outcome"] == "failure" and from_splunk(view)["error_code"] == "AccessDenied"


@pytest.mark.parametrize("field_set", sorted(FIELD_SETS))
def test_every_splunk_test_passes_on_each_field_set(field_set, detections, layout):
    """The detections' own Splunk tests, in process: base search (SPL evaluator over the field set),
    the engine the command runs, the filter macro's rows skipped (shipped as `search *`)."""
    runner = SplunkLocalRunner(layout)
    fields = FIELD_SETS[field_set]
    failures = []
    for det in detections:
        _, base, _, _ = runner.plan(det)
        for test in det.data.get("tests", []):
            if "splunk" not in test.get("platforms", ["splunk"]):
                continue
            views = []
            for record in fixture_records(det, test, layout.fixtures):
                try:
                    views.append(fields(record))
                except FieldViewError:
                    continue
            params = test.get("params")
            engine = Engine([det.engine_spec()], overrides={det.id: params} if params else None, platform="splunk")
            for view in sorted(views, key=lambda v: v["_time"], reverse=True):
                if all(p(view) for p in base):
                    try:
                        engine.feed_splunk(view)
                    except ValueError:
                        pass  # a record the engine cannot read: the command skips it too
            ok, message = compare(det, test, engine.finish(), "splunk")
            if not ok:
                failures.append("%s / %s: %s" % (det.id, test["name"], message))
    assert not failures, "\n".join(failures)
