"""``awssignin status``: what is deployed on Kibana against what the pack ships.

For each rule of the pack: **missing** (not on the target), **outdated** (the target's ``version``
is lower than the pack's), **customised** (same version, but pack-owned fields differ: edited on
the target), **newer** (the target has a higher version than this pack: deployed from a later
pack), or **current**; with whether it is enabled and how many exception lists it references.
Rules of the pack that the pack no longer ships are listed as **not in pack**.

The versions are the ``version`` fields of the rules (the built NDJSON and Kibana's answer), so
this works whatever produces them. It reads the target exactly as ``deploy elastic --dry-run``
does (harness/elastic/deploy.py: ``_find`` by rule_id and by author) and sends nothing else.

With ``--splunk-url`` it also reads the installed Splunk app's version, ``GET
/services/apps/local/<app>`` (the REST API Reference's Application endpoints; the client, the
credentials ``SPLUNK_TOKEN`` or ``SPLUNK_USERNAME``/``SPLUNK_PASSWORD`` and the package reading
are ``awssignin deploy splunk``'s, harness/splunk/deploy.py), against the app package the pack
builds: not installed, outdated, newer or current.
"""

import re
import sys

import click

from . import deploy as D
from . import deploy_plan as P
from .kibana_api import DeployError

MISSING, OUTDATED, CUSTOMISED, NEWER, CURRENT, NOT_IN_PACK = (
    "missing", "outdated", "customised", "newer", "current", "not in pack")


def rule_state(plan):
    if plan.action == P.CREATE:
        return MISSING
    if plan.action in (P.ORPHAN, P.DELETE):
        return NOT_IN_PACK
    tv, pv = plan.target_version, plan.pack_version
    if tv is not None and pv is not None and tv < pv:
        return OUTDATED
    if tv is not None and pv is not None and tv > pv:
        return NEWER
    return CUSTOMISED if plan.customised else CURRENT


def status_rows(result):
    """[(state, plan)] for one target's read (a dry-run DeployResult)."""
    return [(rule_state(o.plan), o.plan) for o in result.rules]


def print_status(result, console):
    from rich.table import Table
    from rich.text import Text

    clean = result.clean
    label = (result.name + " ") if result.name else ""
    if result.error:
        console.print("target %s%s: %s" % (label, result.target, result.error), markup=False, soft_wrap=True)
        return
    table = Table(title=Text("Status of %s%s" % (label, result.target)), title_justify="left")
    for column in ("rule_id", "name", "status", "deployed", "pack", "enabled", "exceptions", "differs in"):
        table.add_column(column, no_wrap=column in ("rule_id", "status"), overflow="fold")
    order = {MISSING: 0, OUTDATED: 1, CUSTOMISED: 2, NEWER: 3, NOT_IN_PACK: 4, CURRENT: 5}
    rows = sorted(status_rows(result), key=lambda r: (order[r[0]], r[1].name))
    for state, plan in rows:
        target = plan.target or {}
        exceptions = target.get("exceptions_list") if plan.target is not None else None
        row = [plan.rule_id, plan.name, state,
               "-" if plan.target_version is None else "v%d" % plan.target_version,
               "-" if plan.pack_version is None else "v%d" % plan.pack_version,
               "-" if plan.target is None else ("yes" if plan.target_enabled else "no"),
               "-" if exceptions is None else str(len(exceptions) if isinstance(exceptions, list) else 0),
               ", ".join(sorted(plan.kept + plan.changes)) if state in (CUSTOMISED, OUTDATED, NEWER) else ""]
        table.add_row(*[Text(clean(cell, limit=0)) for cell in row])
    console.print(table)
    counts = {}
    for state, _ in rows:
        counts[state] = counts.get(state, 0) + 1
    enabled = sum(1 for _, p in rows if p.target is not None and p.target_enabled and p.action != P.ORPHAN)
    console.print("%s; %d enabled." % (", ".join("%d %s" % (counts[s], s) for s in order if counts.get(s)), enabled),
                  markup=False)


