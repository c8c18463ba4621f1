"""The awssignin search command (addon/bin/awssignin.py), driven over the chunked protocol as splunkd drives it."""

import copy
import os
import json
import random
import subprocess

import pytest

from awssignin.normalize import SPLUNK_FIELDS
from harness.splunk.fieldview import field_view
from harness.splunk.scp import Conversation, ScpError, run_command

ROOT_SUCCESS = {
    "id": "root_login",
    "title": "Root console login",
    "severity": "high",
    "risk_score": 73,
    "mitre": ["T1078.004"],
    "building_block": False,
    "logic": {
        "type": "event",
        "where": {"all": [
            {"field": "event_source", "equals": "signin.amazonaws.com"},
            {"field": "event_name", "equals": "ConsoleLogin"},
            {"field": "identity_type", "equals": "Root"},
            {"field": "outcome", "equals": "success"},
        ]},
        "group_by": ["account_id", "source_ip"],
    },
}
ROOT_FAILURES = {
    "id": "root_failures",
    "title": "Root console login failures",
    "severity": "high",
    "risk_score": 73,
    "mitre": ["T1110.001", "T1078.004"],
    "building_block": False,
    "logic": {
        "type": "threshold",
        "where": {"all": [
            {"field": "event_name", "equals": "ConsoleLogin"},
            {"field": "identity_type", "equals": "Root"},
            {"field": "outcome", "equals": "failure"},
        ]},
        "group_by": ["account_id"],
        "threshold": 5,
        "window": "15m",
    },
}
IAM_SUCCESS = {
    "id": "iam_login",
    "title": "IAM user console login",
    "severity": "low",
    "risk_score": 21,
    "mitre": ["T1078.004"],
    "building_block": False,
    "logic": {
        "type": "event",
        "where": {"all": [
            {"field": "event_name", "equals": "ConsoleLogin"},
            {"field": "identity_type", "equals": "IAMUser"},
            {"field": "outcome", "equals": "success"},
        ]},
        "group_by": ["user"],
    },
}
SPECS = [ROOT_SUCCESS, ROOT_FAILURES, IAM_SUCCESS]


def root_login(event_id, minute, second=0, outcome="Success", ip="203.0.113.20", account="111122223333"):
    """A root ConsoleLogin as CloudTrail writes it (notes/vendor-rules.md §3.5)."""
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "Root", "principalId": account, "arn": "arn:aws:iam::%s:root" % account,
                         "accountId": account, "accessKeyId": ""},
        "eventTime": "2026-03-10T09:%02d:%02dZ" % (minute, second),
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": outcome},
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs",
                                "MobileVersion": "No", "MFAUsed": "No"},
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": "signin.aws.amazon.com"},
    }
    if outcome == "Failure":
        record["errorMessage"] = "Failed authentication"
    return record


def iam_login(event_id, minute, user="alice", account="111122223333"):
    """An IAM user's successful ConsoleLogin (notes/vendor-rules.md §3.1)."""
    record = root_login(event_id, minute, account=account, ip="198.51.100.10")
    record["userIdentity"] = {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSERID0001",
                              "arn": "arn:aws:iam::%s:user/%s" % (account, user),
                              "accountId": account, "userName": user}
    return record


def splunk_events(raw_records):
    """What splunkd hands the command: field views, newest first."""
    views = [field_view(r) for r in raw_records]
    return sorted(views, key=lambda v: v["_time"], reverse=True)


def failures(n, start_minute=0, step=1, prefix="f"):
    return [root_login("%s-%02d" % (prefix, i), start_minute + i * step, outcome="Failure") for i in range(n)]


@pytest.fixture
def script(make_app):
    return make_app(SPECS)


def alert_keys(records):
    return sorted((r["detection"], r["group"], tuple(r["event_ids"]) if isinstance(r["event_ids"], list)
                   else (r["event_ids"],)) for r in records)


def test_getinfo_declares_a_reporting_command_without_preop_that_needs_no_raw(script, command_python):
    result = run_command(script, ["detection=root_login"], [], python=command_python)
    # a transforming command: runs once, on the search head, over every event; its rows replace them
    assert result.getinfo["type"] == "reporting"
    assert "streaming_preop" not in result.getinfo  # no map phase for splunkd to run on the indexers
    required = result.getinfo["required_fields"]
    assert set(required) >= set(SPLUNK_FIELDS) | {"_time"}
    assert "_raw" not in required
    assert result.records == [] and result.returncode == 0


