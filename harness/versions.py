"""Per-detection versions: ``detections/versions.lock.json``, a committed lock of content hashes.

A detection's version rises whenever its *shipped content* changes, so a user (and Kibana, whose rule
``version`` it becomes) can tell an upgrade from a re-import. Shipped content is what reaches users
on either platform, as built from the detection file today:

- the file's own fields except ``tests`` (title, description, severity, risk score, ATT&CK, false
  positives, tuning, references, links, logic, the platform sections, known differences);
- the engine's detection table entry (what the Splunk ``awssignin`` command evaluates);
- the Splunk saved search: its stanza name and every setting (search, schedule, suppression, ES
  fields);
- the Kibana rule body (query, type, threshold, schedule, note, setup, tags, required fields, ...).

Test cases and fixtures are not shipped: changing them never bumps. The artefacts are hashed as
generated, so a change to the generator code that alters a generated search or rule changes the hash
too and needs a bump (the users get different content). The version itself is left out of the hash:
the artefacts are rendered from a copy pinned to a placeholder version, the rule's ``version`` is
dropped and the Splunk description gets no version annotation (``splunk_description``).

The hash is sha256 of the canonical JSON (sorted keys, no whitespace, UTF-8) of those four parts.

``awssignin build`` never changes the lock. ``awssignin version bump [ID...] --note TEXT`` does:
a changed detection gets version + 1, a new one version 1, a re-used id (removed before) version + 1,
a detection whose file is gone is marked ``removed`` (its entry stays, so its id and rule_id are never
silently given to another detection); each gets a changelog entry with the note.
``check`` (run by ``awssignin lint`` and the test suite) names every detection whose content differs
from the lock and the command to run.

Lock format (``format`` 1), keys sorted, written by ``bump`` only::

    {"comment": "...", "format": 1,
     "detections": {"<id>": {"version": 2, "hash": "sha256:<64 hex>",
                             "changelog": [{"version": 1, "note": "initial release"},
                                           {"version": 2, "note": "what changed"}]},
                    "<removed id>": {"version": 3, "hash": "...", "removed": true,
                                     "changelog": [..., {"version": 3, "note": "why", "removed": true}]}}}

No dates: the catalog page generated from the lock must not depend on when it was built, and git
records when each bump was committed.
"""

import copy
import functools
import hashlib
import json
import os
import re
from collections import namedtuple
from pathlib import Path

import click
import jsonschema

LOCK_NAME = "versions.lock.json"
FORMAT = 1
SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "versions_lock.schema.json"
COMMENT = ("Each detection's version, the sha256 of its shipped content and its changelog (harness/versions.py). "
           "Written by `awssignin version bump`; do not edit by hand.")
NOT_SHIPPED = ("tests",)     # detection-file fields that never reach a user
PLACEHOLDER_VERSION = 1      # the version the hashed copy is rendered with (a valid Kibana version)
SPLUNK_ANNOTATION = " (awssignin {id} version {version})"


class LockError(ValueError):
    """The lock cannot be read or used; the message names the file and the field."""


def lock_path(detections_dir):
    return Path(detections_dir) / LOCK_NAME


# ---------------------------------------------------------------------------------------------------
# The lock file
# ---------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _validator():
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _field(path_items):
    return "".join("[%d]" % p if isinstance(p, int) else ("." if i else "") + str(p)
                   for i, p in enumerate(path_items))


