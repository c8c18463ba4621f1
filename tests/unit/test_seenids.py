"""Replay drops a second copy of an eventID once, for both platforms, however far apart the copies are."""

import json
from pathlib import Path

from awssignin.timeutil import format_time
from harness import seenids
from harness.detections import load_all
from harness.project import Layout
from harness.replay import Replay
from harness.seenids import SeenIds
from fixturedata import all_fixture_records

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"


def test_exact_in_memory_then_on_disk(tmp_path):
    seen = SeenIds(str(tmp_path), memory_ids=10)
    try:
        ids = ["id-%d" % i for i in range(50)] + ["lone-\udcff"]
        assert all(seen.add(i) for i in ids)
        assert seen.db is not None and not seen.ids  # moved to disk past the bound
        assert not any(seen.add(i) for i in ids)
        assert seen.add("id-50")
    finally:
        seen.close()
    assert list(tmp_path.iterdir()) == []  # the scratch table is gone


def test_without_a_temporary_directory_it_stays_exact_in_memory(tmp_path):
    nowhere = tmp_path / "file"
    nowhere.write_text("")
    seen = SeenIds(str(nowhere), memory_ids=3)
    assert all(seen.add(str(i)) for i in range(10)) and not seen.add("4")
    assert seen.error and seen.db is None


def test_far_apart_copies_alert_once_on_both_platforms(tmp_path, monkeypatch):
    monkeypatch.setattr(seenids, "MEMORY_IDS", 5)
    records = all_fixture_records()
    unique = list(dict((r["eventID"], r) for r in records).values())
    dets = load_all(ROOT / "detections")

    def alerts(rs, name):
        path = tmp_path / name
        path.write_text("\n".join(json.dumps(r) for r in rs) + "\n")
        out = []
        job = Replay(Layout(ROOT), dets, ["splunk", "elastic"], on_alert=out.append).run([str(path)])
        return sorted(json.dumps(a, sort_keys=True) for a in out), job

    once, first = alerts(unique, "once.ndjson")
    # every record delivered twice: the second copies all after the first ones, newest first
    twice, job = alerts(unique + list(reversed(unique)), "twice.ndjson")
    assert once and twice == once
    assert job.stats()["copies dropped (an eventID already read)"] == first.counts["validated"] > 0


def test_copies_beyond_the_platforms_own_dedup_memory_alert_once_on_both(tmp_path):
    # more ids than the engine remembers before pruning (4096), over more event time than either
    # platform's dedup horizon (1h): without replay's own drop, Splunk would alert on many second
    # copies and Elastic (which prunes later) on none
    login = json.loads((FIXTURES / "root_console_login" / "root_success.json").read_text())["Records"][0]
    base = 1773133200
    records = []
    for i in range(5000):
        r = dict(login)
        r["eventID"] = "00000000-0000-4000-8000-%012d" % i
        r["eventTime"] = format_time(base + 600 * i)
        records.append(r)
    path = tmp_path / "copies.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in records + list(reversed(records))) + "\n")
    dets = [d for d in load_all(ROOT / "detections") if d.id == "root_console_login"]
    out = []
    Replay(Layout(ROOT), dets, ["splunk", "elastic"], on_alert=out.append).run([str(path)])
    per_platform = {}
    for a in out:
        per_platform.setdefault(a["platform"], []).append(a["event_ids"][0])
    assert sorted(per_platform["splunk"]) == sorted(per_platform["elastic"]) == sorted(r["eventID"] for r in records)
