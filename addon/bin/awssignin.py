#!/usr/bin/env python
"""The ``awssignin`` custom search command: runs the app's detections over CloudTrail sign-in events.

    ... | awssignin detection=<id>[,<id>...] [threshold=<int>] [window=<15m>] [output=baseline]

A transforming command: it reads events and returns new rows, one per alert. Over protocol v2
("chunked") that is getinfo ``type: reporting`` (a ReportingCommand with a ``reduce`` and no ``map``)
and **no** ``streaming_preop``: splunkd then runs it once, on the search head, over every event of
the search, and its rows replace the events. Streaming and stateful commands are the wrong type: with
``required_fields`` splunkd merges their output back onto the events by ``_chunked_idx``, which alert
rows do not have (evidence in harness/splunk/scp.py and tests/splunk/test_scp.py). Splunk hands
events newest first and in chunks, so the engine keeps its state on the command instance, orders
events itself, and only at the final chunk (``finished``) emits its alerts.

A new_terms detection (``login_new_country_for_user``) also reads its baseline: rows of its KV store
lookup that ``inputlookup append=true`` put among the events, told apart by ``baseline_group``
(awssignin/baseline.py). ``output=baseline`` returns the merged baseline instead of alerts, for the
baseline search's ``outputlookup`` (harness/splunk/baselinesearch.py).

Only the fields the engine reads are requested (``required_fields``), so splunkd never ships ``_raw``.
A malformed event never aborts the search: it is skipped, counted and reported in one warning.
Bad options are refused at getinfo, before any event is read.

Runs on Splunk's Python 3.9 and 3.13: keep it free of newer syntax.
"""

import csv
import os
import sys

LIB_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib")
if LIB_DIR not in sys.path:
    sys.path.insert(0, LIB_DIR)

try:
    from splunklib.searchcommands import Configuration, Option, ReportingCommand, dispatch
except ImportError as _err:  # no protocol is possible without splunklib: say why on stderr (search.log)
    sys.stderr.write("awssignin: cannot import splunklib from %s (%s); the app must ship lib/splunklib "
                     "(run `awssignin build`)\n" % (LIB_DIR, _err))
    sys.exit(1)

from awssignin import baseline, catalog, newbursts  # noqa: E402
from awssignin.engine import Engine  # noqa: E402
from awssignin.normalize import SPLUNK_FIELDS, BadRecord  # noqa: E402
from awssignin.splunkrows import rows_for  # noqa: E402
from awssignin.timeutil import format_duration, parse_duration  # noqa: E402

# _indextime: indexed_within= (newbursts); baseline_*: the rows of a new_terms detection's baseline lookup
REQUIRED_FIELDS = list(SPLUNK_FIELDS) + ["_time", "_indextime"] + list(baseline.SEED_FIELDS)
USAGE = ("usage: awssignin detection=<id>[,<id>...] [threshold=<int>] [window=<15m>] [indexed_within=<10m>] "
         "[output=alerts|baseline]")
OUTPUTS = ("alerts", "baseline")
MAX_REASONS = 5  # skip reasons listed in the warning; the rest are summed up
MAX_REASON_CHARS = 160  # an error's text quoted in the warning, cut beyond this
# Sane ranges for the overrides: a detection's threshold counts events of one search, a window is a
# correlation span (the shipped ones are minutes to an hour) or a new_terms history (30 days); beyond
# these a value is a typo, and a 400-digit window would overflow the engine's time arithmetic mid-search.
MAX_THRESHOLD = 1000000
MAX_WINDOW_SECONDS = 366 * 86400
MAX_OPTION_CHARS = 40  # longer option values are refused before any number is parsed
# One field value larger than this makes the event unreadable. CloudTrail itself caps the parameter
# and response blocks of a record at 100 KB (record contents reference,
# https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
# so no field the engine reads comes near 1 MiB; the bound keeps a pathological value out of alert rows.
MAX_VALUE_CHARS = 1 << 20
# splunklib parses each chunk with the csv module (search_command.py, _read_csv_records) whose default
# field limit (128 KiB) ends the whole search with "_csv.Error: field larger than field limit". The
# command lifts the limit to the size of the chunk being parsed: no field can be larger than the chunk
# that carries it, and splunkd already sized the chunk.
NUL_BREAKS_CSV = sys.version_info < (3, 11)  # csv refuses NUL characters before Python 3.11


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