def test_root_login_becomes_one_row_with_the_alert_schema(script, command_python):
    events = splunk_events([root_login("e-1", 3), iam_login("e-2", 4)])
    result = run_command(script, ["detection=root_login"], events, python=command_python)
    assert result.records == [{
        "_time": "1773133380",
        "detection": "root_login",
        "title": "Root console login",
        "severity": "high",
        "risk_score": "73",
        "mitre": "T1078.004",  # one value: Splunk makes it a single-value field
        "platform": "splunk",
        "first_seen": "2026-03-10T09:03:00Z",
        "last_seen": "2026-03-10T09:03:00Z",
        "count": "1",
        "event_ids": "e-1",
        "group": '{"account_id":"111122223333","source_ip":"203.0.113.20"}',
        "group_account_id": "111122223333",
        "group_source_ip": "203.0.113.20",
    }]
    assert result.messages == []


def test_chunking_and_arrival_order_do_not_change_the_alerts(script, command_python):
    # two bursts of root failures 40 minutes apart, plus noise, spread over many chunks
    raw = failures(6, 0, 2, "a") + failures(5, 40, 1, "b") + [root_login("ok-%d" % i, 20 + i) for i in range(4)]
    events = splunk_events(raw)
    one = run_command(script, ["detection=root_failures"], events, python=command_python)
    assert alert_keys(one.records) == [
        ("root_failures", '{"account_id":"111122223333"}', tuple("a-%02d" % i for i in range(6))),
        ("root_failures", '{"account_id":"111122223333"}', tuple("b-%02d" % i for i in range(5))),
    ]
    for chunk_size in (1, 2, 7):
        many = run_command(script, ["detection=root_failures"], events, python=command_python, chunk_size=chunk_size)
        assert alert_keys(many.records) == alert_keys(one.records)
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    assert alert_keys(run_command(script, ["detection=root_failures"], shuffled, python=command_python,
                                  chunk_size=3).records) == alert_keys(one.records)


def test_intermediate_chunks_are_answered_without_rows(script):
    conv = Conversation(script, ["detection=root_login"])
    conv.start()
    first = splunk_events([root_login("late", 30)])
    assert conv.execute(conv.encode_chunk(first), finished=False) == []  # alert held until the end
    assert conv.execute(conv.encode_chunk(splunk_events([root_login("early", 1)])), finished=False) == []
    rows = conv.execute("", finished=True)  # splunkd may close with an empty final chunk
    assert conv.close()[0] == 0
    assert [r["event_ids"] for r in rows] == ["late", "early"]  # newest first, like Splunk's results


def test_malformed_events_are_counted_and_reported_not_fatal(script, command_python):
    good = root_login("good", 5)
    events = splunk_events([good, root_login("second", 6)])
    bad_time = dict(events[0], eventTime="yesterday", eventID="bad-1")
    no_time = dict(events[0], eventID="bad-2")
    del no_time["eventTime"]
    no_time2 = dict(no_time, eventID="bad-3")
    no_id = dict(events[0])
    del no_id["eventID"]
    braces = dict(events[0], eventTime="{not a time}", eventID="bad-4")  # splunklib formats message text
    no_type = dict(events[0], eventID="no-type")
    del no_type["userIdentity.type"]  # not malformed: the event simply is not a root login
    stream = [events[0], bad_time, no_time, no_id, braces, no_time2, no_type, events[1]]
    result = run_command(script, ["detection=root_login"], stream, python=command_python, chunk_size=3)
    assert sorted(r["event_ids"] for r in result.records) == ["good", "second"]
    warnings = result.messages_at("WARN")
    assert len(warnings) == 1, result.messages
    text = warnings[0]
    assert text.startswith("awssignin: skipped 5 of 8 events that could not be read: ")
    assert "eventTime: missing (2)" in text
    assert "eventID: missing (1)" in text
    assert "eventTime: not an ISO 8601 time: 'yesterday' (1)" in text
    assert "{not a time}" in text
    assert result.returncode == 0


