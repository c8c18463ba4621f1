"""``awssignin tune``: compile a site tuning file; helpers ``test``/``replay`` use for ``--tuning``."""

import json
import sys

import click

from ..cliutil import detections_or_fail, layout_or_fail

TUNING_HELP = ("A site tuning file (allowlists, parameters; docs/tuning.md), applied the way each "
               "platform applies it.")


def load_or_fail(path, detections=None):
    """The validated tuning file, or a clear error (file, line, field) and exit 1. It is checked
    against every detection of the pack (``detections`` by default), also when a command runs a few."""
    from .model import TuningError, load
    everything = detections_or_fail(layout_or_fail())
    try:
        return load(path, everything)
    except TuningError as err:
        raise click.ClickException(str(err))


def test_tuning(layout, path, detections):
    """The ``awssignin test --tuning`` companion: None without a file."""
    if not path:
        return None
    from .apply import TestRunTuning
    from .localconf import LocalConfError
    tuning = load_or_fail(path, detections)
    try:
        return TestRunTuning(layout, tuning, detections)
    except (LocalConfError, ValueError) as err:
        raise click.ClickException(str(err))


def print_test_summary(console, tested):
    """What the tuning removed, per test and per entry (events and alerts), after the outcome table."""
    from rich.table import Table

    from ..report import markup_safe as safe
    from .apply import summary_rows
    if tested is None:
        return
    table = Table(title="tuning %s: what it removed, per test" % safe(tested.tuning.path))
    for col in ("detection", "test", "platform", "alerts untuned", "alerts tuned", "events removed by entry"):
        table.add_column(col, overflow="fold")
    for det, test, platform, before, after, events, _ in sorted(tested.rows):
        table.add_row(safe(det), safe(test), platform, str(before), str(after),
                      safe(", ".join("%s: %d" % kv for kv in sorted(events.items())) or "-"))
    console.print(table)
    totals = Table(title="tuning: totals per allowlist entry")
    for col in ("platform", "entry", "events removed", "alerts removed"):
        totals.add_column(col, overflow="fold")
    for platform, label, events, alerts in summary_rows(tested.events, tested.alerts):
        totals.add_row(platform, safe(label), str(events), str(alerts))
    console.print(totals)


@click.group()
def tune():
    """Compile a site tuning file to each platform's own mechanism."""


@tune.command("splunk")
@click.option("--tuning", "path", required=True, type=click.Path(exists=True, dir_okay=False), help=TUNING_HELP)
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="The app's local/ directory (or a copy of it) to merge macros.conf and savedsearches.conf into.")
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 when the files differ from the tuning (after an upgrade of the pack, in CI).")
def tune_splunk(path, out_dir, check):
    """Merge allowlist macros and tuned saved searches into a Splunk app's local/ (never default/)."""
    from .localconf import LocalConfError
    from .splunk import write_local

    layout = layout_or_fail()
    dets = detections_or_fail(layout)
    tuning = load_or_fail(path, dets)
    try:
        written = write_local(tuning, dets, out_dir, write=not check)
    except (LocalConfError, ValueError) as err:
        raise click.ClickException(str(err))
    for conf, changed in written:
        click.echo("%s %s" % (("differs  " if check else "wrote    ") if changed else "unchanged", conf))
    if check and any(changed for _, changed in written):
        sys.exit(1)


@tune.command("elastic")
@click.option("--tuning", "path", required=True, type=click.Path(exists=True, dir_okay=False), help=TUNING_HELP)
@click.option("--out", "out_file", type=click.Path(dir_okay=False, writable=True),
              help="Write the plan here instead of stdout.")
def tune_elastic(path, out_file):
    """Print the exception lists, items and rule fields the tuning needs on Kibana (JSON)."""
    from .elastic import elastic_plan

    layout = layout_or_fail()
    dets = detections_or_fail(layout)
    plan = elastic_plan(load_or_fail(path, dets), dets)
    text = json.dumps(plan, indent=2, sort_keys=True) + "\n"
    if out_file:
        with open(out_file, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo("wrote %s (%d lists, %d items)" % (out_file, len(plan["lists"]), len(plan["items"])))
    else:
        sys.stdout.write(text)
