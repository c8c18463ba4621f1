"""The local Splunk runner: a detection's saved search evaluated the way Splunk evaluates it.

For one detection and a list of raw CloudTrail records:

1. the saved search text: the ``search`` of its stanza in ``addon/default/savedsearches.conf`` (what
   ships), else composed like the build composes it (``saved_search_text``); a conf or detection
   table that disagrees with the detection file is an error (run ``awssignin build``), never silently
   tested;
2. macros expanded from ``addon/default/macros.conf`` (the shipped definitions, not ``local/``);
3. the pipeline split; every ``search`` stage before the command is evaluated by the SPL evaluator
   over each record's aws:cloudtrail field view, and an ``iplocation`` stage adds its fields to
   the view from the GeoIP database in use (``spl.compile_iplocation``, harness/geoip.py);
4. the survivors sorted newest first (Splunk's event order) and fed to the real
   ``addon/bin/awssignin.py`` over the chunked protocol, with the stage's arguments plus the test's
   ``threshold=`` / ``window=`` parameters;
5. the ``search`` stages after the command (the detection's filter macro) applied to its rows;
6. rows turned back into the alert schema (``group`` from its JSON, lists, integers).
"""

import json
import sys

from awssignin.engine import OVERRIDABLE as PARAMS

from .appbuild import COMMAND, saved_search_text
from .fieldview import FieldViewError, field_view
from .macros import MacroError, expand, load_macros
from .scp import MAX_RESULT_ROWS, ScpError, run_command
from .spl import SplError, compile_iplocation, compile_search, split_pipeline



class RunnerError(RuntimeError):
    """The detection cannot be run locally; the message names the detection and the cause."""


def tokenize_args(text):
    """Command arguments as splunkd hands them over: ``(args, raw_args)``. Tokens split on whitespace
    outside double quotes; ``args`` drop the quotes (``detection="a, b"`` -> ``detection=a, b``)."""
    raw, args = [], []
    i, n = 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        start = i
        plain = []
        while i < n and not text[i].isspace():
            c = text[i]
            if c == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n:
                        i += 1
                    plain.append(text[i])
                    i += 1
                if i >= n:
                    raise RunnerError("unterminated quote in command arguments: %s" % text[start:])
                i += 1
                continue
            plain.append(c)
            i += 1
        raw.append(text[start:i])
        args.append("".join(plain))
    return args, raw


def _normal(text):
    return " ".join(text.split())


class SplunkRun(object):
    """What one run produced: ``alerts`` plus what a user needs to trust them: the search that ran,
    how many records matched the base search, records without a field view (``skipped``: reasons),
    and the command's inspector messages."""

    def __init__(self, search, alerts, matched, skipped, messages):
        self.search = search
        self.alerts = alerts
        self.matched = matched
        self.skipped = skipped
        self.messages = messages