def test_one_bad_event_never_aborts_the_search(script, command_python):
    # each of these ended the whole search before: an unreadable year, a field past splunklib's CSV
    # field limit, values Splunk hands over as multivalue where the engine reads one string
    events = splunk_events([root_login("good", 5), root_login("second", 6)])
    base = events[0]
    stream = [
        events[0],
        dict(base, eventTime="0999-03-10T09:05:00Z", eventID="year-999"),
        dict(base, eventTime="10000-03-10T09:05:00Z", eventID="year-10000"),
        dict(base, eventID="huge", userAgent="A" * (10 * 1024 * 1024 + 1)),
        dict(base, eventID="mv-time", eventTime=["2026-03-10T09:05:00Z", "2026-03-10T09:06:00Z"]),
        events[1],
    ]
    result = run_command(script, ["detection=root_login"], stream, python=command_python, chunk_size=4)
    assert sorted(r["event_ids"] for r in result.records) == ["good", "second"]
    [text] = result.messages_at("WARN")
    assert text.startswith("awssignin: skipped 4 of 6 events that could not be read: ")
    assert "eventTime: outside the years 1000-9999: '0999-03-10T09:05:00Z' (1)" in text
    assert "eventTime: not an ISO 8601 time: '10000-03-10T09:05:00Z' (1)" in text
    assert "userAgent: longer than 1048576 characters (1)" in text
    assert result.returncode == 0


def test_values_past_the_csv_default_limit_and_nul_characters_are_read(script, command_python):
    # 200 KiB is past the csv module's default field limit (128 KiB) that splunklib parses with;
    # NUL made Python 3.9's csv module refuse the whole chunk
    event = dict(splunk_events([root_login("long-agent", 5)])[0], userAgent="Mozilla/5.0 " + "x" * (200 * 1024))
    nul = dict(splunk_events([root_login("nul-agent", 6, ip="203.0.113.21")])[0], userAgent="curl\x00/8")
    result = run_command(script, ["detection=root_login"], [nul, event], python=command_python)
    assert sorted(r["event_ids"] for r in result.records) == ["long-agent", "nul-agent"]
    assert result.messages == []


def test_the_skip_warning_stays_short_when_reasons_are_many(script):
    [event] = splunk_events([root_login("base", 1)])
    stream = [dict(event, eventTime="bad-%d" % i, eventID="b%d" % i) for i in range(7)]
    result = run_command(script, ["detection=root_login"], stream)
    [text] = result.messages_at("WARN")
    assert text.count("eventTime: not an ISO 8601 time") == 5
    assert text.endswith(", 2 more events for 2 other reasons")


def test_unknown_detection_is_an_error_naming_it(script, command_python):
    with pytest.raises(ScpError) as caught:
        run_command(script, ["detection=root_login,no_such_rule"], splunk_events([root_login("e", 1)]),
                    python=command_python)
    err = caught.value
    assert err.returncode != 0
    errors = [text for level, text in err.messages if level == "ERROR"]
    assert len(errors) == 1
    assert "unknown detection(s): no_such_rule" in errors[0]
    assert "root_login" in errors[0]  # the known ids are listed


