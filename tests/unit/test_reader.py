"""The reader: every format a user has, streamed, with every skip reported."""

import gzip
import io
import json
import os

import pytest

from harness.reader import InputNotFound, Reader
from fixturedata import fixture_records

RECORDS = fixture_records("root_console_brute_force/two_bursts_two_accounts.json")


def read(paths, stdin=None):
    skips = []
    reader = Reader(paths, on_skip=skips.append, stdin=stdin)
    return [r for r, _ in reader], skips, reader


def ids(records):
    return sorted(r["eventID"] for r in records)


def test_cloudtrail_file_plain_and_gzip(tmp_path):
    plain = tmp_path / "a.json"
    plain.write_text(json.dumps({"Records": RECORDS}))
    packed = tmp_path / "b.json.gz"
    packed.write_bytes(gzip.compress(json.dumps({"Records": RECORDS}).encode()))
    for path in (plain, packed):
        records, skips, _ = read([str(path)])
        assert ids(records) == ids(RECORDS) and skips == []


def test_ndjson_plain_gzip_and_stdin(tmp_path):
    text = "\n".join(json.dumps(r) for r in RECORDS) + "\n"
    (tmp_path / "a.ndjson").write_text(text)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(text.encode()))
    for path in ("a.ndjson", "b.jsonl.gz"):
        assert ids(read([str(tmp_path / path)])[0]) == ids(RECORDS)
    records, _, _ = read(["-"], stdin=io.BytesIO(text.encode()))
    assert ids(records) == ids(RECORDS)
    records, _, _ = read(["-"], stdin=io.BytesIO(gzip.compress(json.dumps({"Records": RECORDS}).encode())))
    assert ids(records) == ids(RECORDS)


def test_a_log_tree_is_read_in_time_order_across_regions(tmp_path):
    base = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail"
    names = []
    for region, stamp, chunk in [("us-west-2", "20260310T0905Z", RECORDS[:6]),
                                 ("us-east-1", "20260310T0900Z", RECORDS[6:12]),
                                 ("us-east-1", "20260310T0915Z", RECORDS[12:])]:
        d = base / region / "2026" / "03" / "10"
        d.mkdir(parents=True, exist_ok=True)
        name = "111122223333_CloudTrail_%s_%s_AbCdEf%s.json.gz" % (region, stamp, stamp[-5:-1])
        (d / name).write_bytes(gzip.compress(json.dumps({"Records": chunk}).encode()))
        names.append(name)
    digest = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail-Digest" / "us-east-1"
    digest.mkdir(parents=True)
    (digest / "digest.json.gz").write_bytes(gzip.compress(b'{"digestStartTime": "x"}'))
    (base / "us-east-1" / "notes.txt").write_text("not a log")
    skips = []
    reader = Reader([str(tmp_path)], on_skip=skips.append)
    files = list(Reader([str(tmp_path)]).files())
    # log files in time order, then the rest (judged by content, not by name)
    assert [os.path.basename(f) for f in files] == [names[1], names[0], names[2], "notes.txt"]
    records = [r for r, _ in reader]
    assert ids(records) == ids(RECORDS)
    assert [(s.reason, os.path.basename(s.location)) for s in skips] == [("not a log file", "notes.txt")]
    assert reader.stats["digest directories ignored"] == 1


def test_locations_name_the_file_and_the_record(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"Records": RECORDS[:3]}))
    locations = [loc for _, loc in Reader([str(path)])]
    assert locations == ["%s Records[%d]" % (path, i) for i in range(3)]
    nd = tmp_path / "x.ndjson"
    nd.write_text("\n\n".join(json.dumps(r) for r in RECORDS[:2]))
    assert [loc for _, loc in Reader([str(nd)])] == ["%s:1" % nd, "%s:3" % nd]


def test_a_missing_path_is_an_error_before_anything_is_read(tmp_path):
    good = tmp_path / "a.json"
    good.write_text(json.dumps({"Records": RECORDS}))
    reader = Reader([str(good), "/nonexistent/trail.json.gz"])
    with pytest.raises(InputNotFound) as err:
        next(iter(reader))
    assert "/nonexistent/trail.json.gz" in str(err.value) and reader.stats["records"] == 0


def test_records_are_decoded_incrementally(tmp_path, monkeypatch):
    import harness.reader as reader_module
    monkeypatch.setattr(reader_module, "CHUNK", 4096)
    many = [dict(RECORDS[i % len(RECORDS)], eventID="e%05d" % i, userAgent="é" * (i % 7)) for i in range(2000)]
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"Records": many}, ensure_ascii=False), encoding="utf-8")
    reader = Reader([str(path)])
    seen = 0
    for record, _ in reader:
        seen += 1
        if seen == 10:
            # after ten records only a few chunks of the 1+ MB file have been read
            assert reader.bytes_read < 6 * 4096
    assert seen == 2000
