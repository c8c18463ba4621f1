"""The forms logs come in, read by content: concatenated documents, gzip members, arrays, lookup-events
pages, NDJSON under any name; and damage inside them, resynchronised and accounted for."""

import gzip
import io
import json

import pytest

from harness.input import decode, limits
from harness.reader import Reader
from fixturedata import fixture_records

RECORDS = fixture_records("root_console_brute_force/two_bursts_two_accounts.json")


@pytest.fixture(autouse=True, params=["orjson", "json"])
def parser(request, monkeypatch):
    """Every case with the optional fast parser (when installed) and with the standard library alone."""
    if request.param == "json":
        monkeypatch.setattr(decode, "_fast_loads", None)
    elif decode._fast_loads is None:
        pytest.skip("orjson is not installed")
    return request.param


def read(paths, stdin=None, **options):
    skips = []
    reader = Reader(paths, on_skip=skips.append, stdin=stdin, **options)
    got = list(reader)
    return [r for r, _ in got], [loc for _, loc in got], skips, reader


def ids(records):
    return [r["eventID"] for r in records]


def doc(records):
    return json.dumps({"Records": records})


def lookup_page(records, token=None):
    """One page of `aws cloudtrail lookup-events` output: the AWS CLI prints the LookupEvents response,
    whose Events hold EventId, EventName, ... and the record as a JSON string in CloudTrailEvent (AWS
    CloudTrail API reference, "LookupEvents" and "Event"); newest first, as the API returns them."""
    events = [{"EventId": r["eventID"], "EventName": r["eventName"], "ReadOnly": "false",
               "EventTime": r["eventTime"], "EventSource": r["eventSource"], "Username": "root",
               "Resources": [], "CloudTrailEvent": json.dumps(r)} for r in reversed(records)]
    page = {"Events": events}
    if token:
        page["NextToken"] = token
    return json.dumps(page, indent=4)


# -- forms ---------------------------------------------------------------------------------------
def test_concatenated_documents_through_stdin_are_all_read():
    # zcat *.json.gz | awssignin replay - : CloudTrail files end with no newline
    stream = (doc(RECORDS[:5]) + doc(RECORDS[5:12]) + "\n" + doc(RECORDS[12:])).encode()
    records, locations, skips, _ = read(["-"], stdin=io.BytesIO(stream))
    assert ids(records) == ids(RECORDS) and skips == []
    assert locations[0] == "<stdin> Records[0]" and locations[5] == "<stdin>#2 Records[0]"
    assert locations[-1] == "<stdin>#3 Records[%d]" % (len(RECORDS) - 13)


def test_multi_member_gzip_is_read_to_its_last_member(tmp_path):
    path = tmp_path / "joined.json.gz"
    path.write_bytes(gzip.compress(doc(RECORDS[:9]).encode()) + gzip.compress(doc(RECORDS[9:]).encode()))
    records, _, skips, _ = read([str(path)])
    assert ids(records) == ids(RECORDS) and skips == []


def test_a_pretty_printed_json_array_of_records(tmp_path):
    path = tmp_path / "export.json"
    path.write_text(json.dumps(RECORDS, indent=2))
    records, locations, skips, _ = read([str(path)])
    assert ids(records) == ids(RECORDS) and skips == []
    assert locations[3] == "%s [3]" % path


def test_lookup_events_pages_one_per_file_and_concatenated(tmp_path):
    one = tmp_path / "page1.json"
    one.write_text(lookup_page(RECORDS[:10], token="tok"))
    both = tmp_path / "pages"
    both.write_text(lookup_page(RECORDS[:10], token="tok") + "\n" + lookup_page(RECORDS[10:]))
    records, locations, skips, _ = read([str(one)])
    assert ids(records) == ids(list(reversed(RECORDS[:10]))) and skips == []
    assert locations[0] == "%s Events[0]" % one
    records, _, skips, _ = read([str(both)])
    assert sorted(ids(records)) == sorted(ids(RECORDS)) and skips == []