@pytest.mark.parametrize("args, message", [
    ([], 'A value for "detection" is required'),
    (["detection="], "needs at least one detection id"),
    (["detection=root_login", "threshold=3"], "root_login: a event detection has no threshold"),
    (["detection=root_failures", "threshold=many"], "threshold must be a whole number from 1 to 1000000, not 'many'"),
    (["detection=root_failures", "threshold=0"], "threshold must be a whole number from 1 to 1000000, not '0'"),
    (["detection=root_failures", "threshold=1000001"], "from 1 to 1000000, not '1000001'"),
    (["detection=root_failures", "threshold=-3"], "from 1 to 1000000, not '-3'"),
    (["detection=root_failures", "threshold=1e400"], "from 1 to 1000000, not '1e400'"),
    (["detection=root_failures", "threshold=" + "9" * 400],
     "from 1 to 1000000, not '%s'... (400 characters)" % ("9" * 40)),
    (["detection=root_failures", "window=soon"], "window: duration must be"),
    (["detection=root_failures", "window=" + "9" * 400 + "m"],
     "window must be a duration like 15m of at most 366d, not '%s'... (401 characters)" % ("9" * 40)),
    (["detection=root_failures", "window=367d"], "window must be at most 366d, not '367d'"),
    (["detection=root_failures", "window=0m"], "window: duration must be"),
    (["detection=root_login", "detection=root_failures"],
     "detection= is given more than once; give it once (list several detections in one: detection=a,b)"),
    (["detection=root_failures", "threshold=3", "threshold=4"], "threshold= is given more than once"),
    (["detection=root_login", "phase=map"], "Unrecognized option: phase=map"),
    (["detection=root_login,nope"], "unknown detection(s): nope"),
    (["detection=root_login,root_failures", "window=5m"], "root_login: a event detection has no window"),
    (["detection=root_login", "colour=red"], "Unrecognized option: colour=red"),
    (["detection=root_login", "stray"], "unexpected argument(s) stray"),
])
def test_bad_arguments_are_rejected_at_getinfo(script, args, message):
    with pytest.raises(ScpError) as caught:
        run_command(script, args, [])
    err = caught.value
    assert err.returncode == 1
    assert err.records == []
    assert any(level == "ERROR" and message in text for level, text in err.messages), err.messages


def test_threshold_and_window_overrides_change_the_outcome(script, command_python):
    events = splunk_events(failures(3, 0, 4))  # 3 failures, 4 minutes apart
    args = ["detection=root_failures"]
    assert run_command(script, args, events, python=command_python).records == []  # default threshold 5
    lowered = run_command(script, args + ["threshold=3"], events, python=command_python).records
    assert [(r["count"], r["event_ids"]) for r in lowered] == [("3", ["f-00", "f-01", "f-02"])]
    narrowed = run_command(script, args + ["threshold=3", "window=5m"], events, python=command_python).records
    assert narrowed == []  # the three do not fit in 5 minutes


def test_every_row_carries_every_column_across_detections(script):
    # iam_login groups by user, root_login by account and source: the newest row (written first) has
    # no group_user; splunklib would drop that column from the whole chunk unless every row sets it
    events = splunk_events([iam_login("iam-1", 1), root_login("root-1", 9)])
    result = run_command(script, ["detection=root_login,iam_login"], events)
    rows = dict((r["detection"], r) for r in result.records)
    assert [r["detection"] for r in result.records] == ["root_login", "iam_login"]
    assert rows["iam_login"]["group_user"] == "alice"
    assert json.loads(rows["iam_login"]["group"]) == {"user": "alice"}
    assert "group_user" not in rows["root_login"]  # empty cell: absent, as in Splunk
    assert rows["root_login"]["group_source_ip"] == "203.0.113.20"


def test_multivalue_fields_and_duplicates(script):
    events = splunk_events(failures(5, 0, 1))
    doubled = events + [copy.deepcopy(events[2])]  # a second trail delivered one event twice
    result = run_command(script, ["detection=root_failures"], doubled)
    [row] = result.records
    assert row["mitre"] == ["T1110.001", "T1078.004"]
    assert row["event_ids"] == ["f-00", "f-01", "f-02", "f-03", "f-04"]
    assert row["count"] == "5"
    assert row["first_seen"] == "2026-03-10T09:00:00Z" and row["last_seen"] == "2026-03-10T09:04:00Z"
    assert ("INFO", "awssignin: ignored 1 event(s) whose eventID was already seen") in result.messages


def test_missing_detection_table_is_reported(script):
    (script.parent.parent / "lib" / "awssignin" / "detections.json").unlink()
    with pytest.raises(ScpError) as caught:
        run_command(script, ["detection=root_login"], [])
    assert any("cannot read the detection table" in text and "awssignin build" in text
               for _, text in caught.value.messages)


def test_missing_splunklib_is_explained_on_stderr(script, command_python):
    (script.parent.parent / "lib" / "splunklib").unlink()
    probe = subprocess.run([command_python, "-c", "import splunklib"], stderr=subprocess.DEVNULL)
    if probe.returncode == 0:
        pytest.skip("%s has splunk-sdk installed in site-packages" % command_python)
    with pytest.raises(ScpError) as caught:
        run_command(script, ["detection=root_login"], [], python=command_python)
    assert caught.value.returncode == 1
    assert "awssignin: cannot import splunklib from" in caught.value.stderr
    assert "exited without answering getinfo" in str(caught.value)


