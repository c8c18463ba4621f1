"""The reader through the command line: missing paths are usage errors, stdin forms, and which project's
detections run (--project, $AWSSIGNIN_ROOT, never the current directory)."""

import gzip
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness import project
from harness.cli import main
from fixturedata import all_fixture_records

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"


@pytest.fixture(autouse=True)
def default_project(monkeypatch):
    monkeypatch.delenv(project.ENV, raising=False)
    monkeypatch.setattr(project, "_chosen", None)


def run(*args, input=None):
    result = CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result, alerts


def detections_fired(alerts):
    return {a["detection"] for a in alerts}


def test_a_missing_path_is_a_usage_error_and_nothing_runs(tmp_path):
    result, alerts = run("replay", FIXTURES / "root_console_login", tmp_path / "nope.json.gz", "--format", "jsonl")
    assert result.exit_code == 2 and alerts == []
    assert "no such file or directory" in result.stderr and "nope.json.gz" in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_concatenated_gzip_documents_through_stdin_all_fire():
    # zcat *.json.gz | awssignin replay - : every document of the stream is read
    files = sorted((FIXTURES / "root_console_login").glob("*.json"))
    stream = b"".join(gzip.compress(json.dumps(json.loads(p.read_text())).encode()) for p in files)
    one, one_alerts = run("replay", "-", "--format", "jsonl", "--platform", "splunk", input=io.BytesIO(stream))
    each = []
    for p in files:
        _, alerts = run("replay", p, "--format", "jsonl", "--platform", "splunk")
        each.extend(alerts)
    assert one.exit_code == 0 and each and len(one_alerts) == len(each)


def _project_copy(tmp_path, keep):
    """A project with only the detection ``keep``: its engine, add-on and fixtures copied."""
    root = tmp_path / "other-project"
    shutil.copytree(str(ROOT / "addon"), str(root / "addon"))
    shutil.copytree(str(ROOT / "detections"), str(root / "detections"))
    for path in (root / "detections").glob("*.yml"):
        if path.stem != keep:
            path.unlink()
    return root


def test_the_current_directory_never_chooses_the_project(tmp_path, monkeypatch):
    decoy = tmp_path / "decoy"
    (decoy / "detections").mkdir(parents=True)
    (decoy / "addon").mkdir()
    monkeypatch.chdir(str(decoy))
    result, alerts = run("replay", FIXTURES / "root_console_brute_force", "--format", "jsonl")
    assert result.exit_code == 0 and "root_console_brute_force" in detections_fired(alerts)
    assert project.find_root() == ROOT


def test_project_option_and_environment_choose_the_detections(tmp_path, monkeypatch):
    other = _project_copy(tmp_path, "root_console_login")
    source = FIXTURES / "root_console_brute_force"
    _, everything = run("replay", source, "--format", "jsonl")
    result, alerts = run("--project", other, "replay", source, "--format", "jsonl")
    assert result.exit_code == 0
    assert detections_fired(alerts) == {"root_console_login"} != detections_fired(everything)
    monkeypatch.setenv(project.ENV, str(other))
    _, from_env = run("replay", source, "--format", "jsonl")
    assert detections_fired(from_env) == {"root_console_login"}
    # --project wins over the environment
    _, chosen = run("--project", ROOT, "replay", source, "--format", "jsonl")
    assert detections_fired(chosen) == detections_fired(everything)


def test_a_project_without_detections_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["--project", str(tmp_path), "lint"])
    assert result.exit_code == 2 and "no detections/ directory" in result.output


def _alert_keys(result):
    assert result.exit_code == 0, result.stderr
    return sorted(line for line in result.stdout.splitlines() if line.startswith("{"))


def test_every_form_of_the_same_records_gives_the_same_alerts(tmp_path):
    """A tree of CloudTrail files, a pretty-printed JSON array (newest first), lookup-events pages
    (newest first, 50 a page, concatenated), NDJSON named .log, and the files concatenated on stdin."""
    records = all_fixture_records()
    newest_first = sorted(records, key=lambda r: r["eventTime"], reverse=True)
    tree = tmp_path / "tree"
    tree.mkdir()
    chunks = [records[i:i + 40] for i in range(0, len(records), 40)]
    for n, chunk in enumerate(chunks):
        (tree / ("part%03d.json.gz" % n)).write_bytes(gzip.compress(json.dumps({"Records": chunk}).encode()))
    (tmp_path / "export.json").write_text(json.dumps(newest_first, indent=2))
    pages = []
    for i in range(0, len(newest_first), 50):
        events = [{"EventId": r["eventID"], "EventName": r["eventName"], "EventTime": r["eventTime"],
                   "CloudTrailEvent": json.dumps(r)} for r in newest_first[i:i + 50]]
        pages.append(json.dumps({"Events": events, "NextToken": "page%d" % i}, indent=4))
    (tmp_path / "lookup-events.json").write_text("\n".join(pages))
    (tmp_path / "trail.log").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    stdin = b"".join((tree / name).read_bytes() for name in sorted(p.name for p in tree.iterdir()))

    def alerts(*args, input=None):
        result = CliRunner().invoke(main, ["replay"] + [str(a) for a in args] + ["--format", "jsonl"],
                                    input=input, catch_exceptions=False)
        return _alert_keys(result)

    expected = alerts(tree)
    assert expected
    for source in ("export.json", "lookup-events.json", "trail.log"):
        assert alerts(tmp_path / source) == expected, source
    assert alerts("-", input=io.BytesIO(stdin)) == expected


def test_the_summary_counts_records_the_selection_left_out(tmp_path):
    # --since leaves records out on purpose: they are neither skips nor silently gone
    records = [{"eventVersion": "1.08", "eventTime": t, "eventSource": "signin.amazonaws.com",
                "eventName": "ConsoleLogin", "eventID": "id-%d" % n, "awsRegion": "us-east-1",
                "recipientAccountId": "111122223333", "sourceIPAddress": "198.51.100.7",
                "userIdentity": {"type": "Root", "accountId": "111122223333",
                                 "arn": "arn:aws:iam::111122223333:root"},
                "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "No"}}
               for n, t in enumerate(["2026-01-01T10:00:00Z", "2026-03-01T10:00:00Z"])]
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"Records": records}), encoding="utf-8")
    result, _ = run("replay", path, "--since", "2026-02-01", "--format", "jsonl", "--strict")
    assert result.exit_code == 0, result.stderr
    assert "records outside the selection: 1" in result.stderr
