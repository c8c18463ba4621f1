"""Per-detection versions (harness/versions.py): the committed lock, what bumps and what does not,
the bump command, and where the version reaches users (Kibana rule, Splunk description, catalog)."""

import json
import shutil

import pytest
from click.testing import CliRunner

from harness import versions
from harness.cli import main
from harness.detections import load_all
from harness.elastic.rules import kibana_rule
from harness.project import Layout
from harness.splunk import appbuild


@pytest.fixture
def project(tmp_path, layout):
    """A copy of the project (detections, addon, setup.cfg) to change freely, its lock re-recorded
    with every detection at version 1 so that the tests below do not depend on the pack's history."""
    for part in ("detections", "addon"):
        shutil.copytree(layout.root / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(layout.root / "setup.cfg", tmp_path / "setup.cfg")
    copy = Layout(tmp_path)
    versions.lock_path(copy.detections).unlink()
    versions.bump(copy, load_all(copy.detections), None, "initial release")
    return copy


def by_id(dets):
    return {d.id: d for d in dets}


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def cli(project, *args):
    return CliRunner().invoke(main, list(args), env={"AWSSIGNIN_ROOT": str(project.root)}, catch_exceptions=False)


def lock_data(project):
    return json.loads(versions.lock_path(project.detections).read_text(encoding="utf-8"))


# -- the committed lock --------------------------------------------------------------------------

def test_the_committed_lock_matches_every_detection(layout):
    problems = versions.check(layout, load_all(layout.detections))
    assert problems == [], "\n".join(problems)


def test_every_detection_is_in_the_committed_lock_with_a_changelog(layout):
    lock = versions.Lock.read(versions.lock_path(layout.detections))
    for det in load_all(layout.detections):
        entry = lock.entries[det.id]
        assert entry["changelog"][-1]["version"] == entry["version"] >= 1
        assert entry["changelog"][0]["version"] == 1


# -- what the hash covers ------------------------------------------------------------------------

def test_tests_and_fixtures_do_not_change_the_hash(layout):
    det = by_id(load_all(layout.detections))["root_console_login"]
    before = versions.content_hash(det)
    det.authored["tests"] = det.data["tests"] = det.data["tests"][:1]
    assert versions.content_hash(det) == before


@pytest.mark.parametrize("change", [
    lambda a: a.__setitem__("title", a["title"] + " (renamed)"),
    lambda a: a.__setitem__("description", a["description"] + " More."),
    lambda a: a.__setitem__("tuning", a["tuning"] + " More."),
    lambda a: a["false_positives"].append("Another one."),
    lambda a: a["mitre"].append({"technique": "T1110", "tactics": ["TA0006"]}),
    lambda a: a["elastic"].__setitem__("note", a["elastic"]["note"] + "\nMore.\n"),
])
def test_authored_shipped_fields_change_the_hash(layout, change):
    det = by_id(load_all(layout.detections))["root_console_login"]
    before = versions.content_hash(det)
    change(det.authored)
    assert versions.content_hash(det) != before


def test_a_changed_threshold_changes_the_hash(project):
    det = by_id(load_all(project.detections))["root_console_brute_force"]
    threshold = det.data["logic"]["threshold"]
    edit(det.path, "threshold: %d\n" % threshold, "threshold: %d\n" % (threshold + 1))
    changed = by_id(load_all(project.detections))["root_console_brute_force"]
    assert changed.data["logic"]["threshold"] == threshold + 1
    assert versions.content_hash(changed) != versions.content_hash(det)


def test_generator_changes_to_shipped_artefacts_change_the_hash(layout, monkeypatch):
    """The hash is of the artefacts as generated: a generator change users would receive bumps."""
    from harness.elastic import rules

    det = by_id(load_all(layout.detections))["root_console_login"]
    before = versions.content_hash(det)
    monkeypatch.setattr(rules, "MAX_SIGNALS", rules.MAX_SIGNALS + 1)
    assert versions.content_hash(det) != before
    monkeypatch.undo()
    monkeypatch.setattr(appbuild, "UI_DISPATCH_APP", "other_app")
    assert versions.content_hash(det) != before


def test_the_version_is_not_part_of_the_hash_but_reaches_both_platforms(project):
    dets = by_id(load_all(project.detections))
    before = versions.content_hash(dets["root_console_login"])
    data = lock_data(project)
    entry = data["detections"]["root_console_login"]
    entry["version"] = 4
    entry["changelog"] += [{"version": v, "note": "change %d" % v} for v in (2, 3, 4)]
    versions.lock_path(project.detections).write_text(json.dumps(data), encoding="utf-8")
    det = by_id(load_all(project.detections))["root_console_login"]
    assert versions.content_hash(det) == before
    assert kibana_rule(det)["version"] == 4
    description = dict(appbuild.saved_search_settings(det))["description"]
    assert versions.parse_splunk_description(description) == ("root_console_login", 4)
    assert versions.check(project, list(dets.values())) == []


def test_the_generated_savedsearches_carry_each_version(layout):
    dets = load_all(layout.detections)
    conf = appbuild.savedsearches_conf(dets)
    descriptions = [line.split(" = ", 1)[1] for line in conf.splitlines() if line.startswith("description = ")]
    # the alerts carry it; a new_terms detection's baseline search is no alert and carries none
    parsed = [versions.parse_splunk_description(d) for d in descriptions]
    assert sorted(p for p in parsed if p is not None) == sorted((d.id, versions.version_of(d)) for d in dets)
    assert parsed.count(None) == len([d for d in dets if d.data["logic"]["type"] == "new_terms"])


# -- lint, bump, show ----------------------------------------------------------------------------

def test_a_change_without_a_bump_fails_lint_naming_the_detection_and_the_command(project):
    from harness.lint import lint_all

    edit(project.detections / "root_console_login.yml", "severity: high", "severity: critical")
    edit(project.detections / "root_console_login.yml", "risk_score: 73", "risk_score: 99")
    problems, _ = lint_all(project)
    assert len(problems) == 1, problems
    assert problems[0].startswith("detections/root_console_login.yml: shipped content differs from version 1")
    assert '`awssignin version bump root_console_login --note "<what changed>"`' in problems[0]


def test_bump_raises_only_the_changed_detection_and_rebuilds(project):
    edit(project.detections / "root_console_login.yml", "severity: high", "severity: critical")
    edit(project.detections / "root_console_login.yml", "risk_score: 73", "risk_score: 99")
    unchanged = lock_data(project)["detections"]["root_console_brute_force"]
    result = cli(project, "version", "bump", "--note", "Raised to critical: root sign-ins need a page.")
    assert result.exit_code == 0, result.output
    assert "root_console_login: version 1 -> 2" in result.output
    data = lock_data(project)["detections"]
    assert data["root_console_login"]["version"] == 2
    assert data["root_console_login"]["changelog"][-1] == {
        "version": 2, "note": "Raised to critical: root sign-ins need a page."}
    assert data["root_console_brute_force"] == unchanged
    dets = load_all(project.detections)
    assert versions.check(project, dets) == []
    assert kibana_rule(by_id(dets)["root_console_login"])["version"] == 2
    # the generated files were rewritten with the new version
    conf = (project.addon / "default" / "savedsearches.conf").read_text(encoding="utf-8")
    assert "(awssignin root_console_login version 2)" in conf
    page = (project.root / "docs" / "detections.md").read_text(encoding="utf-8")
    assert "- Version 2: Raised to critical: root sign-ins need a page.\n- Version 1: initial release" in page
    # nothing left to bump; naming an unchanged detection is an error, not a silent bump
    again = cli(project, "version", "bump", "--note", "again")
    assert again.exit_code == 0 and "nothing to bump" in again.output
    refused = cli(project, "version", "bump", "root_console_brute_force", "--note", "no reason")
    assert refused.exit_code != 0
    assert "nothing to bump for root_console_brute_force" in refused.output
    assert lock_data(project)["detections"]["root_console_brute_force"] == unchanged


def test_bump_with_ids_leaves_other_changes_for_later(project):
    edit(project.detections / "root_console_login.yml", "severity: high", "severity: critical")
    edit(project.detections / "root_console_login.yml", "risk_score: 73", "risk_score: 99")
    edit(project.detections / "root_password_changed.yml", "title: ", "title: Renamed ")
    done = versions.bump(project, load_all(project.detections), ["root_password_changed"], "renamed")
    assert done == [("root_password_changed", versions.CHANGED, 1, 2)]
    problems = versions.check(project, load_all(project.detections))
    assert len(problems) == 1 and "root_console_login" in problems[0]


def test_a_new_detection_starts_at_version_1(project):
    text = (project.detections / "root_password_changed.yml").read_text(encoding="utf-8")
    text = text.replace("id: root_password_changed", "id: root_password_changed_again", 1)
    text = text.replace("title: ", "title: Again ", 1)
    (project.detections / "root_password_changed_again.yml").write_text(text, encoding="utf-8")
    dets = load_all(project.detections)
    problems = versions.check(project, dets)
    assert problems == ["detections/root_password_changed_again.yml: not in detections/versions.lock.json; run "
                        "`awssignin version bump root_password_changed_again --note \"initial release\"` "
                        "(it starts at version 1)"]
    assert kibana_rule(by_id(dets)["root_password_changed_again"])["version"] == 1
    assert versions.bump(project, dets, None, "initial release") == [
        ("root_password_changed_again", versions.NEW, None, 1)]
    assert versions.check(project, load_all(project.detections)) == []


def test_a_removed_detection_keeps_its_entry_and_its_id_is_not_reused_silently(project):
    path = project.detections / "root_password_changed.yml"
    text = path.read_text(encoding="utf-8")
    path.unlink()
    dets = load_all(project.detections)
    problems = versions.check(project, dets)
    assert len(problems) == 1 and problems[0].startswith(
        "detections/versions.lock.json: detections.root_password_changed: no detection file")
    result = cli(project, "version", "bump", "--note", "Superseded by root_password_recovery_requested.")
    assert result.exit_code == 0, result.output
    assert "root_password_changed: marked removed at version 1" in result.output
    entry = lock_data(project)["detections"]["root_password_changed"]
    assert entry["removed"] is True and entry["version"] == 1 and entry["hash"].startswith("sha256:")
    assert versions.check(project, load_all(project.detections)) == []
    page = (project.root / "docs" / "detections.md").read_text(encoding="utf-8")
    assert "## Removed detections" in page and "`root_password_changed`: removed at version 1" in page
    # the file comes back: lint refuses until the return is recorded, then it ships as version 2
    path.write_text(text, encoding="utf-8")
    problems = versions.check(project, load_all(project.detections))
    assert len(problems) == 1 and "was removed at version 1" in problems[0] and "as version 2" in problems[0]
    assert versions.bump(project, load_all(project.detections), ["root_password_changed"], "back") == [
        ("root_password_changed", versions.REUSED, 1, 2)]
    entry = lock_data(project)["detections"]["root_password_changed"]
    assert "removed" not in entry and entry["version"] == 2


def test_show_lists_each_detection_state(project):
    edit(project.detections / "root_console_login.yml", "severity: high", "severity: critical")
    edit(project.detections / "root_console_login.yml", "risk_score: 73", "risk_score: 99")
    result = cli(project, "version", "show")
    assert result.exit_code == 0
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()}
    assert lines["root_console_login"] == ["1", "changed"]
    assert lines["root_console_brute_force"] == ["1", "current"]


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("note, message", [
    ("   ", "--note: say what changed"),
    ("bad \x1b[31m colour", "--note: control characters are not allowed"),
])
def test_bad_notes_are_refused(project, note, message):
    edit(project.detections / "root_console_login.yml", "severity: high", "severity: critical")
    edit(project.detections / "root_console_login.yml", "risk_score: 73", "risk_score: 99")
    before = versions.lock_path(project.detections).read_text(encoding="utf-8")
    result = cli(project, "version", "bump", "--note", note)
    assert result.exit_code != 0 and message in result.output
    assert versions.lock_path(project.detections).read_text(encoding="utf-8") == before


