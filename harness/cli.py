"""The ``awssignin`` command line: replay, test, build, lint, deploy, docker."""

import sys
import time
from collections import Counter

import click
from rich.console import Console

from . import alerts as alert_schema
from . import geoip, report
from .input.errors import InputError
from .input.options import reader_options
from .cliutil import detections_or_fail as _detections, layout_or_fail as _layout

PLATFORM_CHOICES = ("splunk", "elastic", "all")


def _platforms(choice):
    return ["splunk", "elastic"] if choice == "all" else [choice]


def _ids(text):
    return [i.strip() for i in text.split(",") if i.strip()] if text else None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="awssignin")
@click.option("--project", "project_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="The project whose detections to use (default: $AWSSIGNIN_ROOT, else the checkout this "
                   "harness is installed from; never the current directory).")
def main(project_dir):
    """AWS console sign-in detections for Splunk and Elastic: replay logs, test, build, deploy."""
    from .project import ProjectNotFound, use_project
    try:
        use_project(project_dir)
    except ProjectNotFound as e:
        raise click.BadParameter(str(e), param_hint="--project")


# -- replay ---------------------------------------------------------------------------------------
EXIT_NOT_READ = 3
EXIT_CHANGED = 4


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "jsonl"]), default="table", show_default=True,
              help="table: alerts in tables of %d rows as they close; jsonl: one alert (DESIGN.md schema) "
                   "per line on stdout as it closes. The summary goes to stderr." % report.ALERT_BATCH)
@click.option("--detections", "detection_ids", metavar="ID,...", help="Only these detections.")
@click.option("--platform", type=click.Choice(PLATFORM_CHOICES), default="all", show_default=True,
              help="Whose artefact to run: the Splunk saved search + command logic, the Kibana rule, or both.")
@click.option("--strict", is_flag=True,
              help="Exit 3 when any record was not read: a skipped record or file, a record a platform "
                   "could not use, or a correlation candidate that could not be sorted. Every NDJSON "
                   "line is parsed (no prefilter), so any damaged line counts.")
@click.option("--max-lateness", default="1h", show_default=True, metavar="DURATION",
              help="Memory, not alerts: how far behind the newest record a correlation candidate is held "
                   "in memory before it is sorted on disk. Alerts never depend on input order.")
@click.option("--threshold", type=click.IntRange(1, 10 ** 9), help="Override the threshold of the selected detections.")
@click.option("--window", metavar="DURATION", help="Override the window of the selected detections (e.g. 30m).")
@click.option("--show-skips", type=click.IntRange(0, 10 ** 9), default=10, show_default=True, metavar="N",
              help="Print the first N skipped records with their location.")
@click.option("--compare", "compare_rev", metavar="REV",
              help="Also run the detections of git revision REV (with this working tree's engine) over the "
                   "same records and print the alerts that appear, disappear or change, instead of the alerts.")