class SplunkLocalRunner(object):
    """Runs detections through their Splunk artefacts locally. ``python`` is the interpreter for the
    command (Splunk ships 3.9 and 3.13)."""

    platform = "splunk"

    def __init__(self, layout, python=None, chunk_size=MAX_RESULT_ROWS, timeout=None):
        self.layout = layout
        self.python = python or sys.executable
        self.chunk_size = chunk_size
        self.timeout = timeout
        self.script = layout.addon / "bin" / (COMMAND + ".py")
        self.savedsearches = layout.addon / "default" / "savedsearches.conf"
        self.macros_conf = layout.addon / "default" / "macros.conf"
        self._macros = None
        self._conf_searches = None
        self._table = None

    # --- the artefacts --------------------------------------------------------------------------

    def macros(self):
        if self._macros is None:
            if not self.macros_conf.is_file():
                raise RunnerError("%s is missing; run `awssignin build`" % self.macros_conf)
            try:
                self._macros = load_macros(str(self.macros_conf))
            except MacroError as err:
                raise RunnerError(str(err))
        return self._macros

    def searches_in_conf(self):
        """{detection id: [(stanza, search)]} for every stanza whose search runs the command."""
        if self._conf_searches is None:
            found = {}
            if self.savedsearches.is_file():
                from ksconf.conf.parser import GLOBAL_STANZA, PARSECONF_MID_NC, ConfParserException, parse_conf
                try:
                    conf = parse_conf(str(self.savedsearches), profile=PARSECONF_MID_NC)
                except (ConfParserException, OSError, UnicodeDecodeError) as err:
                    raise RunnerError("%s: %s" % (self.savedsearches, err))
                for stanza, keys in conf.items():
                    if stanza is GLOBAL_STANZA or stanza == "default" or "search" not in keys:
                        continue
                    for ident in self._detections_run_by(keys["search"]):
                        found.setdefault(ident, []).append((stanza, keys["search"]))
            self._conf_searches = found
        return self._conf_searches

    @staticmethod
    def _detections_run_by(search):
        try:
            stages = split_pipeline(search)
        except SplError:
            return []
        ids = []
        for stage in stages:
            if stage.command != COMMAND:
                continue
            try:
                args, _ = tokenize_args(stage.args)
            except RunnerError:
                continue
            if "output=baseline" in args:
                continue  # a new_terms detection's baseline search (harness/splunk/baselinesearch.py), no alert
            for arg in args:
                if arg.startswith("detection="):
                    ids.extend(i.strip() for i in arg[len("detection="):].split(",") if i.strip())
        return ids

    def search_text(self, detection):
        """The detection's saved search (unexpanded). Raises RunnerError when the shipped conf is
        ambiguous or disagrees with the detection file."""
        expected = saved_search_text(detection)
        entries = self.searches_in_conf().get(detection.id, [])
        if not entries:
            return expected
        if len(entries) > 1:
            raise RunnerError("%s: several saved searches run it (%s) in %s" % (
                detection.id, ", ".join("[%s]" % s for s, _ in entries), self.savedsearches))
        stanza, search = entries[0]
        if _normal(search) != _normal(expected):
            raise RunnerError(
                "%s: [%s] in %s is out of date with %s; run `awssignin build`\n  shipped:  %s\n  expected: %s"
                % (detection.id, stanza, self.savedsearches, detection.path, _normal(search), _normal(expected)))
        return search

    def _check_table(self, detection):
        if self._table is None:
            try:
                with open(str(self.layout.engine_table), "r", encoding="utf-8") as handle:
                    self._table = dict((d["id"], d) for d in json.load(handle)["detections"])
            except (OSError, ValueError, KeyError, TypeError) as err:
                raise RunnerError("cannot read the detection table %s (%s); run `awssignin build`"
                                  % (self.layout.engine_table, err))
        shipped = self._table.get(detection.id)
        expected = json.loads(json.dumps(detection.engine_spec()))
        if shipped != expected:
            what = "has no entry for" if shipped is None else "is out of date with"
            raise RunnerError("%s: the detection table %s %s %s; run `awssignin build`"
                              % (detection.id, self.layout.engine_table, what, detection.path))

    # --- running --------------------------------------------------------------------------------

    def plan(self, detection, params=None):
        """(expanded search, [base predicates], (args, raw_args), [filter predicates])."""
        text = self.search_text(detection)
        try:
            expanded = expand(text, self.macros())
        except MacroError as err:
            raise RunnerError("%s: %s" % (detection.id, err))
        try:
            stages = split_pipeline(expanded)
        except SplError as err:
            raise RunnerError("%s: %s" % (detection.id, err))
        at = [i for i, s in enumerate(stages) if s.command == COMMAND]
        if len(at) != 1:
            raise RunnerError("%s: the search must run `%s` exactly once, found %d: %s"
                              % (detection.id, COMMAND, len(at), expanded))
        before, command, after = stages[:at[0]], stages[at[0]], stages[at[0] + 1:]
        # a new_terms alert appends its baseline lookup (a KV store collection) to the events; locally
        # there is no KV store, so it adds no rows: the test's own older records are the history
        before = [s for s in before if not (s.command == "inputlookup" and s.args.split()[:1] == ["append=true"])]
        for stage in before + after:
            if stage.command != "search" and not (stage.command == "iplocation" and stage in before):
                raise RunnerError("%s: the local runner evaluates only `search` (and `iplocation` before it) "
                                  "around `%s`, not `%s` (position %d): %s"
                                  % (detection.id, COMMAND, stage.command, stage.position, expanded))
        try:
            # in pipeline order; an iplocation stage adds fields to the view and keeps the event
            base = [compile_iplocation(s.args) if s.command == "iplocation" else compile_search(s.args)
                    for s in before]
            filters = [compile_search(s.args) for s in after]
        except SplError as err:
            raise RunnerError("%s: %s\n  search: %s" % (detection.id, err, expanded))
        args, raw = tokenize_args(command.args)
        for key, value in sorted((params or {}).items()):
            if key not in PARAMS:
                raise RunnerError("%s: parameter %r is not an option of `%s` (only %s)"
                                  % (detection.id, key, COMMAND, ", ".join(PARAMS)))
            keep = [i for i, a in enumerate(args) if not a.startswith(key + "=")]
            args = [args[i] for i in keep] + ["%s=%s" % (key, value)]
            raw = [raw[i] for i in keep] + ["%s=%s" % (key, value)]
        return expanded, base, (args, raw), filters

    def run_detailed(self, detection, records, params=None):
        self._check_table(detection)
        expanded, base, (args, raw_args), filters = self.plan(detection, params)
        matched, skipped = [], []
        for n, record in enumerate(records):
            try:
                view = field_view(record)
            except FieldViewError as err:
                skipped.append("record %d: %s" % (n, err))
                continue
            if all(p(view) for p in base):
                matched.append(view)
        # Splunk hands events newest first; ties keep their input order.
        matched.sort(key=lambda v: v["_time"], reverse=True)
        kwargs = {"python": self.python, "chunk_size": self.chunk_size, "search_text": expanded,
                  "raw_args": raw_args}
        if self.timeout:
            kwargs["timeout"] = self.timeout
        try:
            result = run_command(str(self.script), args, matched, **kwargs)
        except ScpError as err:
            raise RunnerError("%s: the %s command failed: %s" % (detection.id, COMMAND, err))
        rows = [r for r in result.records if all(p(r) for p in filters)]
        alerts = [row_to_alert(r, detection.id) for r in rows]
        return SplunkRun(expanded, alerts, len(matched), skipped, result.messages)

    def run(self, detection, records, params=None):
        """Alerts (DESIGN.md schema, platform "splunk") the detection's saved search produces."""
        return self.run_detailed(detection, records, params).alerts


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def row_to_alert(row, detection_id=""):
    """One output row of the command -> the alert schema. Raises RunnerError on a malformed row."""
    try:
        group = json.loads(row["group"])
        alert = {
            "detection": row["detection"],
            "title": row["title"],
            "severity": row["severity"],
            "risk_score": int(row["risk_score"]),
            "mitre": _as_list(row.get("mitre")),
            "platform": row["platform"],
            "first_seen": row["first_seen"],
            "last_seen": row["last_seen"],
            "group": group,
            "count": int(row["count"]),
            "event_ids": _as_list(row.get("event_ids")),
        }
    except (KeyError, TypeError, ValueError) as err:
        raise RunnerError("%s: the command returned a row the runner cannot read (%s: %s): %r"
                          % (detection_id, type(err).__name__, err, row))
    if not isinstance(group, dict):
        raise RunnerError("%s: the row's group is not a JSON object: %r" % (detection_id, row["group"]))
    return alert
