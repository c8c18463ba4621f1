"""`awssignin replay` end to end: formats, platforms, the broken-input corpus, strictness."""

import gzip
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.alerts import KEYS
from harness.cli import main
from fixturedata import all_fixture_records

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"
CORPUS = ROOT / "tests" / "data" / "bad_input"


def replay(*args, input=None):
    result = CliRunner().invoke(main, ["replay"] + [str(a) for a in args], input=input, catch_exceptions=False)
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, alerts


def key(alert):
    return (alert["platform"], alert["detection"], json.dumps(alert["group"], sort_keys=True), tuple(alert["event_ids"]))


def test_jsonl_alerts_have_exactly_the_schema_keys():
    result, alerts = replay(FIXTURES / "root_console_brute_force", "--format", "jsonl", "--max-lateness", "1d",
                            "--detections", "root_console_brute_force")
    assert result.exit_code == 0, result.stderr
    assert alerts and all(list(a) == list(KEYS) for a in alerts)
    assert {a["platform"] for a in alerts} == {"splunk", "elastic"}
    for a in alerts:
        assert a["detection"] == "root_console_brute_force" and a["severity"] == "high" and a["risk_score"] == 73
        assert a["mitre"] == ["T1110.001"] and a["count"] >= 5


def test_a_log_tree_and_the_same_records_as_ndjson_give_identical_alerts(tmp_path):
    records = all_fixture_records()
    # a CloudTrail tree: records spread over regions and 5-minute files, unordered inside each file
    by_file = {}
    for i, record in enumerate(records):
        region = ["us-east-1", "us-east-2", "eu-north-1"][i % 3]
        stamp = record["eventTime"][:15].replace("-", "").replace(":", "")
        minute = int(stamp[-2:]) // 5 * 5
        stamp = "%s%02dZ" % (stamp[:-2], minute)
        by_file.setdefault((region, stamp), []).append(record)
    for (region, stamp), chunk in by_file.items():
        d = tmp_path / "tree" / "AWSLogs" / "111122223333" / "CloudTrail" / region / "2026" / "03" / "10"
        d.mkdir(parents=True, exist_ok=True)
        name = "111122223333_CloudTrail_%s_%s_x%s.json.gz" % (region, stamp, len(chunk))
        (d / name).write_bytes(gzip.compress(json.dumps({"Records": list(reversed(chunk))}).encode()))
    nd = tmp_path / "all.ndjson.gz"
    nd.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in records).encode()))
    # the fixtures span weeks, in no order: with the default --max-lateness (1h) most of them are
    # sorted on disk, and the alerts are the same
    tree_result, tree_alerts = replay(tmp_path / "tree", "--format", "jsonl")
    nd_result, nd_alerts = replay(nd, "--format", "jsonl")
    assert tree_result.exit_code == nd_result.exit_code == 0
    assert tree_alerts and sorted(map(key, tree_alerts)) == sorted(map(key, nd_alerts))
    # and every detection fires on both platforms (their groups may differ where a detection file
    # declares it)
    per_platform = {}
    for a in tree_alerts:
        per_platform.setdefault(a["platform"], set()).add(a["detection"])
    assert per_platform["splunk"] == per_platform["elastic"]


def test_standard_input():
    records = json.loads((FIXTURES / "root_console_login" / "root_success.json").read_text())["Records"]
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    result, alerts = replay("-", "--format", "jsonl", "--platform", "splunk", input=text)
    assert result.exit_code == 0
    assert [a["detection"] for a in alerts] == ["root_console_login"]


def test_broken_input_is_skipped_with_reasons_and_valid_neighbours_still_fire():
    result, alerts = replay(CORPUS, "--format", "jsonl", "--show-skips", "100")
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    for reason in ("not JSON", "not a JSON object", "missing eventTime", "missing eventID", "not UTF-8",
                   "bad field additionalEventData.MFAUsed", "bad field userIdentity", "bad field eventTime",
                   "Records is not a list", "truncated or corrupt gzip"):
        assert reason in err, reason
    assert "mixed.ndjson:7" in err           # the location of the MFAUsed: true line
    fired = {(a["platform"], a["detection"], a["event_ids"][0]) for a in alerts}
    for platform in ("splunk", "elastic"):
        # root logins next to broken records, in each file of the corpus
        for eid in ("11111111-0000-4000-8000-000000000001", "22222222-0000-4000-8000-000000000001",
                    "33333333-0000-4000-8000-999999999999", "44444444-0000-4000-8000-000000000001"):
            assert (platform, "root_console_login", eid) in fired
        # the record with a 1 MB user agent is valid and fires
        assert (platform, "console_login_without_mfa", "11111111-0000-4000-8000-000000000007") in fired


def test_strict_turns_skips_into_exit_status_3():
    result, _ = replay(CORPUS / "mixed.ndjson", "--strict", "--format", "jsonl")
    assert result.exit_code == 3
    clean, _ = replay(FIXTURES / "root_console_login", "--strict", "--format", "jsonl")
    assert clean.exit_code == 0


def test_summary_counts_records_and_alerts():
    result, _ = replay(FIXTURES / "signin_token_abuse", "--format", "table", "--platform", "elastic")
    assert result.exit_code == 0
    records = sum(len(json.loads(p.read_text())["Records"]) for p in (FIXTURES / "signin_token_abuse").glob("*.json"))
    assert "records read: %d" % records in result.stderr
    assert "alerts (elastic): " in result.stderr and "signin_token_abuse 6" in result.stderr
    assert "signin_token_abuse" in result.stdout  # the table
    # the noise a user sees before enabling a detection
    assert "alerts per day (elastic): 2026-03-" in result.stderr
    assert "elastic signin_token_abuse: 6 alerts on" in result.stderr and "top groups: " in result.stderr
    # every record read is either validated or said not to need it
    validated, not_validated = re.search(r"validated: (\d+); not validated: (\d+)", result.stderr).groups()
    assert int(validated) + int(not_validated) == records and int(validated) > 0


def test_overrides_and_detection_selection():
    path = FIXTURES / "root_console_brute_force" / "four_failures.json"
    _, none = replay(path, "--format", "jsonl", "--detections", "root_console_brute_force")
    assert none == []
    _, four = replay(path, "--format", "jsonl", "--detections", "root_console_brute_force", "--threshold", "4")
    assert {a["platform"] for a in four} == {"splunk", "elastic"} and all(a["count"] == 4 for a in four)


@pytest.mark.parametrize("args, message", [
    (["--detections", "nope"], "unknown detection"),
    (["--max-lateness", "soon"], "max-lateness"),
    (["--threshold", "3", "--detections", "root_console_login"], "none of the selected detections"),
])
def test_bad_options_are_clear_errors(args, message):
    result = CliRunner().invoke(main, ["replay", str(FIXTURES)] + args)
    assert result.exit_code == 2 or result.exit_code == 1
    assert message in result.output + (result.stderr or "")
