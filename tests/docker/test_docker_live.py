"""Every detection's tests on real Splunk and Elasticsearch + Kibana (docker/compose.yml).

The same fixtures, expectations and comparison as the local runners (harness/testing.py): a test that
passes locally and fails here means the local runner and the real platform disagree.
"""

from pathlib import Path

import pytest

from harness import geoip
from harness.detections import load_all
from harness.project import Layout
from harness.testing import compare, fixture_records, planned

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]


def _cases():
    try:
        dets = load_all(Layout(ROOT).detections)
    except Exception as err:  # a failing case (once the stack is up) rather than a broken collection
        return [pytest.param(None, "detection files do not load: %s" % err, None, id="detections-do-not-load")]
    return [pytest.param(det, i, platform, id="%s[%d]-%s" % (det.id, i, platform))
            for det, i, _test, platform in planned(dets, ("splunk", "elastic"))]


@pytest.mark.parametrize("detection, index, platform", _cases())
def test_detection_on_live_platform(detection, index, platform, live_runners, layout):
    if detection is None:
        pytest.fail(index)
    if geoip.detection_needs_geo(detection):
        pytest.skip("%s: the live platform reads its own GeoIP database, which does not hold the fixtures' "
                    "documentation addresses (harness/testing.py: not evaluated)" % detection.id)
    test = detection.data["tests"][index]
    records = fixture_records(detection, test, layout.fixtures)
    alerts = live_runners[platform].run(detection, records, test.get("params"))
    ok, message = compare(detection, test, alerts, platform)
    assert ok, "%s on %s:\n%s\nexpected: %s\nactual:   %s" % (
        test["name"], platform, message,
        [(e["group"], e["event_ids"]) for e in test["expect"]],
        [(a["group"], a["event_ids"]) for a in alerts])
