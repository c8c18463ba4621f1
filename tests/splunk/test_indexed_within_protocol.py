"""indexed_within= over the chunked protocol: the real command reads each event's ``_indextime`` (a
required field) and the run's ``searchinfo.latest_time`` from getinfo, as splunkd sends them.

The local driver (harness/splunk/scp.py) sends ``latest_time`` 0, an all-time search; these tests
wrap its getinfo to send the latest time a scheduled run resolves (splunkd's getinfo carries it as
epoch seconds, splunklib search_command.py reads it with float()).
"""

import json
from pathlib import Path

import pytest

from harness.detections import load_all
from harness.project import Layout
from harness.splunk import scp
from harness.splunk.fieldview import field_view
from harness.testing import fixture_records

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def brute_force(make_app):
    layout = Layout(REPO)
    det = [d for d in load_all(layout.detections) if d.id == "root_console_brute_force"][0]
    test = [t for t in det.data["tests"] if t["expect"] and not t.get("params")][0]
    views = sorted((field_view(r) for r in fixture_records(det, test, layout.fixtures)), key=lambda v: v["_time"])
    table = json.loads(layout.engine_table.read_text(encoding="utf-8"))
    return make_app(table["detections"]), views, test["expect"][0]["event_ids"]


@pytest.fixture
def latest_time(monkeypatch):
    """A one-item list: the latest time the next conversation's getinfo sends (empty: 0, all time)."""
    box = []
    original = scp.searchinfo

    def with_latest(*args):
        info = original(*args)
        if box:
            info["latest_time"] = "%.6f" % box[0]
        return info

    monkeypatch.setattr(scp, "searchinfo", with_latest)
    return box


def run(script, views, indexed, latest, box):
    box[:] = [latest] if latest is not None else []
    events = []
    for view, when in zip(views, indexed):
        event = dict(view)
        event["_indextime"] = str(int(when))
        events.append(event)
    events.sort(key=lambda e: e["_time"], reverse=True)
    return scp.run_command(str(script), ["detection=root_console_brute_force", "indexed_within=10m"], events)


def test_the_command_asks_for_indextime(brute_force, latest_time):
    script, views, _ = brute_force
    result = run(script, [], [], None, latest_time)
    assert "_indextime" in result.getinfo["required_fields"]


def test_a_burst_completed_by_an_event_indexed_in_the_run_is_returned_once(brute_force, latest_time):
    script, views, expected = brute_force
    last = views[-1]["_time"]
    latest = last + 1800  # the run: its slice is [latest - 10m, latest)
    # the first event indexed on time (seen by the previous run, no burst yet), the rest in this run's slice
    indexed = [views[0]["_time"]] + [latest - 60] * (len(views) - 1)
    rows = run(script, views, indexed, latest, latest_time).records
    assert len(rows) == 1 and sorted(rows[0]["event_ids"]) == sorted(expected)
    # the next run sees the same burst, none of it new: nothing
    assert run(script, views, indexed, latest + 600, latest_time).records == []
    # a burst the previous run already saw complete is not returned again
    on_time = [v["_time"] for v in views]
    assert run(script, views, on_time, latest, latest_time).records == []


def test_an_all_time_search_returns_every_burst(brute_force, latest_time):
    script, views, expected = brute_force
    rows = run(script, views, [v["_time"] for v in views], None, latest_time).records
    assert len(rows) == 1 and sorted(rows[0]["event_ids"]) == sorted(expected)


def test_a_bad_indexed_within_is_refused_at_getinfo(brute_force, latest_time):
    script, _, _ = brute_force
    latest_time[:] = [1772445600.0]
    with pytest.raises(scp.ScpError) as err:
        scp.run_command(str(script), ["detection=root_console_brute_force", "indexed_within=soon"], [])
    assert "indexed_within" in str(err.value) + " ".join(m for _, m in err.value.messages)