@click.option("--fail-on-change", is_flag=True, help="With --compare: exit 4 when any alert differs.")
@click.option("--tuning", "tuning_file", type=click.Path(exists=True, dir_okay=False), help="Apply this site tuning file the way each platform applies it.")
@click.option("--geoip", "geoip_files", multiple=True, metavar="FILE", help=geoip.CLI_HELP)
@reader_options
def replay(paths, fmt, detection_ids, platform, strict, max_lateness, threshold, window, show_skips,
           compare_rev, fail_on_change, tuning_file, reader_options, geoip_files):
    """Run the detections over CloudTrail logs: files, directories, .gz, NDJSON, or - for stdin.

    Exit status: 0 done; 1 an error; 2 a usage error; 3 with --strict, some record was not read
    (the summary says which and where); 4 with --compare and --fail-on-change, some alert differs.
    """
    from awssignin.timeutil import parse_duration
    from .alertsummary import AlertSummary
    from .replay import Replay

    if fail_on_change and not compare_rev:
        raise click.UsageError("--fail-on-change needs --compare REV")
    try:
        lateness = parse_duration(max_lateness)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--max-lateness")
    layout = _layout()
    ids = _ids(detection_ids)
    dets = _detections(layout, ids)
    tuning = _tuning(tuning_file, dets)
    err = Console(stderr=True)
    overrides = _overrides(dets, threshold, window)
    summary = AlertSummary()
    shown = []
    table = report.AlertTable(report.wide_console()) if fmt == "table" and not compare_rev else None
    revision = diff = None
    if compare_rev:
        from .compare import AlertDiff, CompareError, Revision
        from .detections import DetectionError
        try:
            revision = Revision(layout, compare_rev, ids)
        except (CompareError, DetectionError, ValueError, OSError) as e:
            raise click.ClickException("--compare %s: %s" % (compare_rev, e))
        diff = AlertDiff()

    def on_alert(alert):
        if diff is not None:
            diff.add(alert, "after")
        summary.add(alert)
        if diff is not None:
            return
        if table is not None:
            table.add(alert)
        else:
            click.echo(alert_schema.to_json(alert))

    def on_skip(skip):
        if len(shown) < show_skips:
            shown.append(skip)
            err.print("[yellow]skipped[/] %s" % report.markup_safe(skip), highlight=False, soft_wrap=True)

    progress = _progress(err) if err.is_terminal else None
    start = time.perf_counter()
    geo_run = _geoip_run(geoip_files)
    geo = geo_run.__enter__()
    dets, no_geo = _geo_evaluable(dets, geo)
    variants = [(compare_rev, revision.layout, _geo_evaluable(revision.detections, geo)[0])] if revision else []
    try:
        job = Replay(layout, dets, _platforms(platform), overrides, lateness, on_alert, on_skip,
                     variants=variants, tuning=tuning,
                     on_variant_alert=lambda _, alert: diff.add(alert, "before"),
                     reader_options=reader_options, prefilter=not strict).run(list(paths), progress=progress)
    except InputError as e:  # a missing path, a bad s3:// URL or --since, no boto3: before any record
        raise click.UsageError(str(e))
    except ValueError as e:
        raise click.ClickException(str(e))
    finally:
        geo_run.__exit__(None, None, None)
        if progress is not None:
            progress.close()
        if revision is not None:
            revision.close()
    seconds = time.perf_counter() - start
    if table is not None:
        table.close()
    changes = _print_changes(fmt, diff, compare_rev, revision) if diff is not None else []
    _summary(err, job, seconds, summary)
    if geo is not None and any(geoip.detection_needs_geo(d) for d in dets):
        err.print(report.markup_safe("GeoIP: %s" % geo.source), highlight=False, soft_wrap=True)
    if no_geo:
        err.print(report.markup_safe("not evaluated (no GeoIP database: --geoip FILE or $%s): %s"
                                     % (geoip.ENV, ", ".join(d.id for d in no_geo))), highlight=False, soft_wrap=True)
    if changes or diff is not None:
        counts = Counter(kind for kind, _, _ in changes)
        err.print(report.markup_safe("compared with %s (%s): %d appear, %d disappear, %d change"
                                     % (compare_rev, revision.commit[:12], counts["appears"],
                                        counts["disappears"], counts["changes"])), highlight=False)
    if strict and job.not_read():
        sys.exit(EXIT_NOT_READ)
    if fail_on_change and changes:
        sys.exit(EXIT_CHANGED)


def _print_changes(fmt, diff, rev, revision):
    from .compare import change_json, change_lines
    changes = diff.changes()
    if fmt == "jsonl":
        for change in changes:
            click.echo(change_json(change))
        return changes
    console = report.wide_console()
    current = None
    for change in changes:
        alert = change[2] or change[1]
        if alert["detection"] != current:
            current = alert["detection"]
            console.rule(report.markup_safe(current))
        for line in change_lines(change):
            console.print(report.plain(line), highlight=False, markup=False, soft_wrap=True)
    if not changes:
        console.print(report.markup_safe("no alert differs from %s" % rev), highlight=False)
    return changes


def _geoip_run(files, fixtures_dir=None):
    """harness.geoip.for_run, with a usage error naming the file that cannot be used."""
    import contextlib

    @contextlib.contextmanager
    def run():
        try:
            manager = geoip.for_run(files, fixtures_dir)
            geo = manager.__enter__()
        except geoip.GeoIPError as e:
            if not files and not geoip.paths_from_env():   # the fixture table's database
                raise click.ClickException(str(e))
            raise click.BadParameter(str(e), param_hint="--geoip / $%s" % geoip.ENV)
        try:
            yield geo
        finally:
            manager.__exit__(None, None, None)
    return run()


def _geo_evaluable(dets, geo):
    """(detections to run, detections not evaluated for want of a GeoIP database)."""
    if geo is not None:
        return list(dets), []
    return ([d for d in dets if not geoip.detection_needs_geo(d)],
            [d for d in dets if geoip.detection_needs_geo(d)])


def _tuning(path, dets):
    if not path:
        return None
    from .tuning.cli import load_or_fail
    return load_or_fail(path, dets)


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
                              reader.bytes_read / 1e6)
                           + ("; " + reader.s3.progress(secs) if getattr(reader, "s3", None) else ""))

    def close(self):
        self.status.stop()