def _shown(value):
    text = str(value)
    if len(text) <= MAX_OPTION_CHARS:
        return repr(text)
    return "%r... (%d characters)" % (text[:MAX_OPTION_CHARS], len(text))


def checked_threshold(value):
    """The threshold= text as an int within 1..MAX_THRESHOLD. Raises ValueError for the user."""
    text = str(value).strip()
    if len(text) > MAX_OPTION_CHARS or not text.isdigit() or not text.isascii():
        raise ValueError("threshold must be a whole number from 1 to %d, not %s" % (MAX_THRESHOLD, _shown(value)))
    number = int(text)
    if not 1 <= number <= MAX_THRESHOLD:
        raise ValueError("threshold must be a whole number from 1 to %d, not %s" % (MAX_THRESHOLD, _shown(value)))
    return number


def checked_window(value):
    """The window= text as a duration string within 1s..MAX_WINDOW_SECONDS. Raises ValueError."""
    text = str(value).strip()
    limit = format_duration(MAX_WINDOW_SECONDS)
    if len(text) > MAX_OPTION_CHARS:
        raise ValueError("window must be a duration like 15m of at most %s, not %s" % (limit, _shown(value)))
    try:
        seconds = parse_duration(text)
    except ValueError as err:
        raise ValueError("window: %s" % err)
    if seconds > MAX_WINDOW_SECONDS:
        raise ValueError("window must be at most %s, not %s" % (limit, _shown(value)))
    return text


def repeated_options(args):
    """Option names given more than once in the command's arguments (splunklib keeps only the last)."""
    seen, repeated = set(), []
    for arg in args or ():
        name, equals, _ = str(arg).partition("=")
        if not equals:
            continue
        if name in seen and name not in repeated:
            repeated.append(name)
        seen.add(name)
    return repeated


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
        params["threshold"] = checked_threshold(threshold)
    if window is not None:
        params["window"] = checked_window(window)
    overrides = dict((i, params) for i in ids) if params else None
    return Engine(specs, overrides=overrides, max_lateness=None, platform="splunk")


def skip_reason(err):
    """The warning's text for one event the engine could not read."""
    if isinstance(err, BadRecord):
        return str(err)  # names the field: 'eventTime: missing'
    text = "%s: %s" % (type(err).__name__, err)
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "..."


def oversized_field(record):
    """The name of the first field whose value is longer than MAX_VALUE_CHARS, else None."""
    for name, value in record.items():
        if value.__class__ is list:
            if sum(len(v) for v in value) > MAX_VALUE_CHARS:
                return name
        elif len(value) > MAX_VALUE_CHARS:
            return name
    return None


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


def writable_rows(alerts, names):
    """(rows, {reason: count}) for the alerts; an alert that cannot be written as a row (a time that
    does not format back) is left out and counted instead of costing every other alert."""
    try:
        return rows_for(alerts, names), {}
    except (ValueError, OverflowError, TypeError):
        pass
    good, lost = [], {}
    for alert in alerts:
        try:
            rows_for([alert], names)
        except (ValueError, OverflowError, TypeError) as err:
            reason = skip_reason(err)
            lost[reason] = lost.get(reason, 0) + 1
        else:
            good.append(alert)
    return rows_for(good, names), lost


def _literal(text):
    # splunklib runs str.format on message text: braces (field names like resources{}.ARN) must be doubled
    return text.replace("{", "{{").replace("}", "}}")


