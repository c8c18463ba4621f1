"""Shared test helpers: the project layout and realistic CloudTrail records."""

import copy
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the engine lives in the Splunk app (addon/lib); make it importable without an install
if str(ROOT / "addon" / "lib") not in sys.path:
    sys.path.insert(0, str(ROOT / "addon" / "lib"))

FIXTURES = ROOT / "detections" / "fixtures"


@pytest.fixture
def layout():
    from harness.project import Layout
    return Layout(ROOT)


def fixture_records(relpath):
    with open(FIXTURES / relpath, encoding="utf-8") as handle:
        return json.load(handle)["Records"]


def find(records, event_name, **identity):
    """The first record of a fixture with that eventName and userIdentity values."""
    for r in records:
        if r["eventName"] == event_name and all(r["userIdentity"].get(k) == v for k, v in identity.items()):
            return copy.deepcopy(r)
    raise LookupError("no %s with %s" % (event_name, identity))
