"""The ``awssignin`` command line: replay, test, build, lint, deploy, docker."""

import sys
import time

import click
from rich.console import Console

from . import alerts as alert_schema
from . import report
from .cliutil import detections_or_fail as _detections, layout_or_fail as _layout

PLATFORM_CHOICES = ("splunk", "elastic", "all")


def _platforms(choice):
    return ["splunk", "elastic"] if choice == "all" else [choice]


def _ids(text):
    return [i.strip() for i in text.split(",") if i.strip()] if text else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="awssignin")
def main():
    """AWS console sign-in detections for Splunk and Elastic: replay logs, test, build, deploy."""


# -- replay ---------------------------------------------------------------------------------------
@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True,
              help="table: a summary table at the end; jsonl: one alert (DESIGN.md schema) per line as it closes.")
@click.option("--detections", "detection_ids", metavar="ID,...", help="Only these detections.")
@click.option("--platform", type=click.Choice(PLATFORM_CHOICES), default="all", show_default=True,
              help="Whose artefact to run: the Splunk saved search + command logic, the Kibana rule, or both.")
@click.option("--strict", is_flag=True,
              help="Exit non-zero (3) when any record or file was skipped or arrived too late to be used.")
@click.option("--max-lateness", default="1h", show_default=True, metavar="DURATION",
              help="How far out of eventTime order a record may arrive (CloudTrail files are unordered).")
@click.option("--threshold", type=int, help="Override the threshold of the selected detections.")
@click.option("--window", metavar="DURATION", help="Override the window of the selected detections (e.g. 30m).")
@click.option("--show-skips", type=int, default=10, show_default=True, metavar="N",
              help="Print the first N skipped records with their location.")
def replay(paths, fmt, detection_ids, platform, strict, max_lateness, threshold, window, show_skips):
    """Run the detections over CloudTrail logs: files, directories, .gz, NDJSON, or - for stdin."""
    from awssignin.timeutil import parse_duration
    from .replay import Replay

    layout = _layout()
    dets = _detections(layout, _ids(detection_ids))
    err = Console(stderr=True)
    try:
        lateness = parse_duration(max_lateness)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--max-lateness")
    overrides = _overrides(dets, threshold, window)
    collected = []
    shown = []

    def on_alert(alert):
        if fmt == "jsonl":
            click.echo(alert_schema.to_json(alert))
        else:
            collected.append(alert)

    def on_skip(skip):
        if len(shown) < show_skips:
            shown.append(skip)
            err.print("[yellow]skipped[/] %s" % skip, highlight=False, markup=True, soft_wrap=True)

    progress = _progress(err) if err.is_terminal else None
    start = time.perf_counter()
    try:
        job = Replay(layout, dets, _platforms(platform), overrides, lateness, on_alert, on_skip).run(
            list(paths), progress=progress)
    except ValueError as e:
        raise click.ClickException(str(e))
    finally:
        if progress is not None:
            progress.close()
    seconds = time.perf_counter() - start
    if fmt == "table":
        report.alert_table(report.wide_console(), collected)
    _summary(err, job, seconds)
    if strict and (sum(job.skipped.values()) or job.late()):
        sys.exit(3)


def _overrides(dets, threshold, window):
    if threshold is None and window is None:
        return None
    from awssignin.timeutil import parse_duration
    if window is not None:
        try:
            parse_duration(window)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--window")
    out = {}
    for d in dets:
        logic = d.data["logic"]
        entry = {}
        if threshold is not None and "threshold" in logic:
            entry["threshold"] = threshold
        if window is not None and "window" in logic:
            entry["window"] = window
        if entry:
            out[d.id] = entry
    if not out:
        raise click.UsageError("--threshold/--window: none of the selected detections has a threshold or window")
    return out


