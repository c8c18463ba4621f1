"""Tables the CLI prints: test outcomes (local and live) and replay alerts."""

from rich.console import Console
from rich.table import Table

from . import alerts as alert_schema


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
    style = {"pass": "[green]PASS[/]", "fail": "[red]FAIL[/]", "error": "[red]ERROR[/]"}
    for (det, test), by in rows.items():
        cells = []
        for p in platforms:
            o = by.get(p)
            cells.append("-" if o is None else "%s %d" % (style[o.status], len(o.actual)))
        fired = []
        for o in by.values():
            for a in o.actual:
                text = "%s: %d" % (alert_schema.group_text(a["group"]), a["count"])
                if text not in fired:
                    fired.append(text)
        table.add_row(det, test, *cells, "\n".join(fired) or "none")
    console.print(table)
    for o in outcomes:
        if o.status == "pass" and not verbose:
            continue
        console.rule("%s %s: %s" % (o.status.upper(), o.platform, o.detection))
        console.print("test: %s" % o.test, highlight=False)
        console.print("expected:", highlight=False)
        for e in o.expected:
            console.print("  group {%s} events %s" % (alert_schema.group_text(e["group"]), e["event_ids"]), highlight=False)
        if not o.expected:
            console.print("  no alert", highlight=False)
        console.print("actual:", highlight=False)
        for a in o.actual:
            console.print("  group {%s} events %s" % (alert_schema.group_text(a["group"]), a["event_ids"]), highlight=False)
        if not o.actual:
            console.print("  no alert", highlight=False)
        if o.message:
            console.print(o.message, highlight=False, markup=False)


def alert_table(console, alerts):
    table = Table(title="%d alert%s" % (len(alerts), "" if len(alerts) == 1 else "s"), show_lines=False)
    for col in ("platform", "detection", "severity", "first seen", "last seen", "group", "count"):
        table.add_column(col, overflow="fold")
    for a in sorted(alerts, key=alert_schema.sort_key):
        table.add_row(a["platform"], a["detection"], a["severity"], a["first_seen"], a["last_seen"],
                      alert_schema.group_text(a["group"]), str(a["count"]))
    console.print(table)
