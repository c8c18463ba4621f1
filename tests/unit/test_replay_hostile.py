"""Hostile input to `awssignin replay`: one verdict per record, for both platforms, and inert output.

Every malformed value that used to crash a platform, or make the two platforms disagree (one
alerting, the other silently dropping), is skipped once with its reason and location; its valid
neighbours still fire on both platforms; ``--strict`` exits 3. Record content (rich markup, ANSI
escape sequences, lone surrogates) reaches the table and the messages as text, never as markup or
terminal control, and never crashes the output. Absurd option values are usage errors.
"""

import copy
import io
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from harness import report
from harness.cli import main
from harness.detections import load_all
from harness.project import Layout
from harness.replay import Replay

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"
MARKUP = "[bold red]evil[/][/]"
ANSI = "\x1b[2J\x1b]0;pwned\x07"
SURROGATE = "\udcff"


def login_without_mfa():
    return json.loads((FIXTURES / "console_login_without_mfa" / "iam_user_no_mfa.json").read_text())["Records"][0]


def variant(n, change):
    record = copy.deepcopy(login_without_mfa())
    record["eventID"] = "0000000%d-0000-4000-8000-00000000bad0" % n
    change(record)
    return record


def _set(path, value):
    def change(record):
        node = record
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    return change


# (name, change, the skip reason replay must give)
MALFORMED = [
    ("eventSource list", _set(["eventSource"], ["signin.amazonaws.com"]), "bad field eventSource"),
    ("eventSource object", _set(["eventSource"], {"a": "signin.amazonaws.com"}), "bad field eventSource"),
    ("userIdentity.type list", _set(["userIdentity", "type"], ["IAMUser", "Root"]), "bad field userIdentity.type"),
    ("userName list", _set(["userIdentity", "userName"], ["alice"]), "bad field userIdentity.userName"),
    ("eventTime newline", _set(["eventTime"], "2026-03-10T09:00:00Z\n"), "bad field eventTime"),
    ("leap second", _set(["eventTime"], "2016-12-31T23:59:60Z"), "bad field eventTime"),
    ("year 999", _set(["eventTime"], "0999-03-10T09:00:00Z"), "bad field eventTime"),
    ("year 10000", _set(["eventTime"], "10000-03-10T09:00:00Z"), "bad field eventTime"),
    ("offset past 23:59", _set(["eventTime"], "2026-03-10T09:00:00+24:00"), "bad field eventTime"),
    ("ten fraction digits", _set(["eventTime"], "2026-03-10T09:00:00.1234567890Z"), "bad field eventTime"),
    # containers the Elastic mapping requires to be objects, refused for both platforms
    ("tlsDetails string", _set(["tlsDetails"], "TLSv1.3"), "bad field tlsDetails"),
    ("serviceEventDetails string", _set(["serviceEventDetails"], "x"), "bad field serviceEventDetails"),
    ("sessionContext list", _set(["userIdentity", "sessionContext"], []), "bad field userIdentity.sessionContext"),
]

# valid records whose content must come out as text
HOSTILE_VALUES = [
    ("markup user", _set(["userIdentity", "userName"], MARKUP)),
    ("ansi user", _set(["userIdentity", "userName"], "mallory" + ANSI)),
    ("surrogate user", _set(["userIdentity", "userName"], "sur" + SURROGATE)),
    ("markup user agent", _set(["userAgent"], MARKUP + ANSI + SURROGATE)),
]


def corpus():
    records = [variant(i, change) for i, (_, change, _) in enumerate(MALFORMED)]
    records += [variant(len(MALFORMED) + i, change) for i, (_, change) in enumerate(HOSTILE_VALUES)]
    records.append(login_without_mfa())  # the clean neighbour
    return records


def write_ndjson(path, records):
    # json.dumps escapes lone surrogates as \\udcff, which json.loads turns back into one
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="ascii")
    return path


