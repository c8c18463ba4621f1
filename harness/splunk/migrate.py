"""Move a Splunk install's own settings from the old, title-named saved searches to the id-named ones.

Releases before stable names called each alert ``AWS Sign-In - <title>``; now it is
``AWS Sign-In - <detection id> - Rule`` (harness/splunk/appbuild.py, stanza_name). Splunk layers
``local/savedsearches.conf`` over ``default/`` stanza by stanza, by name, so after the upgrade a user's
``[AWS Sign-In - <title>]`` in local/ no longer overrides anything: the alert they enabled or tuned
ships again disabled under its new name, and the old stanza is left on its own, without a search.
This rewrites the stanza headers of ``local/savedsearches.conf`` (and the matching
``[savedsearches/<name>]`` permission stanzas of ``metadata/local.meta``, whose object names are
URL-encoded) from the old names to the new ones and keeps every other byte: settings, comments,
order. It never overwrites what it cannot map: a file that already holds both the old and the new
name of an alert is refused, naming both. Each changed file is first copied to ``<file>.before-stable-names``
(an existing copy is never replaced), then replaced in one step.

    python -m harness.splunk.migrate $SPLUNK_HOME/etc/apps/awssignin [--dry-run]
"""

import argparse
import os
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import quote, unquote

from ..detections import load_all
from ..project import Layout
from .appbuild import old_stanza_name, stanza_name

BACKUP_SUFFIX = ".before-stable-names"
_HEADER = re.compile(r"^(\s*\[)(.*)(\]\s*)$")
META_PREFIX = "savedsearches/"


class MigrationError(ValueError):
    """The file cannot be migrated; the message names the file and the stanzas."""


def rename_map(detections):
    """{old stanza name: new stanza name} for every detection."""
    return dict((old_stanza_name(d), stanza_name(d)) for d in detections)


def _meta_name(header):
    """'savedsearches/AWS%20Sign-In...' -> the saved search's name, else None."""
    return unquote(header[len(META_PREFIX):]) if header.startswith(META_PREFIX) else None


def migrate_text(text, mapping, path, meta=False):
    """(new text, [(old, new)]) for one conf file's text. ``meta``: a local.meta file."""
    lines = text.splitlines(True)
    names = []
    for line in lines:
        m = _HEADER.match(line.rstrip("\r\n"))
        if m:
            names.append(_meta_name(m.group(2)) if meta else m.group(2))
    present = set(n for n in names if n is not None)
    renamed, out = [], []
    for line in lines:
        body = line.rstrip("\r\n")
        m = _HEADER.match(body)
        name = (_meta_name(m.group(2)) if meta else m.group(2)) if m else None
        if name in mapping:
            new = mapping[name]
            if new in present:
                raise MigrationError("%s: holds both [%s] and [%s]; merge them by hand (the second is the "
                                     "alert's new name)" % (path, m.group(2), new if not meta else META_PREFIX + quote(new, safe="")))
            header = META_PREFIX + quote(new, safe="") if meta else new
            line = m.group(1) + header + m.group(3) + line[len(body):]
            renamed.append((name, new))
        out.append(line)
    return "".join(out), renamed


def migrate_app(app_dir, mapping, dry_run=False):
    """Migrate ``app_dir``/local/savedsearches.conf and ``app_dir``/metadata/local.meta. Returns
    [(file, [(old, new)])] for the files that change. Raises MigrationError (nothing is written then)."""
    app_dir = Path(app_dir)
    plans = []
    for path, meta in ((app_dir / "local" / "savedsearches.conf", False), (app_dir / "metadata" / "local.meta", True)):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise MigrationError("%s: cannot read it (%s)" % (path, err))
        new_text, renamed = migrate_text(text, mapping, path, meta)
        if renamed:
            plans.append((path, new_text, renamed))
    if not dry_run:
        for path, new_text, _ in plans:
            backup = path.with_name(path.name + BACKUP_SUFFIX)
            if backup.exists():
                raise MigrationError("%s exists from an earlier run; move it away first" % backup)
        for path, new_text, _ in plans:
            shutil.copy2(str(path), str(path.with_name(path.name + BACKUP_SUFFIX)))
            tmp = path.with_name("." + path.name + ".migrating")
            with open(str(tmp), "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
            shutil.copymode(str(path), str(tmp))
            os.replace(str(tmp), str(path))
    return [(path, renamed) for path, _, renamed in plans]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness.splunk.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("app_dir", help="the installed app, e.g. $SPLUNK_HOME/etc/apps/awssignin")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, write nothing")
    args = parser.parse_args(argv)
    try:
        mapping = rename_map(load_all(Layout().detections))
        changes = migrate_app(args.app_dir, mapping, dry_run=args.dry_run)
    except (MigrationError, ValueError) as err:
        sys.stderr.write("error: %s\n" % err)
        return 1
    if not changes:
        print("nothing to migrate: no old alert names in %s" % args.app_dir)
    for path, renamed in changes:
        print("%s%s:" % ("would change " if args.dry_run else "", path))
        for old, new in renamed:
            print("  [%s] -> [%s]" % (old, new))
    return 0


if __name__ == "__main__":
    sys.exit(main())
