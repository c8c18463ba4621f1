"""``awssignin deploy elastic``: bring Kibana's rules to what the pack ships, keeping the user's state.

A deploy to one Kibana (or each target of ``--targets FILE``, harness/elastic/targets.py):

1. reads the target: ``GET <kibana>[/s/<space>]/api/detection_engine/rules/_find`` with
   ``filter=alert.attributes.params.ruleId: ("<id>" OR ...)`` for the pack's rule_ids, paged with
   ``page`` / ``per_page`` (https://www.elastic.co/guide/en/security/current/rules-api-find.html and
   elastic/kibana .../common/api/detection_engine/rule_management/find_rules/
   find_rules_route.schema.yaml: ``per_page`` has no maximum, the answer is ``{page, perPage, total,
   data}``). ``params`` of a rule saved object is a
   ``flattened`` field (elastic/kibana x-pack/plugins/alerting/server/saved_objects/mappings.ts), so
   ``params.ruleId`` is searchable; Kibana's own code and API tests select rules this way
   (prebuilt_rule_objects_client.ts ``fetchInstalledRulesByIds``; the rules import FTR tests). A
   second find, ``alert.attributes.params.author: "awssignin"``, finds the pack's rules that the
   pack no longer ships;
2. plans each rule (harness/elastic/deploy_plan.py, which also says why PATCH and not PUT or
   ``_import``): new rules are created (``POST .../rules``, disabled unless ``--enable``; Kibana
   enables a created rule when ``enabled`` is absent, so it is always sent), upgraded ones (a
   higher pack ``version``) are patched with the pack-owned fields only, so ``enabled``,
   ``exceptions_list``, ``actions``, ``throttle`` and every field the user set that the pack does
   not own stay as they are; pack-owned fields edited on the target at the pack's version are
   kept (``--overwrite-customised`` resets them);
3. sends one request per rule; a refusal of one rule is reported for that rule and does not stop
   the others. Rules no longer in the pack are reported and kept, unless ``--prune``
   (``DELETE .../rules?rule_id=``).

``--dry-run`` reads the target and prints the plan as a diff per rule, sending nothing that
changes it; with ``--check`` it exits 1 when the target differs from the pack (for CI).

Credentials come only from the environment: ``KIBANA_API_KEY`` (sent as ``Authorization: ApiKey
<key>``) or ``KIBANA_USERNAME`` + ``KIBANA_PASSWORD`` (basic auth); a targets file names other
variables. Every text from the server is scrubbed of them, read in bounded amounts, and the whole
deploy to one target has a deadline (harness/elastic/kibana_api.py).

Hook for tuning (exception lists): ``deploy_rules(..., tuning=fn)`` with
``fn(client, dry_run) -> (links, errors)``. ``fn`` creates or updates the exception lists and
items through ``client.request(...)`` (it must send nothing when ``dry_run``) and returns
``links``, ``{rule_id: [{"id", "list_id", "namespace_type", "type"}, ...]}``, the lists each rule
must reference, and ``errors``, lines to report. Deploy adds the missing references to each rule's
``exceptions_list`` and never removes one the user linked.

Tested against a stand-in Kibana written from the documented API (tests/elastic/kibana_standin.py)
and hostile servers (tests/elastic/test_hostile_server.py); no real Kibana was reached in CI.
"""

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional
from urllib.parse import urlsplit

import click

from . import deploy_plan as P
from .kibana_api import (DEFAULT_DEADLINE, DeadlineExceeded, DeployError, KibanaClient, Scrubber, api_key_auth,
                         basic_auth)

RULES_PATH = "/api/detection_engine/rules"
FIND_PATH = RULES_PATH + "/_find"
PER_PAGE = 100                 # rules per _find page
IDS_PER_FIND = 50              # rule_ids per filter, keeps the URL short
MAX_PAGES = 1000
PACK_AUTHOR = "awssignin"      # rules.py AUTHOR: how the pack's rules are found when the pack dropped them