class Lock(object):
    """The parsed lock: ``entries`` is {id: {"version", "hash", "changelog", ["removed"]}}."""

    def __init__(self, path, entries=None, exists=False):
        self.path = Path(path)
        self.entries = entries if entries is not None else {}
        self.exists = exists

    @classmethod
    def read(cls, path):
        """The lock at ``path`` (an empty one when there is no file). Raises LockError."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as err:
            raise LockError("%s: cannot read: %s" % (path, err))
        try:
            data = json.loads(text)
        except ValueError as err:
            where = ":%d" % err.lineno if hasattr(err, "lineno") else ""
            raise LockError("%s%s: not JSON: %s" % (path, where, getattr(err, "msg", err)))
        errors = list(_validator().iter_errors(data))
        if errors:
            err = max(errors, key=lambda e: len(e.absolute_path))
            raise LockError("%s: %s: %s" % (path, _field(err.absolute_path) or "(top level)", err.message))
        for did, entry in sorted(data["detections"].items()):
            _check_entry(path, did, entry)
        return cls(path, data["detections"], exists=True)

    def text(self):
        data = {"comment": COMMENT, "format": FORMAT, "detections": self.entries}
        return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(self):
        from .build import write_atomic

        write_atomic(self.path, self.text())
        _CACHE.pop(str(self.path), None)
        self.exists = True
        return self.path


def _check_entry(path, did, entry):
    """The changelog tells the version's history: 1, 2, 3 ... with a removal keeping its version,
    and the entry's version, hash state and ``removed`` flag follow from its last change."""
    where = "%s: detections.%s" % (path, did)
    previous = None
    for i, change in enumerate(entry["changelog"]):
        if change.get("removed"):
            expected = previous
            if previous is None:
                raise LockError("%s.changelog[%d]: a detection cannot be removed before its first version" % (where, i))
        else:
            expected = (previous or 0) + 1
        if change["version"] != expected:
            raise LockError("%s.changelog[%d].version: expected %d, got %d" % (where, i, expected, change["version"]))
        previous = change["version"]
    if entry["version"] != previous:
        raise LockError("%s.version: %d, but the changelog's last version is %d" % (where, entry["version"], previous))
    if bool(entry.get("removed")) != bool(entry["changelog"][-1].get("removed")):
        raise LockError("%s.removed: must be true exactly when the last changelog entry is a removal" % where)


_CACHE = {}   # str(path) -> (stat signature, Lock): generators ask for every detection's version


def cached_lock(path):
    path = Path(path)
    try:
        st = os.stat(str(path))
        signature = (st.st_ino, st.st_size, st.st_mtime_ns)
    except FileNotFoundError:
        signature = None
    hit = _CACHE.get(str(path))
    if hit is not None and hit[0] == signature:
        return hit[1]
    lock = Lock.read(path)
    _CACHE[str(path)] = (signature, lock)
    return lock


def lock_of(detection):
    """The lock beside the detection's file (detections/versions.lock.json)."""
    return cached_lock(lock_path(detection.path.parent))


# ---------------------------------------------------------------------------------------------------
# What the generators read
# ---------------------------------------------------------------------------------------------------

def _pinned(detection):
    return getattr(detection, "_version_pinned", False)


def version_of(detection):
    """The detection's version in the lock; 1 for a detection the lock does not know yet (new ones
    start at 1; lint says to record it). The hashed copy gets the placeholder."""
    if _pinned(detection):
        return PLACEHOLDER_VERSION
    entry = lock_of(detection).entries.get(detection.id)
    return entry["version"] if entry else 1


def splunk_description(detection, text):
    """The saved search's description with its version annotation appended.

    savedsearches.conf has no version setting. Its spec (Splunk's README/savedsearches.conf.spec)
    lists scheduling, alerting and display settings, ``action.<name>.*`` parameters of alert actions
    (``action.correlationsearch.*`` are Enterprise Security's), and ``description``, the "human-
    readable description of this saved search"; ``btool check`` validates attribute names against
    the specs (ksconf.readthedocs.io, cmd_check.html), so an invented key is not an option. Like every
    setting, the description comes back from the REST endpoint ``saved/searches`` (the entity content
    splunklib's ``client.SavedSearch`` reads), so a user or ``awssignin status`` can read the version
    off an installed alert; a conf comment would be visible only in the file. The form is fixed so
    ``parse_splunk_description`` can read it back. (Not checked against a live Splunk here.)
    """
    if _pinned(detection):
        return text
    return text + SPLUNK_ANNOTATION.format(id=detection.id, version=version_of(detection))


def parse_splunk_description(text):
    """(id, version) from a description that ends with the annotation, else None."""
    m = re.search(r" \(awssignin ([a-z][a-z0-9_]{2,62}) version ([1-9][0-9]*)\)$", text or "")
    return (m.group(1), int(m.group(2))) if m else None


