"""The SCP v2 driver against recorded splunkd traffic: what splunkd sent each type of command, and
what became of the command's reply.

Sources (data only, re-typed here):
- NDietrich/Splunk-CustomSearchProtocol-v2, ``example_messages/`` (Splunk 8.2.1): ``doubleage (streaming).md``,
  ``accumages (stateful).md``, ``sortages(events).md``, ``averageage (reporting).md``; the events are
  the five records of its ``README.md`` (index beetles), newest first as splunkd sent them.
- splunk/splunk-sdk-python at 81ab83c^ (recordings removed in 81ab83c),
  ``tests/searchcommands/recordings/scpv2/Splunk-6.3/sum.reduce.{input.gz,output}`` and ``sum.map.output``.

Each recorded command is replayed by a stub that answers getinfo and every execute chunk with the
recorded reply and reports the body it received; the test checks that the driver sent what splunkd
sent and that it made of the reply what splunkd does (merge by ``_chunked_idx`` or replace).
"""

import io
import json
import textwrap

import pytest

from harness.splunk.scp import ScpError, decode_records, read_frame, run_command

# The five events (sortages recording: every field splunkd had, in the order it sent them).
BEETLES = [
    {"index": "beetles", "_time": "1627354345.934", "_raw": '{"date":"1627354345.934","name":"Noah","age":"66","uid":"05"}',
     "_sourcetype": "_json", "_indextime": "1627355502", "_subsecond": ".934", "name": "Noah", "age": "66"},
    {"index": "beetles", "_time": "1627354339.384", "_raw": '{"date":"1627354339.384","name":"Ringo","age":"18","uid":"04"}',
     "_sourcetype": "_json", "_indextime": "1627355502", "_subsecond": ".384", "name": "Ringo", "age": "18"},
    {"index": "beetles", "_time": "1627354223.584", "_raw": '{"date":"1627354223.584","name":"George","age":"25","uid":"03"}',
     "_sourcetype": "_json", "_indextime": "1627355502", "_subsecond": ".584", "name": "George", "age": "25"},
    {"index": "beetles", "_time": "1627354180.246", "_raw": '{"date":"1627354180.246","name":"Paul","age":"96","uid":"02"}',
     "_sourcetype": "_json", "_indextime": "1627355502", "_subsecond": ".246", "name": "Paul", "age": "96"},
    {"index": "beetles", "_time": "1627354100.265", "_raw": '{"date":"1627354100.265","name":"John","age":"52","uid":"01"}',
     "_sourcetype": "_json", "_indextime": "1627355502", "_subsecond": ".265", "name": "John", "age": "52"},
]

# Recorded frames, byte for byte: (getinfo reply, execute frame splunkd sent, the command's reply frame).
STREAMING = (
    '{"type":"streaming","required_fields":["age"]}',
    'chunked 1.0,37,85\n{"action":"execute","finished":false}age,"_chunked_idx","__mv_age","__mv__chunked_idx"\n'
    '66,0,,\n18,1,,\n25,2,,\n96,3,,\n52,4,,\n',
    'chunked 1.0,18,82\n{"finished":false}age,_chunked_idx,__mv_age,__mv__chunked_idx\n'
    '132,0,,\n36,1,,\n50,2,,\n192,3,,\n104,4,,\n',
)
STATEFUL = (
    '{"type":"stateful","required_fields":["age","accum_age"]}',
    'chunked 1.0,37,124\n{"action":"execute","finished":false}age,"accum_age","_chunked_idx","__mv_age",'
    '"__mv_accum_age","__mv__chunked_idx"\n66,,0,,,\n18,,1,,,\n25,,2,,,\n96,,3,,,\n52,,4,,,\n',
    'chunked 1.0,18,127\n{"finished":false}age,accum_age,_chunked_idx,__mv_age,__mv_accum_age,__mv__chunked_idx\n'
    '66,66,0,,,\n18,84,1,,,\n25,109,2,,,\n96,205,3,,,\n52,257,4,,,\n',
)
REPORTING = (
    '{"type":"reporting","required_fields":["age"]}',
    'chunked 1.0,36,35\n{"action":"execute","finished":true}age,"__mv_age"\n66,\n18,\n25,\n96,\n52,\n',
    'chunked 1.0,17,13\n{"finished":true}average\n51.4\n',
)


# sum.map.output (splunklib ends its CSV lines with \r\n)
SUM_MAP_REPLY = 'chunked 1.0,17,34\n{"finished":true}total,__mv_total\r\n2147943.07811,\r\n'


def recorded_execute(frame):
    """(metadata, records) of a recorded frame, parsed by the driver's own reader."""
    got = read_frame(io.BytesIO(frame.encode("utf-8")))
    assert got is not None
    return got[0], decode_records(got[1])


@pytest.mark.parametrize("recording", [STREAMING, STATEFUL, REPORTING], ids=["streaming", "stateful", "reporting"])
def test_recorded_frames_parse_byte_for_byte(recording):
    # splunkd quotes some header names and puts every __mv_ column last; the lengths are its own
    sent, reply = recording[1:]
    meta, records = recorded_execute(sent)
    assert meta["action"] == "execute" and [r["age"] for r in records] == ["66", "18", "25", "96", "52"]
    assert all(("_chunked_idx" in r) == ("stateful" in recording[0] or "streaming" in recording[0]) for r in records)
    meta, records = recorded_execute(reply)
    assert meta["finished"] is (recording is REPORTING) and records