def _version_key(text):
    parts = re.findall(r"\d+", text or "")
    return tuple(int(p) for p in parts) if parts and re.match(r"^\d+(\.\d+)*$", text or "") else None


def splunk_app_state(installed, shipped):
    """not installed / outdated / newer / current, comparing dotted versions (text if not numeric)."""
    if installed is None:
        return "not installed"
    a, b = _version_key(installed), _version_key(shipped)
    if a is not None and b is not None and a != b:
        return "outdated" if a < b else "newer"
    return "current" if installed == shipped else "differs"


def splunk_status(url, package=None, ca_cert=None, insecure=False, environ=None, session=None):
    """(management URL, app, installed version or None, shipped version, state); DeployError (the
    Splunk deploy's) when splunkd cannot be read."""
    from ..project import Layout, ProjectNotFound
    from ..splunk import deploy as S

    base = S.management_url(url)
    if ca_cert and insecure:
        raise S.DeployError("--splunk-ca-cert and --insecure contradict each other: choose one")
    if package is None:
        try:
            package = S.default_package(Layout())
        except ProjectNotFound as err:
            raise S.DeployError("%s; or pass --package FILE" % err)
    shipped = S.read_package(package)
    auth_text, auth, secrets = S.credentials(environ)
    rest = S.SplunkRest(base, auth, auth_text, secrets, verify=False if insecure else (ca_cert or True),
                        session=session)
    installed = S.installed_version(rest, shipped.app)
    if installed is not None:
        installed = rest.clean(installed)     # the server's text: scrubbed, one line
    return base, shipped.app, installed, shipped.version, splunk_app_state(installed, shipped.version)


@click.command("status")
@D.target_options
@click.option("--splunk-url", metavar="URL",
              help="Also report the app installed on splunkd (management URL, e.g. https://splunk:8089).")
@click.option("--package", "package", type=click.Path(dir_okay=False), metavar="FILE",
              help="With --splunk-url: the app package the pack ships (default: the one in dist/).")
@click.option("--splunk-ca-cert", type=click.Path(dir_okay=False), metavar="FILE",
              help="PEM file of the CA that signed splunkd's certificate (--insecure applies to both).")
@click.option("--tuning", "tuning_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="The site tuning file deploys use: its rule fields are expected, not customisations.")
def status(kibana_url, space, targets_file, rules_file, deadline, ca_cert, insecure, splunk_url, package,
           splunk_ca_cert, tuning_file):
    """Compare what is deployed with what the pack ships: the Kibana rules (missing, outdated,
    customised, enabled) and, with --splunk-url, the installed Splunk app's version.

    Reads only. Credentials as for `deploy elastic` and `deploy splunk`. Exits 2 when a target
    cannot be read.
    """
    from ..splunk.deploy import DeployError as SplunkDeployError

    console = D.wide_console()
    results, splunk = [], None
    try:
        if kibana_url or targets_file or not splunk_url:
            jobs = D.target_jobs(targets_file, kibana_url, space, ca_cert=ca_cert, insecure=insecure)
            rules = D.read_rules(rules_file or D.default_rules_path())
            hook = D.tuned(rules, tuning_file) if tuning_file else None
            results = D.run_jobs(jobs, bool(targets_file), rules=rules, dry_run=True, deadline=deadline,
                                 tuning=hook)
        if splunk_url:
            splunk = splunk_status(splunk_url, package, splunk_ca_cert, insecure)
    except (DeployError, SplunkDeployError) as err:
        raise D.DeployFailed(str(err))
    for result in results:
        print_status(result, console)
    if splunk is not None:
        base, app, installed, shipped, state = splunk
        console.print("Splunk %s: app %s %s, the pack ships %s: %s" % (
            base, app, "not installed" if installed is None else "%s installed" % installed, shipped, state),
            markup=False, soft_wrap=True)
    if any(r.error for r in results):
        sys.exit(2)
