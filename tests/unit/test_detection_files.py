"""Detection files: the loader's errors name the file, the field and the line."""

import shutil
from pathlib import Path

import pytest

from harness.detections import DetectionError, load_all, load_file

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "detections" / "root_console_brute_force.yml"


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "fixtures").symlink_to(ROOT / "detections" / "fixtures")
    return tmp_path


def broken(workdir, old, new, name="root_console_brute_force.yml"):
    text = SOURCE.read_text()
    assert old in text, old
    path = workdir / name
    path.write_text(text.replace(old, new, 1))
    return path


def error_of(path):
    with pytest.raises(DetectionError) as err:
        load_file(path, path.parent / "fixtures")
    return err.value


def test_every_shipped_detection_loads():
    ids = [d.id for d in load_all(ROOT / "detections")]
    assert ids == sorted(ids) and len(ids) >= 5


@pytest.mark.parametrize("old, new, field, words", [
    ("severity: high", "severity: urgent", "severity", "is not one of"),
    ("risk_score: 73", "risk_score: 50", "risk_score", "goes with risk_score 73"),
    ("  threshold: 5\n", "  threshold: five\n", "logic.threshold", "is not of type 'integer'"),
    ("  window: 15m\n", "  window: 15 minutes\n", "logic.window", "does not match"),
    ("{field: identity_type, equals: Root}", "{field: identity, equals: Root}", "logic.where.all[2].field", "unknown field"),
    ("{field: outcome, equals: failure}", "{field: outcome, is: failure}", "logic.where.all[3]", "exactly one operator"),
    ("  group_by: [account_id]", "  group_by: [account]", "logic.group_by[0]", "unknown field"),
    ("elastic:\n  note: |", "elastic:\n  query: x\n  note: |", "elastic", "'query' was unexpected"),
    ("elastic:\n  note: |", "elastic:\n  override: {query: 'event.action: x'}\n  note: |", "elastic.override", "'reason' is a required property"),
    ("elastic:\n  note: |", "known_differences:\n  - {platform: elastic, where: {field: nope, exists: true}, why: because the pipeline says so}\nelastic:\n  note: |", "known_differences[0].where.field", "unknown field"),
    ("    fixtures: [root_console_brute_force/four_failures.json]\n    expect: []",
     "    fixtures: [root_console_brute_force/missing.json]\n    expect: []", "tests[1].fixtures[0]", "no such fixture file"),
    ("    params: {threshold: 4}", "    params: {depth: 4}", "tests[2].params", "Additional properties"),
    ("id: root_console_brute_force", "id: something_else", "id", "must equal the file name"),
    ("    platforms: [splunk]\n", "    platforms: [splunk]\n    why: short\n", "tests[4].why", "duplicate key"),
    ("    platforms: [splunk]\n    why: >-", "    platforms: [splunk]\n    whynot: >-", "tests[4]", "'whynot' was unexpected"),
])
def test_errors_name_file_field_and_line(workdir, old, new, field, words):
    path = broken(workdir, old, new)
    err = error_of(path)
    assert err.file == str(path)
    assert err.field == field
    assert words in err.message
    assert err.line is not None
    assert str(path) in str(err) and field in str(err)


def test_the_line_points_at_the_field(workdir):
    path = broken(workdir, "severity: high", "severity: urgent")
    err = error_of(path)
    assert path.read_text().splitlines()[err.line - 1].startswith("severity:")


def test_not_yaml(workdir):
    path = workdir / "root_console_brute_force.yml"
    path.write_text("id: x\ntitle: [unclosed\n")
    err = error_of(path)
    assert "not valid YAML" in err.message and err.line == 3


def test_not_a_mapping(workdir):
    path = workdir / "x_detection.yml"
    path.write_text("- just\n- a list\n")
    assert "must be a YAML mapping" in error_of(path).message


def test_duplicate_ids_and_unknown_selection(workdir):
    shutil.copy(SOURCE, workdir / "root_console_brute_force.yml")
    with pytest.raises(ValueError) as err:
        load_all(workdir, ["nope"])
    assert "unknown detection(s): nope" in str(err.value)