def test_lookup_events_with_broken_events_keeps_the_others(tmp_path):
    page = json.loads(lookup_page(RECORDS[:4]))
    page["Events"][1]["CloudTrailEvent"] = '{"eventID": "cut'
    del page["Events"][2]["CloudTrailEvent"]
    path = tmp_path / "page.json"
    path.write_text(json.dumps(page))
    records, _, skips, _ = read([str(path)])
    assert len(records) == 2
    assert [(s.reason, s.location.split()[-1]) for s in skips] == [
        ("not JSON", "Events[1].CloudTrailEvent"), ("no CloudTrailEvent", "Events[2]")]


@pytest.mark.parametrize("name", ["trail.log", "trail", "trail.txt.gz"])
def test_ndjson_is_recognised_by_content_whatever_its_name(tmp_path, name):
    text = "\n".join(json.dumps(r) for r in RECORDS) + "\n"
    data = gzip.compress(text.encode()) if name.endswith(".gz") else text.encode()
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / name).write_bytes(data)
    records, locations, skips, _ = read([str(tmp_path / "logs")])
    assert ids(records) == ids(RECORDS) and skips == []
    assert locations[1].endswith("%s:2" % name)


def test_a_byte_order_mark_is_not_content(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + doc(RECORDS[:3]).encode())
    records, _, skips, _ = read([str(path)])
    assert len(records) == 3 and skips == []


def test_a_file_that_is_not_json_is_one_skip(tmp_path):
    path = tmp_path / "notes.csv"
    path.write_text("a,b,c\n" * 1000)
    records, _, skips, _ = read([str(path)])
    assert records == [] and [s.reason for s in skips] == ["not a log file"]