def _summary(err, job, seconds, alerts):
    stats = job.stats()
    say = lambda text: err.print(report.markup_safe(text), highlight=False, soft_wrap=True)
    n = stats.get("records read", 0)
    say("records read: %s in %.1fs (%.0f records/s), files: %s"
        % (format(n, ","), seconds, n / max(seconds, 1e-9), stats.get("files", 0)))
    say("validated: %s; not validated: %s (no detection's predicate can hold on their eventSource and "
        "eventName, so none can alert on them)"
        % (format(stats.get("validated", 0), ","), format(stats.get("not validated", 0), ",")))
    if stats.get("lines not parsed"):
        say("NDJSON lines not parsed: %s (whole objects holding none of the eventSource/eventName values the "
            "detections pin; --strict parses every line)" % format(stats["lines not parsed"], ","))
    skipped = sum(job.skipped.values())
    say("skipped: %d" % skipped + ("" if not skipped else " (%s)" % ", ".join(
        "%s: %d" % kv for kv in sorted(job.skipped.items()))))
    platform_skips = job.platform_skips()
    if platform_skips:
        say("accepted but not usable by a platform: %s" % ", ".join(
            "%s %s: %d" % (p, k, v) for (p, k), v in sorted(platform_skips.items())))
    ordering = ", ".join("%s %s" % (k[len("ordered "):], format(v, ",")) for k, v in stats.items()
                         if k.startswith("ordered "))
    if ordering:
        say("correlation ordering: %s" % ordering)
    if job.unplaced():
        say("not placed in order (not evaluated by any correlation): %d, first at %s (%s)" % (
            job.unplaced(), ", ".join(job.sorter.unplaced_locations), job.sorter.error))
    for key, value in stats.items():
        if key in ("records read", "files", "validated", "not validated", "lines not parsed") \
                or key.startswith("ordered "):
            continue
        say("%s: %s" % (key, value))
    for line in alerts.lines():
        say(line)


# -- test -----------------------------------------------------------------------------------------
@main.command("test")
@click.argument("ids", nargs=-1)
@click.option("--platform", type=click.Choice(PLATFORM_CHOICES), default="all", show_default=True)
@click.option("--junit", type=click.Path(dir_okay=False, writable=True), help="Also write a JUnit XML report.")
@click.option("-v", "--verbose", is_flag=True, help="Show the alerts of passing tests too.")
@click.option("--tuning", "tuning_file", type=click.Path(exists=True, dir_okay=False), help="Also run every test with this site tuning file and show what it removes.")
@click.option("--geoip", "geoip_files", multiple=True, metavar="FILE",
              help=geoip.CLI_HELP + " Without either, a database built from detections/fixtures/geoip.csv "
                   "(needs mmdb-writer, the test extra); else the geo detections are not evaluated.")
def test_cmd(ids, platform, junit, verbose, tuning_file, geoip_files):
    """Run every detection's tests on each platform's local runner and print what fired where."""
    from .testing import run_tests, write_junit

    layout = _layout()
    dets = _detections(layout, list(ids))
    console = report.wide_console()
    start = time.perf_counter()
    from .tuning.cli import print_test_summary, test_tuning
    tuned = test_tuning(layout, tuning_file, dets)
    with _geoip_run(geoip_files, layout.fixtures) as geo:
        outcomes = run_tests(layout, dets, _platforms(platform), tuning=tuned)
    report.outcome_table(console, outcomes, verbose)
    print_test_summary(console, tuned)
    if junit:
        write_junit(outcomes, junit)
    skipped = [o for o in outcomes if o.status == geoip.NOT_EVALUATED]
    failed = [o for o in outcomes if o.status not in ("pass", geoip.NOT_EVALUATED)]
    if geo is not None and any(geoip.detection_needs_geo(d) for d in dets):
        console.print(report.markup_safe("GeoIP: %s" % geo.source), highlight=False)
    if skipped:
        console.print(report.markup_safe("%d not evaluated: %s" % (len(skipped), geoip.not_evaluated_message(
            ", ".join(sorted(set(o.detection for o in skipped)))))), highlight=False)
    console.print("%d passed, %d failed" % (len(outcomes) - len(failed) - len(skipped), len(failed)),
                  highlight=False)
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
    from .elastic.status import status

    @main.group()
    def deploy():
        """Deploy the built artefacts to a platform."""

    deploy.add_command(deploy_elastic, "elastic")
    from .splunk.deploy import deploy_splunk
    deploy.add_command(deploy_splunk, "splunk")
    from .versions import version_cli
    main.add_command(version_cli, "version")
    main.add_command(docker, "docker")
    main.add_command(status, "status")
    from .tuning.cli import tune
    main.add_command(tune, "tune")


_mount_platform_commands()