ENV_URL = "KIBANA_URL"
ENV_API_KEY = "KIBANA_API_KEY"
ENV_USERNAME = "KIBANA_USERNAME"
ENV_PASSWORD = "KIBANA_PASSWORD"

_SPACE_ID = re.compile(r"^[a-z0-9_-]+$")

__all__ = ["DeployError", "deploy_rules", "read_rules", "kibana_base", "credentials", "deploy_elastic"]


# ----------------------------------------------------------------------------------------------
# Inputs: the NDJSON file, the URL, the credentials
# ----------------------------------------------------------------------------------------------

def read_rules(path):
    """[rule dict] of an NDJSON rules file; raises DeployError naming the line.

    Export trailers (``exported_count``), exception lists and connectors are not rules and are
    refused: this deploy sends rules one by one (tuning brings exception lists through its hook).
    """
    path = Path(path)
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise DeployError("no rules file at %s (run `awssignin build` first, or pass --rules)" % path)
    except OSError as err:
        raise DeployError("cannot read %s: %s" % (path, err.strerror or err))
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DeployError("%s is not UTF-8 text (%s)" % (path, err))
    rules, seen = [], {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise DeployError("%s:%d: not a JSON object (%s)" % (path, number, err))
        if not isinstance(obj, dict):
            raise DeployError("%s:%d: expected a JSON object, got %s" % (path, number, type(obj).__name__))
        if "exported_count" in obj:
            continue
        if "list_id" in obj or obj.get("type") == "action":
            raise DeployError("%s:%d: exception lists and connectors are not deployed from the rules file"
                              % (path, number))
        rid = obj.get("rule_id")
        if not isinstance(rid, str) or not rid:
            raise DeployError("%s:%d: a rule without rule_id (a deploy matches rules on it)" % (path, number))
        if rid in seen:
            raise DeployError("%s:%d: rule_id %s is also on line %d" % (path, number, rid, seen[rid]))
        seen[rid] = number
        rules.append(obj)
    if not rules:
        raise DeployError("%s holds no rules" % path)
    return rules


def kibana_base(kibana_url, space=None):
    """The URL every API path is appended to: the Kibana URL, plus /s/<space> for a non-default space."""
    if not kibana_url:
        raise DeployError("no Kibana URL: pass --kibana-url or set %s" % ENV_URL)
    if "@" in kibana_url:
        # user:password@host; never echo this URL, it holds a secret
        raise DeployError("the Kibana URL must not contain credentials: set %s, or %s and %s"
                          % (ENV_API_KEY, ENV_USERNAME, ENV_PASSWORD))
    parts = urlsplit(kibana_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeployError("--kibana-url must be an http:// or https:// URL with a host name")
    if parts.query or parts.fragment:
        raise DeployError("--kibana-url must not have a query string or fragment")
    base = "%s://%s%s" % (parts.scheme, parts.netloc, parts.path.rstrip("/"))
    if space and space != "default":
        if not _SPACE_ID.match(space):
            raise DeployError("invalid space id %r: Kibana space ids use a-z, 0-9, '_' and '-'" % space)
        base += "/s/" + space
    return base


def credentials(environ=None, api_key_env=None, username_env=None, password_env=None):
    """(description, requests auth, secrets) from the environment; DeployError if none is set.

    The ``*_env`` arguments name the variables (a targets file's); by default KIBANA_API_KEY, or
    KIBANA_USERNAME and KIBANA_PASSWORD.
    """
    env = os.environ if environ is None else environ
    named = api_key_env or username_env
    key_var = api_key_env or (None if named else ENV_API_KEY)
    user_var, password_var = (username_env, password_env) if username_env else (
        (None, None) if named else (ENV_USERNAME, ENV_PASSWORD))
    api_key = env.get(key_var, "").strip() if key_var else ""
    if api_key:
        auth, secrets = api_key_auth(api_key)
        return ("API key from %s" % key_var, auth, secrets)
    user = env.get(user_var, "") if user_var else ""
    password = env.get(password_var, "") if password_var else ""
    if user and password:
        auth, secrets = basic_auth(user, password)
        return ("basic auth from %s/%s" % (user_var, password_var), auth, secrets)
    if user or password:
        missing = password_var if user else user_var
        raise DeployError("%s is not set (basic auth needs both %s and %s)" % (missing, user_var, password_var))
    if api_key_env:
        raise DeployError("%s is not set (it should hold an encoded API key)" % api_key_env)
    if username_env:
        raise DeployError("%s and %s are not set" % (username_env, password_env))
    raise DeployError("no Kibana credentials: set %s (an encoded API key), or %s and %s"
                      % (ENV_API_KEY, ENV_USERNAME, ENV_PASSWORD))


# ----------------------------------------------------------------------------------------------
# Reading the target
# ----------------------------------------------------------------------------------------------

def kql_string(value):
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def rule_id_filter(rule_ids):
    """KQL over rule saved objects selecting exactly these rule_ids."""
    return "alert.attributes.params.ruleId: (%s)" % " OR ".join(kql_string(r) for r in rule_ids)


def author_filter(author=PACK_AUTHOR):
    return "alert.attributes.params.author: %s" % kql_string(author)


def find_rules(client, kql, what, space=None, auth_text="", max_pages=MAX_PAGES):
    """Every rule ``_find`` returns for ``kql``, all pages (at most ``max_pages``: a server that
    claims an endless total cannot keep the deploy paging); DeployError when Kibana refuses."""
    found, seen, page, total = [], set(), 1, None
    while page <= max_pages:
        answer = client.request("GET", FIND_PATH, what,
                                params={"filter": kql, "page": page, "per_page": PER_PAGE})
        if not answer.ok:
            raise DeployError(client.refusal(answer, what, space, auth_text))
        body = client.json_object(answer, what)
        data = body.get("data")
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise DeployError("%s: Kibana's answer has no list of rules (`data`)" % what)
        if total is None:
            total = body.get("total") if isinstance(body.get("total"), int) else None
        new = [r for r in data if r.get("rule_id") not in seen]
        seen.update(r.get("rule_id") for r in new)
        found.extend(new)
        # a page with nothing new ends it too: a server repeating itself cannot keep the deploy paging
        if not new or total is None or page * PER_PAGE >= total:
            break
        page += 1
    return found


def read_target(client, rule_ids, space=None, auth_text=""):
    """({rule_id: rule} of the pack's rules on the target, [the pack's rules the pack no longer ships])."""
    wanted = set(rule_ids)
    present = {}
    ids = list(rule_ids)
    for start in range(0, len(ids), IDS_PER_FIND):
        chunk = ids[start:start + IDS_PER_FIND]
        # a rule_id is unique in a space: more pages than the ids fill would be a server's invention
        for rule in find_rules(client, rule_id_filter(chunk), "read the target", space, auth_text,
                               max_pages=-(-len(chunk) // PER_PAGE) + 1):
            rid = rule.get("rule_id")
            if isinstance(rid, str) and rid in wanted:     # a filter Kibana misread selects nothing else
                present[rid] = rule
    orphans = {}
    for rule in find_rules(client, author_filter(), "read the target", space, auth_text):
        rid = rule.get("rule_id")
        if isinstance(rid, str) and rid not in wanted and PACK_AUTHOR in (rule.get("author") or []):
            orphans[rid] = rule
    return present, [orphans[r] for r in sorted(orphans)]


# ----------------------------------------------------------------------------------------------
# The deploy
# ----------------------------------------------------------------------------------------------

@dataclass
class RuleOutcome:
    plan: P.RulePlan
    done: Optional[bool] = None       # None: nothing sent (unchanged, dry run, not reached)
    message: str = ""
    enabled: Optional[bool] = None    # after the deploy (or as planned in a dry run)

    @property
    def rule_id(self):
        return self.plan.rule_id

    @property
    def name(self):
        return self.plan.name

    @property
    def failed(self):
        return self.done is False


@dataclass
class DeployResult:
    target: str                        # the Kibana URL (with space prefix), never credentials
    name: str = ""                     # the target's name in a targets file
    rules: List[RuleOutcome] = field(default_factory=list)
    dry_run: bool = False
    auth: str = ""
    other_errors: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)   # what the tuning hook changed (or would change)
    error: str = ""                    # the deploy to this target could not run
    clean: object = None               # the scrubber's clean(): for every server text printed

    @property
    def failed(self):
        return [r for r in self.rules if r.failed]

    @property
    def ok(self):
        return not self.error and not self.failed and not self.other_errors

    @property
    def differs(self):
        return P.differs([r.plan for r in self.rules])


def resolve_enable_ids(rules, names):
    """rule_ids for ``--enable-rule`` values: a rule_id of the pack, or a detection id."""
    from .rules import rule_id as detection_rule_id

    by_id = {r["rule_id"] for r in rules}
    out = []
    for value in names or ():
        rid = value if value in by_id else detection_rule_id(value)
        if rid not in by_id:
            raise DeployError("--enable-rule %s: no rule of the pack has this rule_id or detection id" % value)
        out.append(rid)
    return out


def _what(plan):
    return {"POST": "create", "PATCH": "update", "PUT": "update (replace)", "DELETE": "delete"}[plan.method]


def _send(client, plan, space, auth_text):
    """Send one rule's request; (ok, message, enabled after)."""
    what = "%s %s" % (_what(plan), plan.rule_id)
    if plan.method == "DELETE":
        answer = client.request("DELETE", RULES_PATH, what, params={"rule_id": plan.rule_id})
    else:
        answer = client.request(plan.method, RULES_PATH, what, json_body=plan.body)
    if not answer.ok:
        return False, client.refusal(answer, _what(plan), space, auth_text), None
    enabled = answer.body.get("enabled") if isinstance(answer.body, dict) else None
    return True, "", enabled if isinstance(enabled, bool) else None


def deploy_rules(kibana_url, ndjson_path=None, space=None, dry_run=False, enable=False, enable_rules=(),
                 prune=False, index=None, ca_cert=None, insecure=False, session=None, environ=None,
                 deadline=DEFAULT_DEADLINE, tuning=None, name="", env_names=None, rules=None,
                 overwrite_customised=False):
    """Deploy the rules of ``ndjson_path`` to one Kibana; a DeployResult.

    Raises DeployError when the inputs are wrong (before anything is sent) or the target cannot
    be read; per-rule refusals are in ``result.rules`` and do not stop the others.
    ``environ`` (default os.environ) holds the credentials, under ``env_names`` (the ``*_env``
    keyword arguments of ``credentials``) when given.
    """
    rules = rules if rules is not None else read_rules(ndjson_path)
    base = kibana_base(kibana_url, space)
    if ca_cert and insecure:
        raise DeployError("--ca-cert and --insecure contradict each other: choose one")
    if ca_cert and not Path(ca_cert).is_file():
        raise DeployError("--ca-cert %s: no such file" % ca_cert)
    enable_ids = resolve_enable_ids(rules, enable_rules)
    auth_text, auth, secrets = credentials(environ, **(env_names or {}))
    result = DeployResult(target=base, name=name, dry_run=dry_run, auth=auth_text, clean=Scrubber(secrets).clean)
    verify = False if insecure else (str(ca_cert) if ca_cert else True)
    with KibanaClient(base, auth, secrets, verify=verify, deadline=deadline, session=session) as client:
        result.clean = client.clean
        present, orphans = read_target(client, [r["rule_id"] for r in rules], space, auth_text)
        links = {}
        if tuning is not None:
            links, errors = tuning(client, dry_run)
            result.other_errors.extend(client.clean(e) for e in errors or [])
            result.notes.extend(client.clean(a) for a in getattr(tuning, "actions", None) or [])
        plans = P.make_plan(rules, present, orphans, enable_new=enable, enable_ids=enable_ids, prune=prune,
                            links=links, index=index, overwrite_customised=overwrite_customised,
                            forced=getattr(tuning, "rule_fields", None))
        result.rules = [RuleOutcome(plan=p, enabled=_planned_enabled(p)) for p in plans]
        if dry_run:
            return result
        for outcome in result.rules:
            if not outcome.plan.sends:
                continue
            try:
                outcome.done, outcome.message, enabled = _send(client, outcome.plan, space, auth_text)
            except DeadlineExceeded as err:
                outcome.done, outcome.message = False, str(err)
                for rest in result.rules:
                    if rest.plan.sends and rest.done is None:
                        rest.done, rest.message = False, "not sent: the deploy's deadline of %d s passed" % deadline
                break
            except DeployError as err:
                outcome.done, outcome.message = False, str(err)
                continue
            if outcome.done:
                outcome.enabled = enabled if enabled is not None else outcome.enabled
            else:
                outcome.enabled = outcome.plan.target_enabled
    return result


def _planned_enabled(plan):
    if plan.action == P.CREATE:
        return plan.enable
    if plan.action == P.DELETE:
        return None
    return True if plan.enable else plan.target_enabled


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------

_LABELS = {P.CREATE: "new", P.UPDATE: "changed", P.UNCHANGED: "unchanged", P.ORPHAN: "not in pack",
           P.DELETE: "delete (--prune)"}


def _detail(plan):
    parts = []
    if plan.kept:
        parts.append(("newer on the target, kept" if plan.newer else "customised, kept: " + ", ".join(plan.kept)))
    if plan.action == P.UPDATE:
        if plan.target_version != plan.pack_version:
            parts.append("v%s -> v%s" % (plan.target_version, plan.pack_version))
        elif plan.customised and not plan.kept:
            parts.append("customised at v%s, reset" % plan.pack_version)
        if plan.changes:
            parts.append(", ".join(plan.changes))
        if plan.links_added:
            parts.append("+%d exception list%s" % (len(plan.links_added), "" if len(plan.links_added) == 1 else "s"))
        if plan.method == "PUT":
            parts.append("(replace: %s)" % ("type change" if plan.dropped or plan.target.get("type") != plan.pack.get("type")
                                            else "removes " + ", ".join(plan.removed)))
    if plan.enable:
        parts.append("enable")
    return "; ".join(parts)


def _onoff(value):
    return "-" if value is None else ("on" if value else "off")


def _enabled_cell(outcome):
    plan = outcome.plan
    if plan.action in (P.UPDATE, P.UNCHANGED) and plan.enable and outcome.done is not False:
        return "off -> on"
    return _onoff(outcome.enabled)


def print_result(result, console):
    from rich.table import Table
    from rich.text import Text  # plain text cells: a "[" in a rule name is not rich markup

    clean = result.clean or Scrubber().clean
    label = result.name + " " if result.name else ""
    if result.error:
        console.print("target %s%s: %s" % (label, result.target, result.error), markup=False, soft_wrap=True)
        return
    title = "%s %s%s" % ("Plan for" if result.dry_run else "Deployed to", label, result.target)
    table = Table(title=Text(title), title_justify="left")
    for column, wrap in (("rule_id", False), ("name", True), ("plan", False), ("what changes", True),
                         ("enabled", False)):
        table.add_column(column, no_wrap=not wrap, overflow="fold")
    if not result.dry_run:
        table.add_column("result", no_wrap=True)
    order = {P.CREATE: 0, P.UPDATE: 1, P.DELETE: 2, P.ORPHAN: 3, P.UNCHANGED: 4}
    rows = sorted(result.rules, key=lambda r: (not r.failed, order[r.plan.action], r.name))
    for outcome in rows:
        plan = outcome.plan
        row = [plan.rule_id, plan.name, _LABELS[plan.action], _detail(plan), _enabled_cell(outcome)]
        if not result.dry_run:
            row.append("-" if outcome.done is None else ("ok" if outcome.done else "FAILED"))
        table.add_row(*[Text(clean(cell, limit=0)) for cell in row])
    console.print(table)
    if result.dry_run:
        for line in diff_lines(result, clean):
            console.print(line, markup=False, soft_wrap=True)
    # reasons below the table, one unwrapped line each, so logs keep them whole
    for outcome in result.rules:
        if outcome.failed:
            console.print("FAILED %s (%s): %s" % (outcome.rule_id, clean(outcome.name), outcome.message),
                          markup=False, soft_wrap=True)
    for note in result.notes:
        console.print("tuning: " + note, markup=False, soft_wrap=True)
    for error in result.other_errors:
        console.print("error: " + error, markup=False, soft_wrap=True)
    console.print(summary_line(result), markup=False)


def diff_lines(result, clean):
    """The plan as a diff: ``+`` new, ``~`` changed (with each field old -> new), ``-`` not in the pack."""
    out = []
    for outcome in result.rules:
        plan = outcome.plan
        head = "%s (%s)" % (plan.rule_id, clean(plan.name, limit=120))
        if plan.action == P.CREATE:
            out.append("+ %s: new, created %s" % (head, "enabled" if plan.enable else "disabled"))
        if plan.kept and plan.newer:
            out.append("= %s: the target has v%s, newer than the pack's v%s: kept (--overwrite-customised "
                       "downgrades it)" % (head, plan.target_version, plan.pack_version))
        elif plan.kept:
            out.append("= %s: customised on the target at v%s, kept: %s (--overwrite-customised resets them)"
                       % (head, plan.pack_version, ", ".join(plan.kept)))
        if plan.action == P.UPDATE:
            if plan.target_version != plan.pack_version:
                why = "v%s -> v%s" % (plan.target_version, plan.pack_version)
            elif plan.customised and not plan.kept:
                why = "customised on the target at v%s: --overwrite-customised replaces the edits" % plan.pack_version
            else:
                why = "at v%s" % plan.pack_version
            out.append("~ %s: %s, sent as %s" % (head, why, plan.method))
            for name in plan.changes:
                old, new = P.field_diff(plan, name)
                out.append("    %s: %s -> %s" % (name, clean(old, limit=200), clean(new, limit=200)))
            for ref in plan.links_added:
                out.append("    exceptions_list: + %s" % clean(ref.get("list_id", "?")))
            for name in plan.dropped:
                out.append("    %s: dropped (no meaning for the new rule type)" % name)
            if plan.enable:
                out.append("    enabled: false -> true (--enable-rule)")
        elif plan.action in (P.ORPHAN, P.DELETE):
            out.append("- %s: on the target, no longer in the pack (%s)"
                       % (head, "deleted by --prune" if plan.action == P.DELETE else "kept; --prune deletes it"))
    return out


def summary_line(result):
    counts = P.summary([r.plan for r in result.rules])
    parts = ["%d new" % counts[P.CREATE], "%d changed" % counts[P.UPDATE], "%d unchanged" % counts[P.UNCHANGED]]
    if counts[P.ORPHAN]:
        parts.append("%d not in the pack" % counts[P.ORPHAN])
    if counts[P.DELETE]:
        parts.append("%d to delete" % counts[P.DELETE])
    kept = sum(1 for r in result.rules if r.plan.kept and not r.plan.newer)
    if kept:
        parts.append("%d customised kept" % kept)
    newer = sum(1 for r in result.rules if r.plan.kept and r.plan.newer)
    if newer:
        parts.append("%d newer on the target kept" % newer)
    text = ("dry run (nothing changed on Kibana): " if result.dry_run else "") + ", ".join(parts)
    failed = len(result.failed)
    if failed:
        text += "; %d failed" % failed
    elif result.other_errors:
        text += "; Kibana reported errors"
    return text + "."


def print_targets_table(results, console):
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text("Targets"), title_justify="left")
    for column in ("target", "kibana", "new", "changed", "unchanged", "not in pack", "failed", "result"):
        table.add_column(column, no_wrap=column != "kibana", overflow="fold")
    for result in results:
        counts = P.summary([r.plan for r in result.rules])
        if result.error:
            state = "could not run"
        elif not result.ok:
            state = "FAILED"
        elif result.dry_run:
            state = "differs" if result.differs else "up to date"
        else:
            state = "ok"
        row = [result.name, result.target] + (["-"] * 5 if result.error else
                                              [str(counts[P.CREATE]), str(counts[P.UPDATE]), str(counts[P.UNCHANGED]),
                                               str(counts[P.ORPHAN] + counts[P.DELETE]), str(len(result.failed))])
        table.add_row(*[Text(cell) for cell in row + [state]])
    console.print(table)


def exit_code(results, check=False):
    if any(r.error for r in results):
        return 2
    if any(not r.ok for r in results) or (check and any(r.differs for r in results)):
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------

def default_rules_path():
    """dist/elastic/rules.ndjson, built afresh from the detection files (cheap, and never stale)."""
    from ..detections import DetectionError, load_all
    from ..project import Layout, ProjectNotFound
    from .rules import elastic_rules

    try:
        layout = Layout()
    except ProjectNotFound as err:
        raise DeployError("%s; or pass --rules FILE" % err)
    try:
        detections = load_all(layout.detections)
        (path,) = elastic_rules(layout, detections)
    except (DetectionError, ValueError) as err:
        raise DeployError("cannot build the rules: %s" % err)
    click.echo("built %s from %d detection files" % (path, len(detections)), err=True)
    return path


def transport_warnings(kibana_url, insecure):
    out = []
    if insecure:
        out.append("--insecure: Kibana's TLS certificate is not verified")
    parts = urlsplit(kibana_url or "")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        out.append("plain http: the credentials cross the network unencrypted")
    return out


class DeployFailed(click.ClickException):
    exit_code = 2


def wide_console():
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=160)  # logs and pipes: keep rule_ids whole
    return console


def target_options(command):
    """The options naming the Kibana(s) and how to reach them, shared by deploy and status."""
    options = [
        click.option("--kibana-url", envvar=ENV_URL, metavar="URL",
                     help="Kibana base URL, e.g. https://kibana.example.com:5601 (or set %s)." % ENV_URL),
        click.option("--space", metavar="SPACE", help="Kibana space id (default: the default space)."),
        click.option("--targets", "targets_file", type=click.Path(dir_okay=False), metavar="FILE",
                     help="YAML list of targets (name, kibana_url, space, index, credentials' variable names)."),
        click.option("--rules", "rules_file", type=click.Path(dir_okay=False), metavar="PATH",
                     help="Rules NDJSON of the pack (default: build dist/elastic/rules.ndjson from detections/)."),
        click.option("--deadline", type=click.IntRange(1, 86400), default=DEFAULT_DEADLINE, show_default=True,
                     metavar="SECONDS", help="Give up on a target after this long, however slowly it answers."),
        click.option("--ca-cert", type=click.Path(dir_okay=False), metavar="FILE",
                     help="PEM file of the CA that signed Kibana's certificate."),
        click.option("--insecure", is_flag=True, help="Do not verify Kibana's TLS certificate (not recommended)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command("elastic")
@target_options
@click.option("--dry-run", is_flag=True, help="Read the target and print the plan as a diff; change nothing.")
@click.option("--check", is_flag=True, help="With --dry-run: exit 1 when the target differs from the pack.")
@click.option("--enable", is_flag=True, help="Enable the rules this deploy creates (existing rules keep their state).")
@click.option("--enable-rule", "enable_rules", multiple=True, metavar="ID",
              help="Also enable this rule (detection id or rule_id), even if it exists; repeatable.")
@click.option("--prune", is_flag=True, help="Delete the pack's rules that the pack no longer ships.")
@click.option("--overwrite-customised", is_flag=True,
              help="Reset pack-owned fields edited on the target at the pack's version (kept by default).")
@click.option("--index", "index", multiple=True, metavar="PATTERN",
              help="Index pattern for every rule instead of the pack's (repeatable).")
@click.option("--tuning", "tuning_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="A site tuning file (docs/tuning.md): its allowlists become exception lists linked to "
                   "the rules, its parameters the rules' fields.")
def deploy_elastic(kibana_url, space, targets_file, rules_file, deadline, ca_cert, insecure, dry_run, check, enable,
                   enable_rules, prune, overwrite_customised, index, tuning_file):
    """Create and update the Elastic Security rules in Kibana, keeping each rule's enabled state,
    exceptions, actions and the user's own fields.

    Credentials come from the environment only: KIBANA_API_KEY, or KIBANA_USERNAME and
    KIBANA_PASSWORD (a targets file names its own variables). Exits 1 when a rule failed (or, with
    --dry-run --check, when a target differs), 2 when a deploy could not run.
    """
    if check and not dry_run:
        raise click.UsageError("--check goes with --dry-run (it reports, it does not deploy)")
    console = wide_console()
    source = click.get_current_context().get_parameter_source
    try:
        if targets_file and (source("kibana_url") == click.core.ParameterSource.COMMANDLINE or space):
            raise DeployError("--targets names the Kibanas and spaces: drop --kibana-url and --space")
        jobs = target_jobs(targets_file, kibana_url, space, index, ca_cert, insecure)
        rules = read_rules(rules_file or default_rules_path())
        resolve_enable_ids(rules, enable_rules)
        hook = tuned(rules, tuning_file) if tuning_file else None
        if not dry_run:
            for job in jobs:
                for warning in transport_warnings(job["kibana_url"], job["insecure"]):
                    click.echo("warning: %s%s" % (job["name"] + ": " if job["name"] else "", warning), err=True)
        results = run_jobs(jobs, bool(targets_file), rules=rules, dry_run=dry_run, enable=enable,
                           enable_rules=enable_rules, prune=prune, deadline=deadline,
                           overwrite_customised=overwrite_customised, tuning=hook)
    except DeployError as err:
        raise DeployFailed(str(err))
    for result in results:
        print_result(result, console)
    if targets_file:
        print_targets_table(results, console)
    code = exit_code(results, check)
    if code:
        sys.exit(code)


def tuned(rules, tuning_file):
    """Apply a tuning file's rule fields to ``rules`` (in place) and return deploy_rules' tuning hook,
    which ensures its exception lists on each target (harness/tuning/kibana.py)."""
    from ..cliutil import detections_or_fail, layout_or_fail
    from ..tuning.cli import load_or_fail
    from ..tuning.kibana import deploy_hook
    from ..tuning.elastic import elastic_plan

    detections = detections_or_fail(layout_or_fail())
    tuning = load_or_fail(tuning_file, detections)
    planned = elastic_plan(tuning, detections)["rules"]
    for rule in rules:
        rule.update(planned.get(rule["rule_id"], {}).get("fields", {}))
    return deploy_hook(tuning, detections)


def target_jobs(targets_file, kibana_url, space, index=(), ca_cert=None, insecure=False):
    """The keyword arguments of ``deploy_rules`` for each target: the targets file's, or the one
    Kibana of the command line (checked before anything is read or built)."""
    if not targets_file:
        kibana_base(kibana_url, space)  # a bad URL is reported before anything else happens
        return [dict(kibana_url=kibana_url, space=space, index=list(index) or None, ca_cert=ca_cert,
                     insecure=insecure, name="", env_names=None)]
    from .targets import load_targets
    return [dict(kibana_url=t.kibana_url, space=t.space, index=t.index or list(index) or None,
                 ca_cert=t.ca_cert or ca_cert, insecure=t.insecure or insecure, name=t.name,
                 env_names={k: getattr(t, k) for k in ("api_key_env", "username_env", "password_env")
                            if getattr(t, k)} or None)
            for t in load_targets(targets_file)]


def run_jobs(jobs, many, **kwargs):
    """``deploy_rules`` for each job; with ``many`` targets one that cannot run is reported in its
    result and never costs the others, with one its DeployError is raised."""
    results = []
    for job in jobs:
        try:
            results.append(deploy_rules(**dict(kwargs, **job)))
        except DeployError as err:
            if not many:
                raise
            results.append(DeployResult(target=kibana_base(job["kibana_url"], job["space"]), name=job["name"],
                                        dry_run=kwargs.get("dry_run", False), error=str(err)))
    return results