# ---------------------------------------------------------------------------------------------------
# Content hashes
# ---------------------------------------------------------------------------------------------------

def shipped_content(detection):
    """The JSON-able shipped content of a loaded detection (module docstring), version left out."""
    from .elastic.rules import kibana_rule
    from .splunk import appbuild

    pinned = copy.copy(detection)
    pinned._version_pinned = True
    rule = kibana_rule(pinned)
    rule.pop("version", None)
    authored = getattr(detection, "authored", None) or detection.data
    return {
        "detection": {k: v for k, v in authored.items() if k not in NOT_SHIPPED},
        "engine": detection.engine_spec(),
        "splunk": {"name": appbuild.stanza_name(pinned),
                   "settings": [[k, v] for k, v in appbuild.saved_search_settings(pinned)]},
        "kibana": rule,
    }


def canonical_json(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(detection):
    return "sha256:" + hashlib.sha256(canonical_json(shipped_content(detection)).encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------------
# Comparing the detections with the lock
# ---------------------------------------------------------------------------------------------------

CURRENT, CHANGED, NEW, REUSED, GONE, RETIRED = "current", "changed", "new", "reused", "gone", "removed"


class State(namedtuple("State", "id state entry hash detection")):
    """One id's standing: ``state`` is one of the constants above; ``hash`` the content hash now
    (None when there is no file); ``entry`` the lock's entry (None when the lock has none)."""

    @property
    def version(self):
        return self.entry["version"] if self.entry else None


def states(lock, detections):
    """A State per id in the detections or the lock, sorted by id."""
    out = {}
    for det in detections:
        entry = lock.entries.get(det.id)
        now = content_hash(det)
        if entry is None:
            state = NEW
        elif entry.get("removed"):
            state = REUSED
        else:
            state = CURRENT if entry["hash"] == now else CHANGED
        out[det.id] = State(det.id, state, entry, now, det)
    for did, entry in lock.entries.items():
        if did not in out:
            out[did] = State(did, RETIRED if entry.get("removed") else GONE, entry, None, None)
    return [out[k] for k in sorted(out)]


def _rel(layout, path):
    try:
        return Path(path).relative_to(layout.root)
    except ValueError:
        return Path(path)


def problem(layout, lock, s):
    """The lint message for a State that needs a bump, else None."""
    lock_name = _rel(layout, lock.path)
    if s.state == CHANGED:
        return ("%s: shipped content differs from version %d in %s (%s, locked %s); run "
                "`awssignin version bump %s --note \"<what changed>\"`"
                % (_rel(layout, s.detection.path), s.version, lock_name, s.hash[:19], s.entry["hash"][:19], s.id))
    if s.state == NEW:
        return ("%s: not in %s; run `awssignin version bump %s --note \"initial release\"` (it starts at version 1)"
                % (_rel(layout, s.detection.path), lock_name, s.id))
    if s.state == REUSED:
        return ("%s: the id %s was removed at version %d (%s); ids are never reused silently: run "
                "`awssignin version bump %s --note \"<why it is back>\"` to ship it as version %d"
                % (_rel(layout, s.detection.path), s.id, s.version, lock_name, s.id, s.version + 1))
    if s.state == GONE:
        return ("%s: detections.%s: no detection file %s.yml; run `awssignin version bump %s --note "
                "\"<why it was removed>\"` to mark it removed (its id stays reserved)" % (lock_name, s.id, s.id, s.id))
    return None


def check(layout, detections):
    """Lint problems: every detection whose content differs from the lock, with the command to run."""
    try:
        lock = Lock.read(lock_path(layout.detections))
    except LockError as err:
        return [str(err)]
    if not lock.exists:
        return ["%s: missing; run `awssignin version bump --note \"initial release\"` to record every "
                "detection at version 1" % _rel(layout, lock.path)]
    return [p for p in (problem(layout, lock, s) for s in states(lock, detections)) if p]


def clean_note(note):
    """The note as one line; refuses an empty one and control characters (it reaches a terminal)."""
    text = " ".join(str(note or "").split())
    if not text:
        raise LockError("--note: say what changed (it becomes the changelog entry)")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text):
        raise LockError("--note: control characters are not allowed")
    return text


def bump(layout, detections, ids=None, note=None):
    """Record in the lock every detection (or the ``ids``) that needs it; returns
    [(id, state, old version or None, new version)] and writes the lock when that is non-empty.
    Raises LockError for an id that needs no bump or is unknown, an empty note, an unreadable lock."""
    note = clean_note(note)
    lock = Lock.read(lock_path(layout.detections))
    by_id = {s.id: s for s in states(lock, detections)}
    if ids:
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise LockError("unknown detection(s): %s (no detections/<id>.yml and no lock entry)" % ", ".join(unknown))
        settled = [i for i in ids if by_id[i].state in (CURRENT, RETIRED)]
        if settled:
            raise LockError("nothing to bump for %s: %s" % (", ".join(settled), "; ".join(
                "%s is %s at version %d" % (i, "unchanged" if by_id[i].state == CURRENT else "already removed",
                                            by_id[i].version) for i in settled)))
        chosen = [by_id[i] for i in sorted(set(ids))]
    else:
        chosen = [s for s in by_id.values() if s.state not in (CURRENT, RETIRED)]
    done = []
    for s in chosen:
        entry = copy.deepcopy(s.entry) if s.entry else {"version": 0, "changelog": []}
        old = s.entry["version"] if s.entry else None
        if s.state == GONE:
            entry["removed"] = True
            entry["changelog"].append({"version": entry["version"], "note": note, "removed": True})
        else:
            entry.pop("removed", None)
            entry["version"] += 1
            entry["hash"] = s.hash
            entry["changelog"].append({"version": entry["version"], "note": note})
        lock.entries[s.id] = entry
        done.append((s.id, s.state, old, entry["version"]))
    if done:
        lock.write()
    return done


# ---------------------------------------------------------------------------------------------------
# The command line: awssignin version bump | show
# ---------------------------------------------------------------------------------------------------

@click.group("version")
def version_cli():
    """Per-detection versions: the lock of content hashes in detections/versions.lock.json."""


@version_cli.command("bump")
@click.argument("ids", nargs=-1)
@click.option("--note", required=True, metavar="TEXT", help="The changelog entry: what changed and why.")
def bump_cmd(ids, note):
    """Raise the version of each changed detection (all of them, or the IDS), record new ones at
    version 1 and mark removed ones, with NOTE as the changelog entry; then rewrite the generated
    files, which carry the versions."""
    from .build import write_generated
    from .cliutil import detections_or_fail, layout_or_fail

    layout = layout_or_fail()
    dets = detections_or_fail(layout)
    try:
        done = bump(layout, dets, list(ids), note)
    except ValueError as err:  # LockError, or a detection whose artefacts cannot be built (lint says more)
        raise click.ClickException(str(err))
    if not done:
        click.echo("nothing to bump: every detection matches %s" % _rel(layout, lock_path(layout.detections)))
        return
    for did, state, old, new in done:
        what = {NEW: "new, version %d" % new, GONE: "marked removed at version %d" % new}.get(
            state, "version %s -> %d" % (old, new))
        click.echo("%s: %s" % (did, what))
    click.echo("wrote     %s" % _rel(layout, lock_path(layout.detections)))
    for path, changed in write_generated(layout, dets):
        if changed:
            click.echo("wrote     %s" % _rel(layout, path))


@version_cli.command("show")
def show_cmd():
    """Each detection's version and whether its shipped content matches the lock."""
    from .cliutil import detections_or_fail, layout_or_fail

    layout = layout_or_fail()
    dets = detections_or_fail(layout)
    try:
        rows = states(Lock.read(lock_path(layout.detections)), dets)
    except ValueError as err:
        raise click.ClickException(str(err))
    for s in rows:
        click.echo("%-36s %-8s %s" % (s.id, s.version if s.version is not None else "-", s.state))
