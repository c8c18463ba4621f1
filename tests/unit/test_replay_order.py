"""Replay's alerts do not depend on the order of the input, and memory stays bounded while they don't.

The whole catalog over every detection's fixture records and over a realistic day, fed in order,
newest first, shuffled, and with one record dated a year ahead (placed first, in the middle, last):
each platform gives the same alerts every time. The sorter is also driven past its in-memory bound
(``spill_at``) and its merge fan-in, and made to lose records by giving it nowhere to write them.
"""

import copy
import json
import random
from pathlib import Path

import pytest

from awssignin.timeutil import format_time, parse_time
from harness import ordering
from harness.detections import load_all
from harness.ordering import OrderedSpill
from harness.project import Layout
from harness.realday import generate_day
from harness.replay import Replay
from fixturedata import all_fixture_records

# the geo detections' fixtures need the GeoIP database awssignin test uses (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("geoip_in_use")

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"


@pytest.fixture(scope="module")
def catalog():
    return load_all(ROOT / "detections")


def outlier_of(records):
    """A copy of the first ConsoleLogin, a year after the newest record (a clock gone wrong)."""
    newest = max(parse_time(r["eventTime"]) for r in records)
    login = copy.deepcopy(next(r for r in records if r.get("eventName") == "ConsoleLogin"))
    login["eventID"] = "00000000-0000-4000-8000-0000000f0702"
    login["eventTime"] = format_time(newest + 366 * 86400)
    return login


def run(tmp_path, detections, records, name, **kwargs):
    path = tmp_path / ("%s.ndjson" % name)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    alerts, skips = [], []
    job = Replay(Layout(ROOT), detections, ["splunk", "elastic"], on_alert=alerts.append,
                 on_skip=skips.append, **kwargs).run([str(path)])
    return job, alerts, skips


def by_platform(alerts):
    out = {"splunk": [], "elastic": []}
    for a in alerts:
        out[a["platform"]].append(json.dumps(a, sort_keys=True))
    return dict((p, sorted(v)) for p, v in out.items())


def orders(records):
    outlier = outlier_of(records)
    yield "in order", sorted(records, key=lambda r: r["eventTime"]) + [outlier]
    yield "newest first", [outlier] + sorted(records, key=lambda r: r["eventTime"], reverse=True)
    for seed in (1, 2, 3):
        shuffled = records + [outlier]
        random.Random(seed).shuffle(shuffled)
        yield "shuffled %d" % seed, shuffled
    middle = len(records) // 2
    yield "outlier in the middle", records[:middle] + [outlier] + records[middle:]


def check_order_independence(tmp_path, catalog, records, **kwargs):
    baseline = None
    for name, ordered in orders(records):
        job, alerts, skips = run(tmp_path, catalog, ordered, name.replace(" ", "_"), **kwargs)
        assert skips == [] and job.not_read() == 0, (name, skips, job.stats())
        assert job.late() == 0
        got = by_platform(alerts)
        if baseline is None:
            baseline = got
            # the catalog fires on both platforms, and the outlier's own per-event alerts are there
            assert {json.loads(a)["detection"] for a in got["splunk"]} == {json.loads(a)["detection"] for a in got["elastic"]}
            continue
        for platform in ("splunk", "elastic"):
            assert got[platform] == baseline[platform], (name, platform)
    return baseline


def test_fixture_records_in_any_order_give_the_same_alerts(tmp_path, catalog):
    baseline = check_order_independence(tmp_path, catalog, all_fixture_records())
    assert len({json.loads(a)["detection"] for a in baseline["splunk"]}) == len(catalog)


def test_the_same_holds_when_nearly_everything_is_sorted_on_disk(tmp_path, catalog, monkeypatch):
    # 5 candidates per buffer and a 3-way merge: many run files and merge passes
    monkeypatch.setattr(ordering, "MAX_FANIN", 3)
    check_order_independence(tmp_path, catalog, all_fixture_records(), spill_at=5, max_lateness=60)


def test_a_realistic_day_in_any_order_gives_the_same_alerts(tmp_path, catalog):
    records, _ = generate_day(seed=7, size=1500)
    baseline = check_order_independence(tmp_path, catalog, records)
    assert baseline["splunk"] and baseline["elastic"]


def test_a_record_a_year_ahead_does_not_blind_the_bursts_after_it(tmp_path, catalog):
    records = json.loads((FIXTURES / "root_console_brute_force" / "two_bursts_two_accounts.json").read_text())["Records"]
    dets = [d for d in catalog if d.id == "root_console_brute_force"]
    _, plain, _ = run(tmp_path, dets, records, "plain")
    _, shifted, _ = run(tmp_path, dets, [outlier_of(all_fixture_records())] + records, "shifted")
    assert plain and by_platform(plain) == by_platform(shifted)


def test_the_sorter_returns_every_entry_in_key_order_within_its_memory_bound(monkeypatch):
    monkeypatch.setattr(ordering, "MAX_FANIN", 4)
    rng = random.Random(5)
    entries = [(float(rng.randrange(0, 10 ** 6)), "id-%d" % rng.randrange(50), i, {"n": i, "nested": {"v": [i]}},
                {"event_id": "x"}, "file:%d" % i) for i in range(3000)]
    peak = []
    sorter = OrderedSpill(lateness=100, spill_at=40)
    try:
        for e in entries:
            sorter.add(e)
            peak.append(len(sorter.heap) + len(sorter.main_buffer) + len(sorter.stragglers))
        out = list(sorter.sorted())
    finally:
        sorter.close()
    assert [e[:3] for e in out] == sorted(e[:3] for e in entries)
    # the records come back as written (each pickle on its own: no object shared between entries)
    assert all(e[3] == {"n": e[2], "nested": {"v": [e[2]]}} for e in out)
    assert max(peak) <= 3 * 40
    assert sorter.stats["unplaced"] == 0 and sorter.stats["run files"] > 4


def test_candidates_that_cannot_be_written_are_located_and_fail_strict(tmp_path, catalog):
    nowhere = tmp_path / "a-file-not-a-directory"
    nowhere.write_text("")
    records = all_fixture_records()
    random.Random(9).shuffle(records)
    job, alerts, skips = run(tmp_path, catalog, records, "lost", spill_at=3, spill_dir=str(nowhere))
    assert job.unplaced() > 0 and job.not_read() >= job.unplaced()
    assert job.sorter.unplaced_locations and all(loc.startswith(str(tmp_path)) for loc in job.sorter.unplaced_locations)
    assert job.sorter.error


def test_per_event_alerts_stream_while_correlations_wait_for_the_sorted_input(tmp_path, catalog):
    records = sorted(all_fixture_records(), key=lambda r: r["eventTime"], reverse=True)
    path = tmp_path / "newest_first.ndjson"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    seen = []
    job = Replay(Layout(ROOT), catalog, ["splunk", "elastic"],
                 on_alert=lambda a: seen.append((a["detection"], job.reader.stats["records"], job.sorter.stats["candidates"])))
    job.run([str(path)])
    total = job.reader.stats["records"]
    kinds = dict((d.id, d.data["logic"]["type"]) for d in catalog)
    per_event = [read for det, read, _ in seen if kinds[det] == "event"]
    correlated = [read for det, read, _ in seen if kinds[det] != "event"]
    # per-event alerts come as their records are read, newest first or not
    assert per_event and min(per_event) < total / 10
    # correlation alerts only once every record is read and sorted
    assert correlated and min(correlated) == total
