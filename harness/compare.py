"""``replay --compare REV``: the detections of a git revision beside the working tree's.

The revision's ``detections/`` is taken with ``git archive`` into a temporary project, next to a
copy of the working tree's ``addon/`` whose generated files (saved searches, macros, detection
table) are then regenerated from the revision's detections by the same ``build`` code. So both
sides run the working tree's engine, mappings and generators; only the detection files differ.
Replay runs both sets over the same records in one pass; the alerts are then matched.

Matching: two alerts are the same alert when platform, detection, group, first event time and
first event id agree; then any other difference (last event, count, event ids, severity...) is a
change. A burst that now starts at another event is one alert that disappears and one that appears.
"""

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from . import alerts as alert_schema
from .build import write_generated
from .detections import load_all
from .project import Layout


class CompareError(Exception):
    pass


def _git(root, *args):
    try:
        done = subprocess.run(["git", "-C", str(root)] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, check=False)
    except OSError as err:
        raise CompareError("cannot run git: %s" % err)
    if done.returncode != 0:
        raise CompareError("git %s: %s" % (" ".join(args), done.stderr.decode("utf-8", "replace").strip()))
    return done.stdout


def _extract(tar_bytes, target):
    """Regular files and directories only, each inside ``target`` (git archive writes nothing else
    for a detections tree; anything else is refused rather than trusted)."""
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        for member in tar.getmembers():
            name = Path(member.name)
            if member.name.startswith("/") or ".." in name.parts:
                raise CompareError("unsafe path in the revision's archive: %r" % member.name)
            if member.isdir():
                (target / name).mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                (target / name).write_bytes(tar.extractfile(member).read())


class Revision(object):
    """A temporary project holding REV's detections; ``close()`` removes it."""

    def __init__(self, layout, rev, ids=None):
        self.rev = rev
        commit = _git(layout.root, "rev-parse", "--verify", "--quiet", "%s^{commit}" % rev).decode().strip()
        self.commit = commit
        self.tmp = Path(tempfile.mkdtemp(prefix="awssignin-compare-"))
        try:
            rel = layout.detections.relative_to(layout.root).as_posix()
            _extract(_git(layout.root, "archive", "--format=tar", commit, "--", rel), self.tmp)
            if not (self.tmp / rel).is_dir():
                raise CompareError("%s has no %s/" % (rev, rel))
            shutil.copytree(str(layout.addon), str(self.tmp / "addon"),
                            ignore=shutil.ignore_patterns("local", "__pycache__", "*.pyc"))
            self.layout = Layout(self.tmp)
            self.layout.detections = self.tmp / rel
            every = load_all(self.layout.detections)
            write_generated(self.layout, every)
            self.detections = [d for d in every if not ids or d.id in ids]
        except Exception as err:
            self.close()
            if isinstance(err, (CompareError, OSError)):
                raise
            # name the revision's files as REV:path, not by the temporary copy
            raise CompareError(str(err).replace(str(self.tmp) + "/", "%s:" % rev))

    def close(self):
        shutil.rmtree(str(self.tmp), ignore_errors=True)


def alert_key(alert):
    return (alert["platform"], alert["detection"], json.dumps(alert["group"], sort_keys=True),
            alert["first_seen"], alert["event_ids"][0] if alert["event_ids"] else None)


class AlertDiff(object):
    """Alerts of the revision (``before``) and of the working tree (``after``), matched."""

    def __init__(self):
        self.before = {}
        self.after = {}

    def add(self, alert, side):
        bucket = self.before if side == "before" else self.after
        bucket.setdefault(alert_key(alert), []).append(alert)

    def changes(self):
        """[(kind, before, after)] sorted by detection, platform, time: kind is "appears",
        "disappears" or "changes"."""
        out = []
        for key in sorted(set(self.before) | set(self.after)):
            old, new = self.before.get(key, []), self.after.get(key, [])
            for a, b in zip(old, new):
                if alert_schema.to_json(a) != alert_schema.to_json(b):
                    out.append(("changes", a, b))
            out.extend(("disappears", a, None) for a in old[len(new):])
            out.extend(("appears", None, b) for b in new[len(old):])
        out.sort(key=lambda c: (_of(c)["detection"], _of(c)["platform"], _of(c)["first_seen"]))
        return out


def _of(change):
    return change[2] if change[2] is not None else change[1]


def change_json(change):
    kind, before, after = change
    alert = _of(change)
    pick = lambda a: None if a is None else dict((k, a[k]) for k in alert_schema.KEYS)
    return json.dumps({"change": kind, "detection": alert["detection"], "platform": alert["platform"],
                       "before": pick(before), "after": pick(after)}, separators=(",", ":"))


def change_lines(change):
    """Plain text lines describing one change (the caller makes them safe to print)."""
    kind, before, after = change
    alert = _of(change)
    head = "%s %s %s: %s %s..%s {%s} count %d" % (
        {"appears": "+", "disappears": "-", "changes": "~"}[kind], alert["detection"], alert["platform"], kind,
        alert["first_seen"], alert["last_seen"], alert_schema.group_text(alert["group"]), alert["count"])
    lines = [head]
    if kind == "changes":
        for k in alert_schema.KEYS:
            if before[k] != after[k]:
                lines.append("    %s: %s -> %s" % (k, json.dumps(before[k]), json.dumps(after[k])))
    return lines
