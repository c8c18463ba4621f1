"""Upgrading from title-named alerts: users' local/ settings follow the alert to its id-named stanza."""

from pathlib import Path

import pytest

from harness.detections import load_all
from harness.project import Layout
from harness.splunk import appbuild
from harness.splunk.migrate import BACKUP_SUFFIX, MigrationError, main, migrate_app, rename_map

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def detections():
    return load_all(Layout(ROOT).detections)


def _app(tmp_path, local, meta=None):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "savedsearches.conf").write_text(local, encoding="utf-8")
    if meta is not None:
        (tmp_path / "metadata").mkdir()
        (tmp_path / "metadata" / "local.meta").write_text(meta, encoding="utf-8")
    return tmp_path


def test_old_names_become_id_names_and_nothing_else_changes(tmp_path, detections):
    det = [d for d in detections if d.id == "root_console_login"][0]
    old, new = "AWS Sign-In - " + det.data["title"], appbuild.stanza_name(det)
    local = "# mine\n[%s]\ndisabled = 0\naction.email = 1\n\n[Some other search]\ndisabled = 0\n" % old
    meta = "[savedsearches/%s]\nowner = admin\n" % old.replace(" ", "%20")
    app = _app(tmp_path, local, meta)
    changes = migrate_app(app, rename_map(detections))
    assert [(p.name, r) for p, r in changes] == [("savedsearches.conf", [(old, new)]), ("local.meta", [(old, new)])]
    text = (app / "local" / "savedsearches.conf").read_text(encoding="utf-8")
    assert text == local.replace("[%s]" % old, "[%s]" % new)
    assert (app / "metadata" / "local.meta").read_text(encoding="utf-8") == \
        "[savedsearches/%s]\nowner = admin\n" % new.replace(" ", "%20")
    # the user's files are kept as they were
    assert (app / "local" / ("savedsearches.conf" + BACKUP_SUFFIX)).read_text(encoding="utf-8") == local
    assert migrate_app(app, rename_map(detections)) == []  # a second run finds nothing to do


def test_both_names_in_one_file_is_refused_and_nothing_is_written(tmp_path, detections):
    det = detections[0]
    local = "[AWS Sign-In - %s]\ndisabled = 0\n[%s]\ndisabled = 1\n" % (det.data["title"], appbuild.stanza_name(det))
    app = _app(tmp_path, local)
    with pytest.raises(MigrationError, match="merge them by hand"):
        migrate_app(app, rename_map(detections))
    assert (app / "local" / "savedsearches.conf").read_text(encoding="utf-8") == local
    assert not (app / "local" / ("savedsearches.conf" + BACKUP_SUFFIX)).exists()


def test_dry_run_writes_nothing(tmp_path, detections, capsys):
    det = detections[0]
    local = "[AWS Sign-In - %s]\ndisabled = 0\n" % det.data["title"]
    app = _app(tmp_path, local)
    assert main([str(app), "--dry-run"]) == 0
    assert "would change" in capsys.readouterr().out
    assert (app / "local" / "savedsearches.conf").read_text(encoding="utf-8") == local
