#!/usr/bin/env python
"""The ``awssignin`` custom search command: runs the app's detections over CloudTrail sign-in events.

    ... | awssignin detection=<id>[,<id>...] [threshold=<int>] [window=<15m>]

A StreamingCommand configured ``distributed=False``, which splunkd runs as a *stateful* command: one
process on the search head that sees every event of the search (protocol v2, chunked). Splunk hands
events newest first and in chunks, so the detection engine keeps its state on the command instance,
orders events itself, and only at the final chunk (``finished``) emits its alerts: one row per alert.

Only the fields the engine reads are requested (``required_fields``), so splunkd never ships ``_raw``.
A malformed event never aborts the search: it is counted and reported as a warning.

Runs on Splunk's Python 3.9 and 3.13: keep it free of newer syntax.
"""

import os
import sys

LIB_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if LIB_DIR not in sys.path:
    sys.path.insert(0, LIB_DIR)

try:
    from splunklib.searchcommands import Configuration, Option, StreamingCommand, dispatch
except ImportError as _err:  # no protocol is possible without splunklib: say why on stderr (search.log)
    sys.stderr.write("awssignin: cannot import splunklib from %s (%s); the app must ship lib/splunklib "
                     "(run `awssignin build`)\n" % (LIB_DIR, _err))
    sys.exit(1)

from awssignin import catalog  # noqa: E402
from awssignin.engine import Engine  # noqa: E402
from awssignin.normalize import SPLUNK_FIELDS, BadRecord  # noqa: E402
from awssignin.splunkrows import rows_for  # noqa: E402

REQUIRED_FIELDS = list(SPLUNK_FIELDS) + ["_time"]
MAX_REASONS = 5  # skip reasons listed in the warning; the rest are summed up


def parse_ids(text):
    """'a, b,a' -> ['a', 'b'] (order kept, duplicates dropped). Raises ValueError when empty."""
    ids = []
    for part in (text or "").split(","):
        part = part.strip()
        if part and part not in ids:
            ids.append(part)
    if not ids:
        raise ValueError("detection= needs at least one detection id, like detection=root_console_login")
    return ids


def build_engine(detection, threshold=None, window=None, table=None):
    """The engine for the ``detection=`` ids with the optional overrides. Raises ValueError with a
    message meant for the search's user."""
    ids = parse_ids(detection)
    try:
        specs = catalog.load(table) if table else catalog.load()
    except (OSError, ValueError, KeyError) as err:
        raise ValueError("cannot read the detection table %s (%s); rebuild the app with `awssignin build`"
                         % (table or catalog.TABLE, err))
    specs = catalog.select(specs, ids)
    params = {}
    if threshold is not None:
        params["threshold"] = threshold
    if window is not None:
        params["window"] = window
    overrides = dict((i, params) for i in ids) if params else None
    return Engine(specs, overrides=overrides, max_lateness=None, platform="splunk")


def skip_summary(skipped, events):
    """{'eventTime: missing': 2, ...} -> 'skipped 3 of 120 events that could not be read: eventTime: missing (2), ...'."""
    total = sum(skipped.values())
    reasons = sorted(skipped.items(), key=lambda kv: (-kv[1], kv[0]))
    text = ", ".join("%s (%d)" % kv for kv in reasons[:MAX_REASONS])
    rest = reasons[MAX_REASONS:]
    if rest:
        text += ", %d more events for %d other reasons" % (sum(n for _, n in rest), len(rest))
    return "awssignin: skipped %d of %d event%s that could not be read: %s" % (
        total, events, "" if events == 1 else "s", text)


def _literal(text):
    # splunklib runs str.format on message text: braces (field names like resources{}.ARN) must be doubled
    return text.replace("{", "{{").replace("}", "}}")


@Configuration(distributed=False, required_fields=REQUIRED_FIELDS)
class AwsSigninCommand(StreamingCommand):
    """Runs awssignin detections over sign-in events and returns one row per alert."""

    detection = Option(require=True, doc="Comma-separated detection ids, e.g. detection=root_console_login")
    threshold = Option(require=False, doc="Override the detection's threshold (threshold detections only)")
    window = Option(require=False, doc="Override the detection's window, like 15m (correlations only)")

    def __init__(self):
        StreamingCommand.__init__(self)
        self.engine = None
        self.skipped = {}
        self.events = 0
        self.done = False

    def prepare(self):
        # Runs during getinfo: a bad argument is reported before any event is read.
        if self.fieldnames:
            self.error_exit(ValueError(self.fieldnames), _literal(
                "awssignin: unexpected argument(s) %s; usage: awssignin detection=<id>[,<id>...] "
                "[threshold=<int>] [window=<15m>]" % " ".join(self.fieldnames)))
        try:
            self.engine = build_engine(self.detection, self.threshold, self.window)
        except ValueError as err:
            self.error_exit(err, _literal("awssignin: %s" % err))

    def stream(self, records):
        feed = self.engine.feed_splunk
        skipped = self.skipped
        count = 0
        for record in records:
            count += 1
            try:
                feed(record)
            except BadRecord as err:
                reason = str(err)
                skipped[reason] = skipped.get(reason, 0) + 1
        self.events += count
        # A stateful command answers every chunk but has nothing to say until the last one.
        if self.done or not getattr(self.metadata, "finished", False):
            return
        self.done = True
        alerts = self.engine.finish()
        if skipped:
            self.write_warning(_literal(skip_summary(skipped, self.events)))
        duplicates = self.engine.stats.get("duplicates", 0)
        if duplicates:
            self.write_info("awssignin: ignored %d event(s) whose eventID was already seen" % duplicates)
        names = []
        for det in self.engine.detections:
            names.extend(det.logic["group_by"])
        for row in rows_for(alerts, names):
            yield row


dispatch(AwsSigninCommand, sys.argv, sys.stdin, sys.stdout, __name__)
