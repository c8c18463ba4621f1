"""``awssignin status``: what is deployed on Kibana against what the pack ships.

For each rule of the pack: **missing** (not on the target), **outdated** (the target's ``version``
is lower than the pack's), **customised** (same version, but pack-owned fields differ: edited on
the target), **newer** (the target has a higher version than this pack: deployed from a later
pack), or **current**; with whether it is enabled and how many exception lists it references.
Rules of the pack that the pack no longer ships are listed as **not in pack**.

The versions are the ``version`` fields of the rules (the built NDJSON and Kibana's answer), so
this works whatever produces them. It reads the target exactly as ``deploy elastic --dry-run``
does (harness/elastic/deploy.py: ``_find`` by rule_id and by author) and sends nothing else.
"""

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


@click.command("status")
@D.target_options
def status(kibana_url, space, targets_file, rules_file, deadline, ca_cert, insecure):
    """Compare the rules deployed on Kibana with the pack: missing, outdated, customised, enabled.

    Reads only. Credentials as for `deploy elastic`. Exits 2 when a target cannot be read.
    """
    console = D.wide_console()
    try:
        jobs = D.target_jobs(targets_file, kibana_url, space, ca_cert=ca_cert, insecure=insecure)
        rules = D.read_rules(rules_file or D._default_rules_path())
        results = D.run_jobs(jobs, bool(targets_file), rules=rules, dry_run=True, deadline=deadline)
    except DeployError as err:
        raise D.DeployFailed(str(err))
    for result in results:
        print_status(result, console)
    if any(r.error for r in results):
        sys.exit(2)