# --- vendoring splunklib (harness/splunk/vendor.py) --------------------------------------------------

def test_vendored_splunklib_is_the_pinned_sdk_without_unused_packages(vendored_lib):
    from harness.splunk.vendor import MARKER, SDK_VERSION, is_vendored
    package = vendored_lib / "splunklib"
    assert (package / "searchcommands" / "search_command.py").is_file()
    assert (package / "LICENSE").is_file()  # Apache-2.0 travels with the code
    assert not (package / "ai").exists() and not (package / "modularinput").exists()
    assert not list(package.rglob("__pycache__")) and not list(package.rglob("*.pyc"))
    assert (package / MARKER).read_text(encoding="utf-8").startswith("splunk-sdk==%s\n" % SDK_VERSION)
    assert is_vendored(vendored_lib)
    assert not [p for p in vendored_lib.iterdir() if p.name != "splunklib"]  # no staging left behind


def test_vendoring_is_idempotent_and_replaces_another_version(tmp_path):
    from harness.splunk.vendor import MARKER, vendor_splunklib
    lib = tmp_path / "lib"
    package = vendor_splunklib(lib)
    probe = package / "searchcommands" / "probe.txt"
    probe.write_text("kept", encoding="utf-8")
    assert vendor_splunklib(lib) == package and probe.is_file()  # same version: nothing touched
    (package / MARKER).write_text("splunk-sdk==2.1.1\n", encoding="utf-8")
    vendor_splunklib(lib)
    assert not probe.exists()  # another version: replaced whole
    assert (package / "searchcommands" / "__init__.py").is_file()


def test_vendoring_without_pypi_says_so(tmp_path, monkeypatch):
    from harness.splunk.vendor import VendorError, vendor_splunklib
    for name, value in {"PIP_INDEX_URL": "http://127.0.0.1:9/simple", "PIP_EXTRA_INDEX_URL": "",
                        "PIP_FIND_LINKS": "", "PIP_NO_CACHE_DIR": "1", "PIP_RETRIES": "0",
                        "PIP_TIMEOUT": "2", "PIP_CONFIG_FILE": os.devnull}.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(VendorError, match=r"cannot download splunk-sdk==3\.0\.1 from PyPI \(is PyPI reachable\?\)"):
        vendor_splunklib(tmp_path / "lib", cache=tmp_path / "empty-cache")
    assert not (tmp_path / "lib" / "splunklib").exists()


def test_a_tampered_wheel_is_refused(tmp_path):
    from harness.splunk.vendor import WHEEL_NAME, VendorError, vendor_splunklib
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / WHEEL_NAME.format(version="3.0.1")).write_bytes(b"not the wheel")
    with pytest.raises(VendorError, match="has sha256 .*, expected cf5b0dc6"):
        vendor_splunklib(tmp_path / "lib", cache=cache)


def test_an_alert_that_cannot_be_written_costs_no_other_alert(script):
    # defence in depth behind the engine's own checks: one alert whose time does not format back is
    # left out and counted, the others are written
    import importlib.util
    spec = importlib.util.spec_from_file_location("awssignin_command", str(script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # dispatch() runs the protocol only as __main__
    good = {"detection": "root_login", "title": "t", "severity": "high", "risk_score": 73, "mitre": ["T1078.004"],
            "platform": "splunk", "first_seen": "2026-03-10T09:03:00Z", "last_seen": "2026-03-10T09:03:00Z",
            "count": 1, "event_ids": ["e-1"], "group": {"account_id": "111122223333"}}
    bad = dict(good, last_seen="999-01-01T00:00:00Z", event_ids=["e-2"])
    rows, lost = module.writable_rows([good, bad], ["account_id"])
    assert [r["event_ids"] for r in rows] == [["e-1"]]
    assert lost == {"ValueError: not an ISO 8601 time: '999-01-01T00:00:00Z'": 1}