def test_malformed_values_get_one_verdict_for_both_platforms(tmp_path):
    path = write_ndjson(tmp_path / "hostile.ndjson", corpus())
    dets = load_all(ROOT / "detections")
    alerts, skips = [], []
    job = Replay(Layout(ROOT), dets, ["splunk", "elastic"], on_alert=alerts.append, on_skip=skips.append).run([str(path)])
    reasons = [s.reason for s in skips]
    assert reasons == [reason for _, _, reason in MALFORMED]
    # each skip names the line it came from
    assert [s.location for s in skips] == ["%s:%d" % (path, i + 1) for i in range(len(MALFORMED))]
    # nothing the reader accepted was dropped by a platform
    assert job.platform_skips() == {} and job.late() == 0 and job.unplaced() == 0
    fired = {}
    for a in alerts:
        if a["detection"] == "console_login_without_mfa":
            fired.setdefault(a["platform"], set()).add(a["event_ids"][0])
    expected = {r["eventID"] for r in corpus()[len(MALFORMED):]}
    assert fired == {"splunk": expected, "elastic": expected}
    users = {a["group"]["user"] for a in alerts if a["detection"] == "console_login_without_mfa"}
    assert {MARKUP, "mallory" + ANSI, "sur" + SURROGATE} <= users


def test_strict_fails_and_the_clean_neighbours_still_fire(tmp_path):
    path = write_ndjson(tmp_path / "hostile.ndjson", corpus())
    result = CliRunner().invoke(main, ["replay", str(path), "--strict", "--format", "jsonl", "--show-skips", "50",
                                       "--detections", "console_login_without_mfa"], catch_exceptions=False)
    assert result.exit_code == 3
    alerts = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(alerts) == 2 * (len(HOSTILE_VALUES) + 1)
    assert "skipped: %d" % len(MALFORMED) in result.stderr
    # jsonl is JSON: control characters and surrogates are escaped by the encoder
    assert "\x1b" not in result.stdout and "\\u001b" in result.stdout and "\\udcff" in result.stdout


def test_the_table_shows_record_content_as_text(tmp_path):
    path = write_ndjson(tmp_path / "hostile.ndjson", corpus())
    result = CliRunner().invoke(main, ["replay", str(path), "--detections", "console_login_without_mfa"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "[bold red]evil[/][/]" in result.stdout
    assert "\x1b" not in result.stdout and "\\x1b[2J" in result.stdout and "\\udcff" in result.stdout


def test_a_real_console_prints_hostile_alerts_without_interpreting_them():
    buffer = io.BytesIO()
    # a strict UTF-8 stream: an unescaped lone surrogate would raise UnicodeEncodeError here
    stream = io.TextIOWrapper(buffer, encoding="utf-8", errors="strict")
    console = Console(file=stream, width=300, force_terminal=True, color_system="truecolor")
    table = report.AlertTable(console, batch=2)
    for i, user in enumerate([MARKUP, "mallory" + ANSI, "sur" + SURROGATE]):
        table.add({"platform": "splunk", "detection": "d[/]", "severity": "low", "first_seen": "2026-03-10T09:00:00Z",
                   "last_seen": "2026-03-10T09:00:00Z", "group": {"user": user}, "count": i})
    table.close()
    stream.flush()
    out = buffer.getvalue().decode("utf-8")
    assert "[bold red]evil[/][/]" in out and "d[/]" in out
    assert "\x1b[2J" not in out and "\x1b]0;" not in out and "\x07" not in out
    assert "\\x1b[2J" in out and "\\udcff" in out
    assert "alerts 1-2" in out and "alert 3" in out  # printed in batches as they came


def test_hostile_file_names_in_skip_messages(tmp_path):
    bad = '{"eventID": "x"\n'
    marked = tmp_path / "[red]x[blink].ndjson"
    marked.write_text(bad)
    raw = os.path.join(os.fsencode(str(tmp_path)), b"\xff\x1b[2J.ndjson")
    with open(raw, "wb") as handle:
        handle.write(bad.encode())
    result = CliRunner().invoke(main, ["replay", str(tmp_path), "--strict", "--format", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 3
    assert "[red]x[blink].ndjson" in result.stderr
    assert "\x1b" not in result.stderr and "\\x1b[2J.ndjson" in result.stderr


@pytest.mark.parametrize("option", ["--window", "--threshold", "--max-lateness"])
def test_absurd_numbers_are_usage_errors(option):
    value = "9" * 400 + ("m" if option != "--threshold" else "")
    result = CliRunner().invoke(main, ["replay", str(FIXTURES / "root_console_brute_force"), option, value,
                                       "--detections", "root_console_brute_force"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert option in (result.stderr or result.output)