def test_a_lock_that_is_not_json_names_the_file_and_line(project):
    path = versions.lock_path(project.detections)
    path.write_text('{\n  "format": 1,\n  "detections": {,}\n}\n', encoding="utf-8")
    problems = versions.check(project, [])
    assert len(problems) == 1 and problems[0].startswith(str(path) + ":3: not JSON")
    result = cli(project, "version", "show")
    assert result.exit_code != 0 and "not JSON" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("mutate, field", [
    (lambda e: e.__setitem__("version", 3), "detections.root_console_login.version"),
    (lambda e: e["changelog"].append({"version": 3, "note": "skipped 2"}), "detections.root_console_login.changelog[1].version"),
    (lambda e: e.__setitem__("hash", "md5:abc"), "detections.root_console_login.hash"),
    (lambda e: e.__setitem__("removed", True), "detections.root_console_login.removed"),
    (lambda e: e["changelog"][0].__setitem__("note", "x\ny"), "detections.root_console_login.changelog[0].note"),
])
def test_an_inconsistent_lock_names_the_field(project, mutate, field):
    data = lock_data(project)
    mutate(data["detections"]["root_console_login"])
    path = versions.lock_path(project.detections)
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(versions.LockError) as err:
        versions.Lock.read(path)
    assert str(err.value).startswith("%s: %s" % (path, field)), str(err.value)


def test_a_missing_lock_says_how_to_create_it(project):
    versions.lock_path(project.detections).unlink()
    dets = load_all(project.detections)
    assert versions.check(project, dets) == [
        'detections/versions.lock.json: missing; run `awssignin version bump --note "initial release"` to '
        'record every detection at version 1']
    assert len(versions.bump(project, dets, None, "initial release")) == len(dets)
    assert versions.check(project, load_all(project.detections)) == []