# -- damage, resynchronised ----------------------------------------------------------------------
def test_a_malformed_record_in_a_records_array_costs_only_itself(tmp_path):
    good = [json.dumps(r) for r in RECORDS[:4]]
    broken = good[1][: len(good[1]) // 2]  # a record cut in the middle, then the next one
    path = tmp_path / "damaged.json"
    path.write_text('{"Records": [%s, %s, %s, %s]}' % (good[0], broken, good[2], good[3]))
    records, locations, skips, _ = read([str(path)])
    assert ids(records) == [RECORDS[0]["eventID"], RECORDS[2]["eventID"], RECORDS[3]["eventID"]]
    assert len(skips) == 1 and skips[0].reason == "not JSON" and skips[0].location.endswith("Records[1]")
    start = len('{"Records": [') + len(good[0]) + 2
    assert "at byte %d" % start in skips[0].detail
    assert "%d bytes lost, 1 record began in them" % (len(broken) + 2) in skips[0].detail


def test_the_skip_says_how_many_records_a_damaged_stretch_held(tmp_path):
    texts = [json.dumps(r) for r in RECORDS[:6]]
    for i in (1, 2, 3):  # a control character in each key: three records in a row unreadable
        texts[i] = texts[i].replace('"eventVersion"', '"event\x01Version"', 1)
    path = tmp_path / "damaged.json"
    path.write_text('{"Records": [%s]}' % ", ".join(texts))
    records, _, skips, reader = read([str(path)])
    assert ids(records) == [RECORDS[i]["eventID"] for i in (0, 4, 5)]
    lost = sum(len(t) + 2 for t in texts[1:4])
    assert [s.reason for s in skips] == ["not JSON"]
    assert "%d bytes lost, 3 records began in them" % lost in skips[0].detail
    assert reader.stats["bytes lost to damage"] == lost


def test_a_malformed_line_of_ndjson_costs_only_itself(tmp_path):
    lines = [json.dumps(r) for r in RECORDS[:3]]
    path = tmp_path / "x.ndjson"
    path.write_text("%s\n%s\n{oops\n%s\n" % (lines[0], lines[1], lines[2]))
    records, _, skips, _ = read([str(path)])
    assert len(records) == 3 and [(s.reason, s.location.rsplit(":", 1)[1]) for s in skips] == [("not JSON", "3")]
    assert "6 bytes lost" in skips[0].detail


def test_trailing_content_after_the_document_is_reported(tmp_path):
    path = tmp_path / "trailing.json"
    path.write_text(doc(RECORDS[:3]) + "]} garbage")
    records, _, skips, _ = read([str(path)])
    assert len(records) == 3 and [s.reason for s in skips] == ["trailing content"]
    assert "at byte %d" % len(doc(RECORDS[:3])) in skips[0].detail


def test_a_duplicate_records_key_is_reported_and_both_arrays_are_read(tmp_path):
    path = tmp_path / "dup.json"
    path.write_text('{"Records": %s, "Records": %s}' % (json.dumps(RECORDS[:3]), json.dumps(RECORDS[3:5])))
    records, _, skips, _ = read([str(path)])
    assert ids(records) == ids(RECORDS[:5]) and [s.reason for s in skips] == ["duplicate Records key"]


def test_an_unclosed_document_is_reported_as_truncated(tmp_path):
    text = doc(RECORDS[:4])
    path = tmp_path / "cut.json"
    path.write_text(text[:-2])  # no "]}"
    records, _, skips, _ = read([str(path)])
    assert len(records) == 4 and [(s.reason, s.location.split()[-1]) for s in skips] == [("truncated file", "Records[4]")]
    path.write_text(text[:-1])  # "]" but no "}"
    records, _, skips, _ = read([str(path)])
    assert len(records) == 4 and [s.reason for s in skips] == ["truncated file"]


def test_records_without_their_comma_are_all_read(tmp_path):
    path = tmp_path / "nocomma.json"
    path.write_text('{"Records": [%s %s]}' % (json.dumps(RECORDS[0]), json.dumps(RECORDS[1])))
    records, _, skips, _ = read([str(path)])
    assert len(records) == 2 and [s.reason for s in skips] == ["not JSON"]


# -- bounds --------------------------------------------------------------------------------------
def test_a_record_over_the_size_limit_is_skipped_and_its_neighbours_read(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_RECORD_CHARS", 4000)
    monkeypatch.setattr("harness.reader.CHUNK", 1024)
    huge = dict(RECORDS[1], userAgent="x" * 20000)
    nd = tmp_path / "x.ndjson"
    nd.write_text("\n".join(json.dumps(r) for r in (RECORDS[0], huge, RECORDS[2])) + "\n")
    ct = tmp_path / "x.json"
    ct.write_text(doc([RECORDS[0], huge, RECORDS[2]]))
    for path, where in ((nd, ":2"), (ct, "Records[1]")):
        records, _, skips, _ = read([str(path)])
        assert ids(records) == [RECORDS[0]["eventID"], RECORDS[2]["eventID"]], path
        assert [s.reason for s in skips] == ["record too large"] and skips[0].location.endswith(where)


def test_a_long_line_is_never_held_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_RECORD_CHARS", 4000)
    monkeypatch.setattr("harness.reader.CHUNK", 1024)
    biggest = []
    real_more = decode.Window.more

    def more(self, need=1):
        result = real_more(self, need)
        biggest.append(len(self.buf))
        return result

    monkeypatch.setattr(decode.Window, "more", more)
    path = tmp_path / "long.ndjson"
    path.write_text(json.dumps(RECORDS[0]) + "\n" + '{"a": "' + "x" * 200000 + '"}\n' + json.dumps(RECORDS[1]) + "\n")
    records, _, skips, _ = read([str(path)])
    assert len(records) == 2 and [s.reason for s in skips] == ["record too large"]
    assert max(biggest) < 3 * 4000 + 2 * 1024


@pytest.mark.parametrize("form", ["ndjson", "records", "lookup"])
def test_deep_nesting_is_a_skip_not_a_recursion_error(tmp_path, form):
    deep = dict(RECORDS[1], requestParameters=json.loads("[" * 150 + "]" * 150))
    deeper = '{"eventID": "x", "eventTime": "2026-03-10T09:00:00Z", "p": ' + "[" * 100000 + "]" * 100000 + "}"
    middle = [json.dumps(deep), deeper]
    if form == "ndjson":
        text = "\n".join([json.dumps(RECORDS[0])] + middle + [json.dumps(RECORDS[2])])
    elif form == "records":
        text = '{"Records": [%s]}' % ", ".join([json.dumps(RECORDS[0])] + middle + [json.dumps(RECORDS[2])])
    else:
        page = json.loads(lookup_page([RECORDS[0], RECORDS[1], RECORDS[2]]))
        page["Events"][1]["CloudTrailEvent"] = json.dumps(deep)
        page["Events"].insert(1, {"EventId": "x", "CloudTrailEvent": deeper})
        text = json.dumps(page)
    path = tmp_path / "deep.json"
    path.write_text(text)
    records, _, skips, _ = read([str(path)])
    assert sorted(ids(records)) == sorted([RECORDS[0]["eventID"], RECORDS[2]["eventID"]])
    assert [s.reason for s in skips] == ["too deeply nested", "too deeply nested"]


def test_a_big_record_is_decoded_a_bounded_number_of_times(tmp_path, monkeypatch):
    """Linear time: a record bigger than many read chunks is retried with a doubling window, not
    re-decoded once per chunk (which made a 512 KB file take minutes)."""
    monkeypatch.setattr("harness.reader.CHUNK", 1024)
    calls = []
    real = decode._raw_decode

    def counting(text, pos):
        calls.append(pos)
        return real(text, pos)

    monkeypatch.setattr(decode, "_raw_decode", counting)
    monkeypatch.setattr(decode, "_fast_loads", None)
    big = dict(RECORDS[0], userAgent="é" * 1_000_000)
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"Records": [big, RECORDS[1]]}, ensure_ascii=False), encoding="utf-8")
    records, _, skips, _ = read([str(path)])
    assert len(records) == 2 and skips == []
    # 1 MB in 1 KB chunks: about 2 * log2(1000) tries at most, not a thousand
    assert len(calls) < 30


