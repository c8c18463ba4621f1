"""The SCP v2 driver (harness/splunk/scp.py): framing, CSV encoding, and failures of the child process."""

import io
import sys
import textwrap

import pytest

from harness.splunk.scp import (
    Conversation, ScpError, decode_mv, decode_records, encode_frame, encode_mv, encode_records,
    read_frame, run_command,
)


def test_frames_count_bytes_not_characters():
    frame = encode_frame({"action": "execute", "finished": True}, "user\nJosé ☃\n")
    header, rest = frame.split(b"\n", 1)
    meta_len, body_len = (int(x) for x in header.split(b",")[1:])
    assert body_len == len("user\nJosé ☃\n".encode("utf-8")) == 15
    assert meta_len + body_len == len(rest)
    assert read_frame(io.BytesIO(frame)) == ({"action": "execute", "finished": True}, "user\nJosé ☃\n")


def test_read_frame_skips_blank_lines_and_reports_eof():
    stream = io.BytesIO(b"\n\r\n" + encode_frame({"a": 1}) + encode_frame({"b": 2}, "x"))
    assert read_frame(stream) == ({"a": 1}, "")
    assert read_frame(stream) == ({"b": 2}, "x")
    assert read_frame(stream) is None


@pytest.mark.parametrize("data, message", [
    (b"chunked 2.0,2,0\n{}", "bad chunk header"),
    (b"HTTP/1.1 200 OK\n", "bad chunk header"),
    (b"chunked 1.0,10,0\n{}", "truncated chunk: expected 10 bytes, got 2"),
    (b"chunked 1.0,2,5\n{}ab", "truncated chunk: expected 5 bytes, got 2"),
    (b"chunked 1.0,3,0\n{x}", "chunk metadata is not JSON"),
    (b"chunked 1.0,2,0\n[]", "not a JSON object"),
])
def test_read_frame_rejects_malformed_frames(data, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        read_frame(io.BytesIO(data))


def test_multivalue_encoding_doubles_dollars():
    assert encode_mv(["a", "b$c", "$"]) == "$a$;$b$$c$;$$$$"
    assert decode_mv("$a$;$b$$c$;$$$$") == ["a", "b$c", "$"]
    assert decode_mv("$$") == [""]


def test_records_are_encoded_with_mv_columns_in_first_seen_order():
    body = encode_records([{"a": "1", "m": ["x", "y$"]}, {"b": 'say "hi", ok', "a": ["only"]}])
    lines = body.split("\n")
    assert lines[0] == "a,__mv_a,m,__mv_m,b,__mv_b"
    assert body.startswith('a,__mv_a,m,__mv_m,b,__mv_b\n1,,"x\ny$",$x$;$y$$$,,\n')
    assert decode_records(body) == [{"a": "1", "m": ["x", "y$"]}, {"a": "only", "b": 'say "hi", ok'}]


def test_required_fields_restrict_columns_and_add_the_chunk_index():
    records = [{"_raw": "x" * 100, "keep": "1", "other": "o"}, {"keep": "2", "_time": 5}]
    body = encode_records(records, fields=["_time", "keep", "absent"], index_field="_chunked_idx")
    assert body.split("\n")[0] == "_time,__mv__time,keep,__mv_keep,_chunked_idx,__mv__chunked_idx"
    assert decode_records(body) == [{"keep": "1", "_chunked_idx": "0"}, {"_time": "5", "keep": "2", "_chunked_idx": "1"}]


def test_decoding_prefers_a_non_empty_mv_cell_and_drops_empty_cells():
    body = "a,__mv_a,b,__mv_b\r\nplain,$v1$;$v2$,,\r\n"
    assert decode_records(body) == [{"a": ["v1", "v2"]}]
    assert decode_records("") == []


def fake_command(tmp_path, body):
    """A stdlib 'command' that speaks (or breaks) the protocol; it lives in <app>/bin like a real one."""
    bin_dir = tmp_path / "app" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "fake.py"
    script.write_text(textwrap.dedent('''
        import json, sys
        out, inp = sys.stdout.buffer, sys.stdin.buffer
        def read():
            header = inp.readline()
            if not header:
                return None
            _, m, b = header.decode().strip().split(",")
            meta = json.loads(inp.read(int(m)))
            inp.read(int(b))
            return meta
        def write(meta, body=b""):
            m = json.dumps(meta).encode()
            out.write(b"chunked 1.0,%d,%d\\n" % (len(m), len(body)) + m + body)
            out.flush()
        ''') + textwrap.dedent(body), encoding="utf-8")
    return script


def test_getinfo_is_complete_and_the_child_gets_no_arguments(tmp_path):
    script = fake_command(tmp_path, '''
        meta = read()
        info = meta["searchinfo"]
        body = ("argv=%d;%s;%s;%s" % (len(sys.argv), info["search"], info["app"], info["command"])).encode()
        write({"type": "stateful"})
        while read() is not None:
            write({"finished": True}, b"echo\\r\\n" + body + b"\\r\\n")
        ''')
    result = run_command(script, ["detection=x"], [], search_text='search a="b c" | fake detection=x')
    assert result.getinfo == {"type": "stateful"}
    assert result.records == [{"echo": "argv=1;search%20a%3D%22b%20c%22%20%7C%20fake%20detection%3Dx;app;fake"}]


def test_getinfo_carries_every_searchinfo_key_splunkd_sends(tmp_path):
    script = fake_command(tmp_path, '''
        meta = read()
        keys = sorted(meta["searchinfo"]) + sorted(k for k in meta if k != "searchinfo")
        write({"type": "streaming", "inspector": {"messages": [["INFO", " ".join(keys)]]}})
        while read() is not None:
            write({"finished": True})
        ''')
    result = run_command(script, [], [])
    info_keys = result.messages_at("INFO")[0].split()
    for key in ("args", "raw_args", "dispatch_dir", "sid", "app", "owner", "username", "session_key",
                "splunkd_uri", "splunk_version", "search", "command", "maxresultrows", "earliest_time",
                "latest_time", "action", "preview", "streaming_command_will_restart"):
        assert key in info_keys


def test_a_child_that_dies_is_reported_with_its_stderr(tmp_path):
    script = fake_command(tmp_path, '''
        read()
        sys.stderr.write("Traceback: something broke\\n")
        sys.exit(3)
        ''')
    with pytest.raises(ScpError) as caught:
        run_command(script, [], [{"a": "1"}])
    err = caught.value
    assert err.returncode == 3
    assert "exited without answering getinfo" in str(err)
    assert "something broke" in err.stderr and "something broke" in str(err)


def test_a_bad_header_is_an_error(tmp_path):
    script = fake_command(tmp_path, '''
        read()
        out.write(b"hello\\n")
        out.flush()
        ''')
    with pytest.raises(ScpError, match="bad reply to getinfo: bad chunk header"):
        run_command(script, [], [])


def test_an_error_chunk_stops_the_conversation(tmp_path):
    script = fake_command(tmp_path, '''
        read()
        write({"type": "streaming"})
        read()
        write({"finished": True, "inspector": {"messages": [["ERROR", "boom"]]}})
        sys.exit(1)
        ''')
    with pytest.raises(ScpError) as caught:
        run_command(script, [], [{"a": "1"}, {"a": "2"}], chunk_size=1)
    assert "finished before the last chunk" in str(caught.value)
    assert caught.value.messages == [("ERROR", "boom")]
    assert caught.value.returncode == 1


def test_a_hung_command_is_killed_after_the_timeout(tmp_path):
    script = fake_command(tmp_path, '''
        import time
        read()
        time.sleep(60)
        ''')
    with pytest.raises(ScpError, match="did not answer within 1.0s"):
        run_command(script, [], [], timeout=1.0)


def test_the_driver_replies_before_sending_the_next_chunk(tmp_path):
    # the fake answers each chunk with the number of chunks it has read so far: if the driver sent
    # ahead, the counts would not be 1, 2, 3
    script = fake_command(tmp_path, '''
        read()
        write({"type": "streaming"})
        seen = 0
        while True:
            meta = read()
            if meta is None:
                break
            seen += 1
            write({"finished": meta["finished"]}, b"n\\r\\n%d\\r\\n" % seen)
        ''')
    result = run_command(script, [], [{"a": str(i)} for i in range(3)], chunk_size=1)
    assert [r["n"] for r in result.records] == ["1", "2", "3"]


ECHO = '''
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from splunklib.searchcommands import Configuration, StreamingCommand, dispatch

@Configuration({config})
class Echo(StreamingCommand):
    def stream(self, records):
        for record in records:
            yield record

dispatch(Echo, sys.argv, sys.stdin, sys.stdout, __name__)
'''


def echo_app(tmp_path, vendored_lib, config=""):
    import os
    app = tmp_path / "echo_app"
    (app / "bin").mkdir(parents=True)
    (app / "lib").mkdir()
    os.symlink(str(vendored_lib / "splunklib"), str(app / "lib" / "splunklib"))
    script = app / "bin" / "echo.py"
    script.write_text(ECHO.format(config=config), encoding="utf-8")
    return script


def test_values_survive_a_round_trip_through_splunklib(tmp_path, vendored_lib, command_python):
    script = echo_app(tmp_path, vendored_lib)
    records = [
        {"plain": "a,b \"quoted\"", "mv": ["x$y", "line\nbreak", "ü ☃"], "_time": "1773133380"},
        {"plain": "second", "mv": ["single"]},
        {"plain": "", "mv": []},
    ]
    result = run_command(script, [], records, python=command_python, chunk_size=2)
    assert result.records == [
        {"plain": "a,b \"quoted\"", "mv": ["x$y", "line\nbreak", "ü ☃"], "_time": "1773133380"},
        {"plain": "second", "mv": "single"},
        {},
    ]


def test_only_required_fields_reach_the_command_and_its_rows_are_merged_back(tmp_path, vendored_lib):
    script = echo_app(tmp_path, vendored_lib, "required_fields=['keep', '_time']")
    records = [{"keep": "k%d" % i, "_raw": "{...}", "drop": "d", "_time": str(i)} for i in range(3)]
    conv = Conversation(script, [])
    assert conv.start()["required_fields"] == ["keep", "_time"]
    # without the events to merge onto, execute returns the rows as the command wrote them
    assert conv.execute(conv.encode_chunk(records[:2]), finished=False) == [
        {"_time": "0", "keep": "k0", "_chunked_idx": "0"},
        {"_time": "1", "keep": "k1", "_chunked_idx": "1"},
    ]
    assert conv.send(records[2:], finished=True) == [dict(records[2])]  # merged: _raw and drop are back
    conv.close()
    result = run_command(script, [], records, chunk_size=2)
    assert result.records == records


NEW_ROWS = '''
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))
from splunklib.searchcommands import Configuration, ReportingCommand, StreamingCommand, dispatch

class Counter(object):
    seen = 0

    def rows(self, records):
        for record in records:
            self.seen += 1
        if self.metadata.finished:  # like an alerting command: one new row at the end
            yield {{"count": self.seen}}


@Configuration(required_fields=["a"], distributed={distributed})
class CountStreaming(Counter, StreamingCommand):
    def stream(self, records):
        return self.rows(records)


@Configuration(required_fields=["a"])
class CountReporting(Counter, ReportingCommand):
    def prepare(self):
        pass  # no streaming pre-op

    def reduce(self, records):
        return self.rows(records)


@Configuration(required_fields=["a"])
class CountReportingWithPreop(Counter, ReportingCommand):
    def reduce(self, records):  # splunklib's own prepare() left in place
        return self.rows(records)


dispatch(Count{base}, sys.argv, sys.stdin, sys.stdout, __name__)
'''


def new_rows_app(tmp_path, vendored_lib, base, distributed=False):
    script = echo_app(tmp_path, vendored_lib)
    script.write_text(NEW_ROWS.format(base=base, distributed=distributed), encoding="utf-8")
    return script


@pytest.mark.parametrize("distributed, declared", [(False, "stateful"), (True, "streaming")])
def test_new_rows_from_a_streaming_or_stateful_command_with_required_fields_fail(tmp_path, vendored_lib,
                                                                                  distributed, declared):
    script = new_rows_app(tmp_path, vendored_lib, "Streaming", distributed)
    with pytest.raises(ScpError) as caught:
        run_command(script, [], [{"a": str(i), "b": "x"} for i in range(5)], chunk_size=2)
    assert caught.value.getinfo["type"] == declared
    assert ("output row 1 of a %s command with required_fields has no _chunked_idx: it is a new row" % declared
            in str(caught.value))
    assert "must declare type 'reporting'" in str(caught.value)


def test_the_same_rows_from_a_reporting_command_replace_the_events(tmp_path, vendored_lib):
    script = new_rows_app(tmp_path, vendored_lib, "Reporting")
    result = run_command(script, [], [{"a": str(i), "b": "x"} for i in range(5)], chunk_size=2)
    assert result.getinfo["type"] == "reporting" and "streaming_preop" not in result.getinfo
    assert result.records == [{"count": "5"}]


def test_splunklib_declares_a_streaming_preop_for_a_reporting_command_without_map(tmp_path, vendored_lib):
    # ReportingCommand.prepare (reporting_command.py) sets streaming_preop in the reduce phase whether
    # or not the command has a map: awssignin overrides prepare, and the driver refuses a pre-op
    script = new_rows_app(tmp_path, vendored_lib, "ReportingWithPreop")
    with pytest.raises(ScpError, match=r"declared the streaming_preop 'countreportingwithpreop phase=\"map\""):
        run_command(script, [], [{"a": "1"}])


@pytest.mark.parametrize("index, problem", [("7", "_chunked_idx='7', no event of this chunk"),
                                            ("0", "_chunked_idx='0', already used")])
def test_rows_naming_no_event_or_the_same_event_twice_fail(tmp_path, index, problem):
    script = fake_command(tmp_path, '''
        read()
        write({"type": "stateful", "required_fields": ["a"]})
        while read() is not None:
            write({"finished": True}, b"a,_chunked_idx\\r\\nx,0\\r\\ny,%s\\r\\n")
        ''' % index)
    with pytest.raises(ScpError, match="output row 2 of a stateful command with required_fields has " + problem):
        run_command(script, [], [{"a": "1"}, {"a": "2"}])


def test_unknown_types_are_refused(tmp_path):
    script = fake_command(tmp_path, '''
        read()
        write({"type": "transforming"})
        ''')
    with pytest.raises(ScpError, match="declared type 'transforming'; splunkd knows streaming, stateful"):
        run_command(script, [], [])


def test_a_conversation_can_be_driven_chunk_by_chunk(tmp_path, vendored_lib):
    script = echo_app(tmp_path, vendored_lib)
    conv = Conversation(script, [], python=sys.executable)
    assert conv.start()["type"] == "streaming"
    assert conv.execute(conv.encode_chunk([{"a": "1"}]), finished=False) == [{"a": "1"}]
    assert conv.execute(b"", finished=True) == []
    assert conv.close() == (0, "")
