"""`awssignin replay --compare REV`: the alerts a detection change adds, removes or changes.

Each test builds a throw-away git project (a copy of this project's detections/ and addon/) with
two commits of a detection file, and backtests the change over that detection's fixture records.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.build import write_generated
from harness.cli import main
from harness.detections import load_all
from harness.project import Layout

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "detections" / "fixtures" / "root_console_brute_force" / "four_failures.json"
DETECTION = "root_console_brute_force"


def git(root, *args):
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com",
                    "-c", "commit.gpgsign=false"] + list(args), check=True, stdout=subprocess.DEVNULL)


def set_detection(root, old, new):
    path = root / "detections" / ("%s.yml" % DETECTION)
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    layout = Layout(root)
    write_generated(layout, load_all(layout.detections))


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(str(ROOT / "detections"), str(root / "detections"))
    shutil.copytree(str(ROOT / "addon"), str(root / "addon"), ignore=shutil.ignore_patterns("local", "__pycache__"))
    layout = Layout(root)
    write_generated(layout, load_all(layout.detections))  # in step with the copied detections
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "threshold 5")
    set_detection(root, "threshold: 5", "threshold: 4")
    git(root, "commit", "-q", "-am", "threshold 4")
    return root


def compare(root, rev, *extra):
    result = CliRunner().invoke(main, ["replay", str(RECORDS), "--compare", rev, "--detections", DETECTION,
                                       "--format", "jsonl"] + list(extra),
                                env={"AWSSIGNIN_ROOT": str(root)}, catch_exceptions=False)
    changes = [json.loads(line) for line in result.stdout.splitlines()]
    return result, changes


def test_a_lower_threshold_adds_alerts(project):
    result, changes = compare(project, "HEAD~1", "--fail-on-change")
    assert result.exit_code == 4, result.stderr
    assert sorted((c["change"], c["platform"]) for c in changes) == [("appears", "elastic"), ("appears", "splunk")]
    for c in changes:
        assert c["before"] is None and c["after"]["detection"] == DETECTION and c["after"]["count"] == 4
    assert "1 appear" not in result.stderr and "2 appear, 0 disappear, 0 change" in result.stderr
    # without --fail-on-change the difference is reported, not an error
    assert compare(project, "HEAD~1")[0].exit_code == 0


def test_a_higher_threshold_removes_them(project):
    set_detection(project, "threshold: 4", "threshold: 5")  # the working tree, against HEAD (4)
    result, changes = compare(project, "HEAD", "--fail-on-change")
    assert result.exit_code == 4
    assert sorted((c["change"], c["platform"]) for c in changes) == [("disappears", "elastic"), ("disappears", "splunk")]
    assert all(c["after"] is None and c["before"]["count"] == 4 for c in changes)


def test_a_changed_severity_changes_the_alerts_and_no_change_is_exit_0(project):
    same, changes = compare(project, "HEAD", "--fail-on-change")
    assert same.exit_code == 0 and changes == []
    set_detection(project, "severity: high\nrisk_score: 73", "severity: medium\nrisk_score: 47")
    result, changes = compare(project, "HEAD", "--fail-on-change")
    assert result.exit_code == 4
    assert {c["change"] for c in changes} == {"changes"}
    assert all(c["before"]["severity"] == "high" and c["after"]["severity"] == "medium" for c in changes)


def test_the_table_lists_changes_per_detection(project):
    result = CliRunner().invoke(main, ["replay", str(RECORDS), "--compare", "HEAD~1", "--detections", DETECTION],
                                env={"AWSSIGNIN_ROOT": str(project)}, catch_exceptions=False)
    assert result.exit_code == 0
    assert DETECTION in result.stdout and "+ %s splunk: appears" % DETECTION in result.stdout


def test_bad_revisions_are_clear_errors(project, tmp_path):
    result, _ = compare(project, "no-such-rev")
    assert result.exit_code == 1 and "--compare no-such-rev" in result.stderr
    usage = CliRunner().invoke(main, ["replay", str(RECORDS), "--fail-on-change"], env={"AWSSIGNIN_ROOT": str(project)})
    assert usage.exit_code == 2 and "--compare" in usage.stderr


def test_a_revision_whose_detections_do_not_load_is_named_in_the_error(project):
    path = project / "detections" / ("%s.yml" % DETECTION)
    good = path.read_text()
    path.write_text(good.replace("severity: high", "severity: [high"))
    git(project, "commit", "-q", "-am", "broken")
    path.write_text(good)
    result, _ = compare(project, "HEAD")
    assert result.exit_code == 1
    assert "HEAD:detections/%s.yml" % DETECTION in result.stderr and "awssignin-compare-" not in result.stderr