# -- selection -----------------------------------------------------------------------------------
def test_since_until_account_region_select_records(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(doc(RECORDS))
    times = sorted(r["eventTime"] for r in RECORDS)
    middle = times[len(times) // 2]
    records, _, skips, reader = read([str(path)], since=middle)
    assert records and all(r["eventTime"] >= middle for r in records) and skips == []
    assert reader.stats["records outside the selection"] == len(RECORDS) - len(records)
    records, _, _, _ = read([str(path)], until=middle)
    assert records and all(r["eventTime"] < middle for r in records)
    records, _, _, _ = read([str(path)], accounts=["444455556666"])
    assert records and {r["recipientAccountId"] for r in records} == {"444455556666"}
    records, _, _, _ = read([str(path)], regions="eu-west-1")
    assert records == []


def test_a_bad_since_is_a_clear_error():
    from harness.reader import InputError
    with pytest.raises(InputError, match="--since"):
        Reader(["-"], since="last tuesday")


def test_an_export_with_sorted_keys_resynchronises_too(tmp_path):
    # pretty-printed with sorted keys: records start with additionalEventData or awsRegion, not eventVersion
    texts = [json.dumps(r, indent=2, sort_keys=True) for r in RECORDS[:4]]
    texts[1] = texts[1][: len(texts[1]) // 3]
    path = tmp_path / "sorted.json"
    path.write_text("[\n" + ",\n".join(texts) + "\n]\n")
    records, _, skips, _ = read([str(path)])
    assert ids(records) == [RECORDS[0]["eventID"], RECORDS[2]["eventID"], RECORDS[3]["eventID"]]
    assert [(s.reason, s.location.split()[-1]) for s in skips] == [("not JSON", "[1]")]


def test_the_prefilter_passes_over_whole_objects_only(tmp_path):
    """Replay's prefilter (lines with none of its texts are counted, not parsed) never hides damage: a
    truncated line, an array or a string is still decoded and reported."""
    lines = [json.dumps(r) for r in RECORDS[:6]]
    text = "\n".join([lines[0], lines[1][:40], lines[2], "[1, 2]", lines[3], '"x"', "", lines[4], lines[5]]) + "\n"
    path = tmp_path / "x.ndjson"
    path.write_text(text)
    skips = []
    reader = Reader([str(path)], on_skip=skips.append, prefilter=["no such text anywhere"])
    # the first value is always decoded (it tells the form); then whole objects without the texts are not
    assert [loc.rsplit(":", 1)[1] for _, loc in reader] == ["1"]
    assert [(s.reason, s.location.rsplit(":", 1)[1]) for s in skips] == [
        ("not JSON", "2"), ("not a JSON object", "4"), ("not a JSON object", "6")]
    assert reader.stats["lines not parsed"] == 5  # lines 3, 5, 7 (blank), 8 and 9