class _progress(object):
    """A one-line progress display on a terminal: records, skips, rate."""

    def __init__(self, console):
        self.console = console
        self.start = time.perf_counter()
        self.status = console.status("reading...")
        self.status.start()

    def __call__(self, reader):
        secs = max(time.perf_counter() - self.start, 1e-9)
        n = reader.stats["records"]
        self.status.update("%s records, %s skipped, %.0f records/s, %.1f MB read"
                           % (format(n, ","), format(sum(reader.skipped.values()), ","), n / secs,
                              reader.bytes_read / 1e6))

    def close(self):
        self.status.stop()


def _summary(err, job, seconds):
    stats = job.stats()
    n = stats.get("records read", 0)
    err.print("records read: %s in %.1fs (%.0f records/s), files: %s"
              % (format(n, ","), seconds, n / max(seconds, 1e-9), stats.get("files", 0)), highlight=False)
    skipped = sum(job.skipped.values())
    err.print("skipped: %d" % skipped + ("" if not skipped else " (%s)" % ", ".join(
        "%s: %d" % kv for kv in sorted(job.skipped.items()))), highlight=False)
    for key, value in stats.items():
        if key not in ("records read", "files"):
            err.print("%s: %s" % (key, value), highlight=False)
    by = {}
    for (platform, det), count in sorted(job.alerts.items()):
        by.setdefault(platform, []).append("%s %d" % (det, count))
    if not by:
        err.print("alerts: none", highlight=False)
    for platform, items in by.items():
        err.print("alerts (%s): %s" % (platform, ", ".join(items)), highlight=False)


# -- test -----------------------------------------------------------------------------------------
@main.command("test")
@click.argument("ids", nargs=-1)
@click.option("--platform", type=click.Choice(PLATFORM_CHOICES), default="all", show_default=True)
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Also write a JUnit XML report.")
@click.option("-v", "--verbose", is_flag=True, help="Show the alerts of passing tests too.")
def test_cmd(ids, platform, junit, verbose):
    """Run every detection's tests on each platform's local runner and print what fired where."""
    from .testing import run_tests, write_junit

    layout = _layout()
    dets = _detections(layout, list(ids))
    console = report.wide_console()
    start = time.perf_counter()
    outcomes = run_tests(layout, dets, _platforms(platform))
    report.outcome_table(console, outcomes, verbose)
    if junit:
        write_junit(outcomes, junit)
    failed = [o for o in outcomes if o.status != "pass"]
    console.print("%d passed, %d failed" % (len(outcomes) - len(failed), len(failed)), highlight=False)
    console.print("(%d detections, %.1fs)" % (len(dets), time.perf_counter() - start), highlight=False)
    if failed:
        sys.exit(1)


# -- build / lint ---------------------------------------------------------------------------------
@main.command()
@click.option("--dist/--no-dist", default=True, show_default=True,
              help="Also build the distributables under dist/ (Splunk app package, Elastic rules NDJSON).")
def build(dist):
    """Write the generated files (engine table, Splunk confs) and the packages under dist/."""
    from .build import build_dist, write_generated

    layout = _layout()
    dets = _detections(layout)
    console = Console()
    for path, changed in write_generated(layout, dets):
        console.print("%s %s" % ("wrote    " if changed else "unchanged", path.relative_to(layout.root)), highlight=False)
    if dist:
        for path in build_dist(layout, dets):
            console.print("built     %s" % path.relative_to(layout.root), highlight=False)


@main.command()
def lint():
    """Validate every detection file and every generated artefact; non-zero exit on any problem."""
    from .lint import lint_all

    layout = _layout()
    console = Console()
    problems, checked = lint_all(layout)
    for p in problems:
        console.print("[red]error[/] %s" % p, highlight=False)
    console.print("%d detection files checked, %d problem%s" % (checked, len(problems), "" if len(problems) == 1 else "s"),
                  highlight=False)
    if problems:
        sys.exit(1)


def _mount_platform_commands():
    """Commands that live with their platform code."""
    from .containers.cli import docker
    from .elastic.deploy import deploy_elastic

    @main.group()
    def deploy():
        """Deploy the built artefacts to a platform."""

    deploy.add_command(deploy_elastic, "elastic")
    from .versions import version_cli
    main.add_command(version_cli, "version")
    main.add_command(docker, "docker")


_mount_platform_commands()
