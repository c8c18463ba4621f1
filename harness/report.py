"""Tables the CLI prints: test outcomes (local and live) and replay alerts."""

import re

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from . import alerts as alert_schema
from .geoip import NOT_EVALUATED

# C0 and C1 control characters, DEL, and lone surrogates (which no encoder writes): shown as
# escapes, so record content never moves the cursor, recolours the terminal or crashes the output
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
# alerts per table: the table is printed in batches as alerts close, never held whole
ALERT_BATCH = 50


def _escaped(match):
    code = ord(match.group())
    return "\\x%02x" % code if code < 0x100 else "\\u%04x" % code


def plain(value, lines=False):
    """Record content as inert text: control characters and lone surrogates escaped (``lines``:
    except newlines, for multi-line messages of our own that quote record content)."""
    if lines:
        return "\n".join(_UNSAFE.sub(_escaped, part) for part in ("%s" % (value,)).split("\n"))
    return _UNSAFE.sub(_escaped, "%s" % (value,))


def markup_safe(value):
    """Record content for a string that is printed with markup on: ``plain`` and markup-escaped."""
    return escape(plain(value))


def wide_console():
    """stdout; when it is not a terminal, wide enough that tables stay readable in CI logs."""
    console = Console()
    return console if console.is_terminal else Console(width=200)


def outcome_table(console, outcomes, verbose):
    """One row per test: each platform's result side by side, and the groups that fired."""
    rows = {}
    for o in outcomes:
        rows.setdefault((o.detection, o.test), {})[o.platform] = o
    platforms = [p for p in ("splunk", "elastic") if any(p in r for r in rows.values())]
    table = Table(show_lines=False)
    for col in ["detection", "test"] + platforms + ["fired (group: events)"]:
        table.add_column(col, overflow="fold")
    style = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]", "error": "[red]ERROR[/]",
             NOT_EVALUATED: "[yellow]NOT EVALUATED[/]"}
    for (det, test), by in rows.items():
        cells = []
        for p in platforms:
            o = by.get(p)
            cells.append("-" if o is None else style[o.status] if o.status == NOT_EVALUATED
                         else "%s %d" % (style[o.status], len(o.actual)))
        fired = []
        for o in by.values():
            for a in o.actual:
                text = "%s: %d" % (alert_schema.group_text(a["group"]), a["count"])
                if text not in fired:
                    fired.append(text)
        evaluated = any(o.status != NOT_EVALUATED for o in by.values())
        table.add_row(Text(plain(det)), Text(plain(test)), *cells,
                      Text("\n".join(plain(f) for f in fired) or ("none" if evaluated else "-")))
    console.print(table)
    for o in outcomes:
        if o.status == "pass" and not verbose:
            continue
        console.rule(markup_safe("%s %s: %s" % (o.status.upper(), o.platform, o.detection)))
        console.print(plain("test: %s" % o.test), highlight=False, markup=False)
        if o.status == NOT_EVALUATED:    # nothing ran: no "actual" to show
            console.print(plain(o.message, lines=True), highlight=False, markup=False)
            continue
        console.print("expected:", highlight=False)
        for e in o.expected:
            console.print(plain("  group {%s} events %s" % (alert_schema.group_text(e["group"]), e["event_ids"])),
                          highlight=False, markup=False)
        if not o.expected:
            console.print("  no alert", highlight=False)
        console.print("actual:", highlight=False)
        for a in o.actual:
            console.print(plain("  group {%s} events %s" % (alert_schema.group_text(a["group"]), a["event_ids"])),
                          highlight=False, markup=False)
        if not o.actual:
            console.print("  no alert", highlight=False)
        if o.message:
            console.print(plain(o.message, lines=True), highlight=False, markup=False)


def alert_table(console, alerts):
    """All of ``alerts`` as tables of ALERT_BATCH rows, in alert order."""
    table = AlertTable(console)
    for a in sorted(alerts, key=alert_schema.sort_key):
        table.add(a)
    table.close()


class AlertTable(object):
    """Alerts printed as they close, ALERT_BATCH rows per table: memory holds one batch. Every
    cell is a ``Text`` of ``plain`` content, so no record value is read as markup."""

    COLUMNS = ("platform", "detection", "severity", "first seen", "last seen", "group", "count")

    def __init__(self, console, batch=ALERT_BATCH):
        self.console = console
        self.batch = batch
        self.rows = []
        self.printed = 0

    def add(self, a):
        self.rows.append([Text(plain(v)) for v in (
            a["platform"], a["detection"], a["severity"], a["first_seen"], a["last_seen"],
            alert_schema.group_text(a["group"]), a["count"])])
        if len(self.rows) >= self.batch:
            self.flush()

    def flush(self):
        if not self.rows:
            return
        first = self.printed + 1
        self.printed += len(self.rows)
        title = "alert %d" % first if first == self.printed else "alerts %d-%d" % (first, self.printed)
        table = Table(title=title, show_lines=False)
        for col in self.COLUMNS:
            table.add_column(col, overflow="fold")
        for row in self.rows:
            table.add_row(*row)
        self.rows = []
        self.console.print(table)

    def close(self):
        self.flush()
        if not self.printed:
            self.console.print("no alerts", highlight=False)