def replay_command(tmp_path, getinfo_reply, reply_frame):
    """A stub command in <app>/bin that answers like the recorded one and reports each body it got."""
    bin_dir = tmp_path / "app" / "bin"
    bin_dir.mkdir(parents=True)
    script = bin_dir / "replay.py"
    reply_meta, reply_body = read_frame(io.BytesIO(reply_frame.encode("utf-8")))
    script.write_text(textwrap.dedent('''
        import json, sys
        out, inp = sys.stdout.buffer, sys.stdin.buffer
        GETINFO, BODY = %r, %r
        def read():
            header = inp.readline()
            if not header:
                return None
            _, m, b = header.decode().strip().split(",")
            meta = json.loads(inp.read(int(m)))
            return meta, inp.read(int(b)).decode("utf-8")
        def write(meta, body=""):
            m, b = json.dumps(meta).encode(), body.encode()
            out.write(b"chunked 1.0,%%d,%%d\\n" %% (len(m), len(b)) + m + b)
            out.flush()
        read()
        write(json.loads(GETINFO))
        while True:
            got = read()
            if got is None:
                break
            meta, body = got
            write({"finished": meta["finished"], "inspector": {"messages": [["INFO", json.dumps(body)]]}},
                  BODY if body else "")
        ''') % (getinfo_reply, reply_body), encoding="utf-8")
    return script


def sent_bodies(result):
    return [decode_records(json.loads(text)) for text in result.messages_at("INFO")]


@pytest.mark.parametrize("recording", [STREAMING, STATEFUL], ids=["streaming", "stateful"])
def test_selected_fields_are_sent_with_the_index_and_merged_back(tmp_path, recording):
    getinfo, splunkd_frame, reply_frame = recording
    result = run_command(replay_command(tmp_path, getinfo, reply_frame), [], BEETLES)
    [sent] = sent_bodies(result)
    assert sent == recorded_execute(splunkd_frame)[1]  # only the required fields and _chunked_idx
    replies = recorded_execute(reply_frame)[1]
    expected = []
    for event, reply in zip(BEETLES, replies):
        merged = dict((k, v) for k, v in event.items() if k not in json.loads(getinfo)["required_fields"])
        merged.update((k, v) for k, v in reply.items() if k != "_chunked_idx")
        expected.append(merged)
    assert result.records == expected
    assert result.records[0]["name"] == "Noah" and "_raw" in result.records[0]  # never sent, kept


def test_a_reporting_command_gets_only_its_fields_without_an_index_and_its_rows_replace_the_events(tmp_path):
    getinfo, splunkd_frame, reply_frame = REPORTING
    result = run_command(replay_command(tmp_path, getinfo, reply_frame), [], BEETLES)
    [sent] = sent_bodies(result)
    assert sent == recorded_execute(splunkd_frame)[1] == [{"age": a} for a in ("66", "18", "25", "96", "52")]
    assert result.records == [{"average": "51.4"}]


def test_an_events_command_gets_every_field_even_with_required_fields(tmp_path):
    # sortages: type events with required_fields ["age"], yet splunkd sent every field and no index
    reply = 'chunked 1.0,17,0\n{"finished":true}'
    script = replay_command(tmp_path, '{"type":"events","required_fields":["age"]}', reply)
    result = run_command(script, [], BEETLES)
    [sent] = sent_bodies(result)
    assert sent == BEETLES
    assert result.records == []  # its (empty) reply replaced the events


def test_a_recorded_reduce_with_a_streaming_preop_is_refused(tmp_path):
    # sum.reduce.output: splunklib's ReportingCommand declares a pre-op on its own, which splunkd runs
    # (sum.map) before the reduce; this driver does not, so it must not pretend the pre-op ran
    getinfo = '{"streaming_preop":"sum phase=\\"map\\" total=\\"total\\" value1","type":"reporting"}'
    script = replay_command(tmp_path, getinfo, SUM_MAP_REPLY)
    with pytest.raises(ScpError, match=r"declared the streaming_preop 'sum phase=\"map\" total=\"total\" value1'"):
        run_command(script, [], [{"total": "1"}])


def test_the_recorded_reduce_input_carries_no_index():
    # sum.reduce.input.gz: the execute chunk splunkd sent the reduce phase
    frame = 'chunked 1.0,36,36\n{"action":"execute","finished":true}total,"__mv_total"\n"2147943.07811",\n'
    assert recorded_execute(frame) == ({"action": "execute", "finished": True}, [{"total": "2147943.07811"}])


def test_a_streaming_command_without_selected_fields_may_return_new_rows(tmp_path):
    # sum.map.output: a streaming pre-op without required_fields answered with one new row (the total),
    # which replaced its input: only selected-fields mode merges by index
    script = replay_command(tmp_path, '{"type":"streaming"}', SUM_MAP_REPLY)
    result = run_command(script, [], BEETLES)
    assert sent_bodies(result) == [BEETLES]
    assert result.records == [{"total": "2147943.07811"}]
