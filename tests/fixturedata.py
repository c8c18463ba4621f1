"""Helpers for tests that read the detection fixtures (a module with a unique name: every test
directory has its own conftest, so `from conftest import` would be ambiguous)."""

import copy
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "detections" / "fixtures"


def fixture_records(relpath):
    with open(FIXTURES / relpath, encoding="utf-8") as handle:
        return json.load(handle)["Records"]


def all_fixture_records():
    """Every record of every fixture file, in path order."""
    records = []
    for path in sorted(FIXTURES.rglob("*.json")):
        records.extend(json.loads(path.read_text(encoding="utf-8"))["Records"])
    return records


def find(records, event_name, **identity):
    """The first record of a fixture with that eventName and userIdentity values."""
    for r in records:
        if r["eventName"] == event_name and all(r["userIdentity"].get(k) == v for k, v in identity.items()):
            return copy.deepcopy(r)
    raise LookupError("no %s with %s" % (event_name, identity))