@Configuration(required_fields=REQUIRED_FIELDS)
class AwsSigninCommand(ReportingCommand):
    """Runs awssignin detections over sign-in events and returns one row per alert."""

    # ReportingCommand's own phase= option selects map or reduce; this command has no map, so the
    # option is withdrawn (a plain attribute is no Option) and phase=map is an unknown option.
    phase = "reduce"

    detection = Option(require=True, doc="Comma-separated detection ids, e.g. detection=root_console_login")
    threshold = Option(require=False, doc="Override the detection's threshold (threshold detections only)")
    window = Option(require=False, doc="Override the detection's window, like 15m (correlations only)")
    indexed_within = Option(require=False, doc="Only alerts new among the events indexed within this span "
                                               "before the search's latest time, like 10m (scheduled correlations)")
    output = Option(require=False, doc="alerts (default), or baseline: the merged baseline of new_terms "
                                       "detections, for outputlookup")

    def __init__(self):
        ReportingCommand.__init__(self)
        self.engine = None
        self.skipped = {}
        self.events = 0
        self.done = False
        self.large_chunk = False

    def prepare(self):
        # Runs during getinfo: a bad argument is reported before any event is read. Deliberately not
        # ReportingCommand.prepare, which would declare a streaming_preop ('awssignin phase="map" ...'):
        # splunkd would then run a map phase this command does not have, on the indexers.
        problems = []
        if self.fieldnames:
            problems.append("unexpected argument(s) %s" % " ".join(self.fieldnames))
        for name in repeated_options(self.metadata.searchinfo.args):
            hint = " (list several detections in one: detection=a,b)" if name == "detection" else ""
            problems.append("%s= is given more than once; give it once%s" % (name, hint))
        if self.output is not None and self.output not in OUTPUTS:
            problems.append("output must be alerts or baseline, not %s" % _shown(self.output))
        if self.output == "baseline" and self.indexed_within is not None:
            problems.append("output=baseline returns the whole baseline: indexed_within= does not apply")
        if not problems:
            try:
                self.engine = build_engine(self.detection, self.threshold, self.window)
                if self.indexed_within is not None:  # lateness budget: awssignin/newbursts.py
                    self.engine = newbursts.for_search(
                        lambda: build_engine(self.detection, self.threshold, self.window),
                        self.indexed_within, self.metadata.searchinfo.latest_time)
            except ValueError as err:
                problems.append(str(err))
        if problems:
            message = "awssignin: %s; %s" % ("; ".join(problems), USAGE)
            self.error_exit(ValueError(message), _literal(message))

    def _execute_chunk_v2(self, process, chunk):
        # See the field-limit note at MAX_VALUE_CHARS: splunklib's reader must never stop mid-chunk.
        metadata, body = chunk
        if len(body) >= csv.field_size_limit():
            csv.field_size_limit(len(body) + 1)
        if NUL_BREAKS_CSV and "\x00" in body:
            # "_csv.Error: line contains NUL" would end the search; U+FFFD keeps the event readable
            chunk = (metadata, body.replace("\x00", "\ufffd"))
        self.large_chunk = len(body) > MAX_VALUE_CHARS  # only then can one value exceed the bound
        return ReportingCommand._execute_chunk_v2(self, process, chunk)

    def reduce(self, records):
        feed = self.engine.feed_splunk
        skipped = self.skipped
        check_size = self.large_chunk
        count = 0
        for record in records:
            count += 1
            if check_size:
                name = oversized_field(record)
                if name is not None:
                    reason = "%s: longer than %d characters" % (name, MAX_VALUE_CHARS)
                    skipped[reason] = skipped.get(reason, 0) + 1
                    continue
            try:
                if "baseline_group" in record and baseline.is_seed(record):
                    baseline.seed(self.engine, record)
                else:
                    feed(record)
            except (ValueError, OverflowError, TypeError) as err:  # BadRecord is a ValueError
                reason = skip_reason(err)
                skipped[reason] = skipped.get(reason, 0) + 1
        self.events += count
        # Collect until the final chunk: the alerts depend on every event of the search.
        if self.done or not getattr(self.metadata, "finished", False):
            return
        self.done = True
        alerts = self.engine.finish()
        if self.output == "baseline":
            alerts = []
        if skipped:
            self.write_warning(_literal(skip_summary(skipped, self.events)))
        duplicates = self.engine.stats.get("duplicates", 0)
        if duplicates:
            self.write_info("awssignin: ignored %d event(s) whose eventID was already seen" % duplicates)
        names = []
        for det in self.engine.detections:
            names.extend(det.logic["group_by"])
        rows, lost = writable_rows(alerts, names)
        if lost:
            self.write_warning(_literal("awssignin: %d alert(s) could not be written as rows and are missing: %s"
                                        % (sum(lost.values()), ", ".join("%s (%d)" % kv for kv in sorted(lost.items())))))
        if self.output == "baseline":
            rows = baseline.baseline_rows(self.engine)
        for row in rows:
            yield row


dispatch(AwsSigninCommand, sys.argv, sys.stdin, sys.stdout, __name__)
