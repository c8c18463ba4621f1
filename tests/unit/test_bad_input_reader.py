"""The broken-input corpus at the reader level: reasons, locations, valid neighbours kept."""

from pathlib import Path

from harness.reader import Reader

CORPUS = Path(__file__).resolve().parent.parent / "data" / "bad_input"


def read(name):
    skips = []
    records = [(r, loc) for r, loc in Reader([str(CORPUS / name)], on_skip=skips.append)]
    return records, skips


def test_ndjson_lines_each_skipped_with_reason_and_line():
    records, skips = read("mixed.ndjson")
    got = {(s.reason, s.location.rsplit(":", 1)[1]) for s in skips}
    assert got == {("not JSON", "2"), ("not a JSON object", "3"), ("not a JSON object", "4"),
                   ("missing eventTime", "5"), ("missing eventID", "6"), ("not UTF-8", "10")}
    # the reader passes on records whose problems only the engine sees (wrong types, bad time)
    assert [loc.rsplit(":", 1)[1] for _, loc in records] == ["1", "7", "8", "9", "11", "12"]
    assert len(records[4][0]["userAgent"]) == 1 << 20


def test_records_not_a_list():
    records, skips = read("records_not_a_list.json")
    assert records == [] and [s.reason for s in skips] == ["Records is not a list"]


def test_non_objects_inside_records_are_skipped_by_index():
    records, skips = read("records_with_non_objects.json")
    assert [loc.split()[-1] for _, loc in records] == ["Records[0]", "Records[4]"]
    assert [(s.reason, s.location.split()[-1]) for s in skips] == [
        ("not a JSON object", "Records[1]"), ("not a JSON object", "Records[2]"), ("not a JSON object", "Records[3]")]


def test_truncated_gzip_keeps_what_came_before():
    records, skips = read("truncated.json.gz")
    assert [s.reason for s in skips] == ["truncated or corrupt gzip"]
    assert 100 < len(records) < 3000
    assert "33333333-0000-4000-8000-999999999999" in [r["eventID"] for r, _ in records]


def test_non_utf8_record_skipped_neighbour_kept():
    records, skips = read("not_utf8_record.json")
    assert [r["eventID"] for r, _ in records] == ["44444444-0000-4000-8000-000000000001"]
    assert [(s.reason, s.location.split()[-1]) for s in skips] == [("not UTF-8", "Records[1]")]


def test_empty_file_reads_nothing():
    assert read("empty.json") == ([], [])
