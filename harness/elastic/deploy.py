"""``awssignin deploy elastic``: import the generated rules into Kibana, optionally enable them.

One request does the work: ``POST <kibana>[/s/<space>]/api/detection_engine/rules/_import
?overwrite=true``, multipart form field ``file`` (``rules.ndjson``), headers ``kbn-xsrf`` and
``elastic-api-version: 2023-10-31``. Kibana answers HTTP 200 even when rules fail, so the body
(``success``, ``success_count``, ``rules_count``, ``errors[{rule_id, error{status_code, message}}]``)
decides the outcome, rule by rule. ``--enable`` then sends ``POST .../_bulk_action`` with
``{"action": "enable", "query": "alert.attributes.params.ruleId: (...)"}`` for the imported rules
(the query form selects by the stable rule_id, so no saved-object ids need looking up; Kibana
answers 500 with the same body shape when some rules fail).

Credentials come only from the environment: ``KIBANA_API_KEY`` (sent as ``Authorization: ApiKey
<key>``, the encoded key Kibana shows on creation) or ``KIBANA_USERNAME`` + ``KIBANA_PASSWORD``
(basic auth). They are never printed and never accepted on the command line or in the URL. TLS is
verified by default; ``--ca-cert`` trusts a private CA, ``--insecure`` (explicit) skips checks.

Tested against a local HTTP(S) server that answers like Kibana's documented import and bulk-action
APIs (tests/elastic/test_deploy.py); no real Kibana was reached in CI. The Docker tier imports into
a real Kibana.
"""

import json
import os
import re
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional
from urllib.parse import urlsplit

import click
import requests
import requests.auth

API_VERSION = "2023-10-31"
IMPORT_PATH = "/api/detection_engine/rules/_import"
BULK_ACTION_PATH = "/api/detection_engine/rules/_bulk_action"
UPLOAD_NAME = "rules.ndjson"  # Kibana refuses files whose name does not end in .ndjson
TIMEOUT = (10, 300)           # connect, read (an import of many rules can take a while)

ENV_URL = "KIBANA_URL"
ENV_API_KEY = "KIBANA_API_KEY"
ENV_USERNAME = "KIBANA_USERNAME"
ENV_PASSWORD = "KIBANA_PASSWORD"

_SPACE_ID = re.compile(r"^[a-z0-9_-]+$")


class DeployError(Exception):
    """Deploying could not start or Kibana refused the request; the message is one line, no secrets."""


@dataclass
class RuleOutcome:
    rule_id: str
    name: str
    imported: Optional[bool] = None   # None: not attempted (dry run)
    enabled: Optional[bool] = None    # None: not requested
    message: str = ""
    type: str = ""
    severity: str = ""

    @property
    def failed(self):
        return self.imported is False or self.enabled is False


@dataclass
class DeployResult:
    target: str                       # the Kibana URL (with space prefix), never credentials
    rules: List[RuleOutcome]
    dry_run: bool = False
    enable: bool = False
    auth: str = ""                    # which credentials were (or would be) used, by variable name
    rules_count: Optional[int] = None
    success_count: Optional[int] = None
    other_errors: List[str] = field(default_factory=list)   # errors not tied to a rule of the file

    @property
    def failed(self):
        return [r for r in self.rules if r.failed]

    @property
    def ok(self):
        return not self.failed and not self.other_errors


# ----------------------------------------------------------------------------------------------
# Inputs: the NDJSON file, the URL, the credentials
# ----------------------------------------------------------------------------------------------

def read_rules(path):
    """(file bytes, [RuleOutcome]) for an import NDJSON file; raises DeployError naming the line.

    Export trailers (``exported_count``), exception lists and connectors are sent as they are but
    are not rules, so they get no row.
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
    rules = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise DeployError("%s:%d: not a JSON object (%s)" % (path, number, err))
        if not isinstance(obj, dict):
            raise DeployError("%s:%d: expected a JSON object, got %s" % (path, number, type(obj).__name__))
        if "exported_count" in obj or "list_id" in obj or obj.get("type") == "action":
            continue
        if not obj.get("rule_id"):
            raise DeployError("%s:%d: a rule without rule_id (Kibana's import needs one)" % (path, number))
        rules.append(RuleOutcome(rule_id=str(obj["rule_id"]), name=str(obj.get("name", "")),
                                 type=str(obj.get("type", "")), severity=str(obj.get("severity", ""))))
    if not rules:
        raise DeployError("%s holds no rules" % path)
    return content, rules


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


class _ApiKeyAuth(requests.auth.AuthBase):
    """``Authorization: ApiKey <key>``; as an auth object it also keeps requests from using ~/.netrc."""

    def __init__(self, key):
        self.key = key

    def __call__(self, request):
        request.headers["Authorization"] = "ApiKey " + self.key
        return request


def credentials(environ=None):
    """(description, requests auth, secrets) from the environment; DeployError if none is set."""
    env = os.environ if environ is None else environ
    api_key = env.get(ENV_API_KEY, "").strip()
    if api_key:
        return ("API key from %s" % ENV_API_KEY, _ApiKeyAuth(api_key), [api_key])
    user, password = env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD, "")
    if user and password:
        return ("basic auth from %s/%s" % (ENV_USERNAME, ENV_PASSWORD),
                requests.auth.HTTPBasicAuth(user, password), [password])
    if user or password:
        missing = ENV_PASSWORD if user else ENV_USERNAME
        raise DeployError("%s is not set (basic auth needs both %s and %s)" % (missing, ENV_USERNAME, ENV_PASSWORD))
    raise DeployError("no Kibana credentials: set %s (an encoded API key), or %s and %s"
                      % (ENV_API_KEY, ENV_USERNAME, ENV_PASSWORD))


def _describe_auth(environ=None):
    try:
        return credentials(environ)[0]
    except DeployError as err:
        return "none usable (%s)" % err


# ----------------------------------------------------------------------------------------------
# HTTP
# ----------------------------------------------------------------------------------------------

def _scrub(text, secrets):
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def _one_line(text, limit=300):
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kibana_message(response):
    try:
        body = response.json()
    except ValueError:
        return _one_line(response.text) if response.text else ""
    if isinstance(body, dict):
        return _one_line(body.get("message") or body.get("error") or "")
    return ""


def _connection_reason(err):
    text = str(err)
    if "refused" in text.lower():
        return "connection refused"
    if re.search(r"Name or service not known|nodename nor servname|getaddrinfo failed|Failed to resolve|"
                 r"Temporary failure in name resolution", text):
        return "the host name does not resolve"
    if "timed out" in text.lower():
        return "the connection timed out"
    return "connection failed"


def _tls_reason(err):
    match = re.search(r"certificate verify failed: ([^()'\"\]]+)", str(err))
    if match:
        return "certificate verify failed: " + match.group(1).strip()
    return "TLS handshake failed"


def _post(session, url, what, secrets, verify, **kwargs):
    """POST and return the response; transport failures become one-line DeployErrors."""
    origin = "%s://%s" % (urlsplit(url).scheme, urlsplit(url).netloc)
    try:
        with warnings.catch_warnings():
            # --insecure already printed its own warning; urllib3 would repeat it per request
            warnings.simplefilter("ignore")
            return session.post(url, verify=verify, timeout=TIMEOUT, allow_redirects=False, **kwargs)
    except requests.exceptions.SSLError as err:
        raise DeployError(_scrub("%s: TLS verification of %s failed (%s); use --ca-cert FILE for a private CA, "
                                 "or --insecure to skip verification" % (what, origin, _tls_reason(err)), secrets))
    except requests.exceptions.Timeout:
        raise DeployError("%s: Kibana at %s did not answer within %d s" % (what, origin, TIMEOUT[1]))
    except requests.exceptions.ConnectionError as err:
        raise DeployError("%s: cannot connect to Kibana at %s: %s" % (what, origin, _connection_reason(err)))
    except requests.exceptions.RequestException as err:
        raise DeployError(_scrub("%s: request to %s failed: %s" % (what, origin, _one_line(err)), secrets))


def _check_status(response, what, space, auth, secrets, accept=(200,)):
    status = response.status_code
    if status in accept:
        return
    message = _kibana_message(response)
    detail = (": " + message) if message else ""
    if 300 <= status < 400:
        text = "%s: Kibana answered HTTP %d, a redirect to %s; use that address as --kibana-url" % (
            what, status, response.headers.get("Location", "(no Location)"))
    elif status == 401:
        text = "%s: Kibana rejected the credentials (HTTP 401, %s)%s" % (what, auth, detail)
    elif status == 403:
        text = ("%s: HTTP 403, the user may not manage detection rules%s (needs Security > Rules and "
                "Exceptions: All)%s" % (what, " in space %r" % space if space else "", detail))
    elif status == 404 and space:
        text = "%s: HTTP 404 in space %r: does the space exist?%s" % (what, space, detail)
    elif status == 404:
        text = "%s: HTTP 404: is --kibana-url a Kibana with Elastic Security (and its base path, if any)?%s" % (
            what, detail)
    elif status >= 500:
        text = "%s: Kibana failed with HTTP %d%s" % (what, status, detail)
    else:
        text = "%s: Kibana refused the request with HTTP %d%s" % (what, status, detail)
    raise DeployError(_scrub(text, secrets))


def _json_body(response, what, secrets):
    try:
        body = response.json()
    except ValueError:
        raise DeployError(_scrub("%s: Kibana's answer is not JSON: %s" % (what, _one_line(response.text, 120)), secrets))
    if not isinstance(body, dict):
        raise DeployError("%s: Kibana's answer is not a JSON object" % what)
    return body


def _error_text(error):
    if not isinstance(error, dict):
        return _one_line(error)
    inner = error.get("error") if isinstance(error.get("error"), dict) else error
    code = inner.get("status_code")
    message = _one_line(inner.get("message", "")) or "no message"
    return "%s: %s" % (code, message) if code is not None else message


def _apply_import(result, body):
    """Fill ``result`` from an import response body (HTTP 200, successes and failures alike)."""
    result.rules_count = body.get("rules_count")
    result.success_count = body.get("success_count")
    by_id = {r.rule_id: r for r in result.rules}
    failed = set()
    for error in body.get("errors") or []:
        rid = str(error.get("rule_id") or error.get("id") or "") if isinstance(error, dict) else ""
        if rid in by_id:
            by_id[rid].imported = False
            by_id[rid].message = _error_text(error)
            failed.add(rid)
        else:
            result.other_errors.append("rule %s: %s" % (rid or "(no rule_id)", _error_text(error)))
    for key in ("exceptions_errors", "action_connectors_errors"):
        for error in body.get(key) or []:
            result.other_errors.append("%s: %s" % (key, _error_text(error)))
    for rule in result.rules:
        if rule.rule_id not in failed:
            rule.imported = True
    expected = len(result.rules) - len(failed)
    if result.success_count is not None and result.success_count < expected:
        result.other_errors.append("Kibana counted %d successful rules, the file has %d without errors"
                                   % (result.success_count, expected))
    if body.get("success") is False and not failed and not result.other_errors:
        result.other_errors.append("Kibana reported success=false without naming an error")


def enable_query(rule_ids):
    """KQL over rule saved objects selecting exactly these rule_ids (for _bulk_action)."""
    quoted = " OR ".join('"%s"' % rid.replace("\\", "\\\\").replace('"', '\\"') for rid in rule_ids)
    return "alert.attributes.params.ruleId: (%s)" % quoted


def _apply_enable(result, targets, body):
    attributes = body.get("attributes") if isinstance(body.get("attributes"), dict) else {}
    results = attributes.get("results") if isinstance(attributes.get("results"), dict) else {}
    by_id = {r.rule_id: r for r in targets}
    by_name = {r.name: r for r in targets}
    for rule in results.get("updated") or []:
        if isinstance(rule, dict) and rule.get("rule_id") in by_id:
            by_id[rule["rule_id"]].enabled = True
    for rule in results.get("skipped") or []:  # nothing to change: already enabled
        target = by_name.get(rule.get("name")) if isinstance(rule, dict) else None
        if target is not None:
            target.enabled = True
    for error in attributes.get("errors") or []:
        text = _error_text(error)
        named = [by_name[r.get("name")] for r in error.get("rules") or [] if isinstance(r, dict) and r.get("name") in by_name]
        if not named:
            result.other_errors.append("enable: %s" % text)
        for target in named:
            target.enabled, target.message = False, "enable failed: " + text
    for target in targets:
        if target.enabled is None:
            target.enabled = False
            target.message = target.message or "enable: Kibana did not report this rule as enabled"


# ----------------------------------------------------------------------------------------------
# The deploy
# ----------------------------------------------------------------------------------------------

def deploy_rules(kibana_url, ndjson_path, space=None, dry_run=False, enable=False, ca_cert=None,
                 insecure=False, session=None, environ=None):
    """Import ``ndjson_path`` into Kibana (overwriting rules with the same rule_id); DeployResult.

    ``dry_run`` reads and checks everything but sends nothing. ``environ`` (default os.environ)
    holds the credentials. Raises DeployError when the deploy cannot start or Kibana refuses the
    request; per-rule failures are in the result, not raised.
    """
    content, rules = read_rules(ndjson_path)
    base = kibana_base(kibana_url, space)
    if ca_cert and insecure:
        raise DeployError("--ca-cert and --insecure contradict each other: choose one")
    if ca_cert and not Path(ca_cert).is_file():
        raise DeployError("--ca-cert %s: no such file" % ca_cert)
    result = DeployResult(target=base, rules=rules, dry_run=dry_run, enable=enable)
    if dry_run:
        result.auth = _describe_auth(environ)
        return result
    auth_text, auth, secrets = credentials(environ)
    result.auth = auth_text
    verify = False if insecure else (str(ca_cert) if ca_cert else True)
    session = session or requests.Session()
    headers = {"kbn-xsrf": "true", "elastic-api-version": API_VERSION}

    what = "import"
    response = _post(session, base + IMPORT_PATH, what, secrets, verify, auth=auth, headers=headers,
                     params={"overwrite": "true"},
                     files={"file": (UPLOAD_NAME, content, "application/x-ndjson")})
    _check_status(response, what, space, auth_text, secrets)
    _apply_import(result, _json_body(response, what, secrets))

    targets = [r for r in result.rules if r.imported]
    if enable and targets:
        what = "enable"
        body = {"action": "enable", "query": enable_query([r.rule_id for r in targets])}
        try:
            response = _post(session, base + BULK_ACTION_PATH, what, secrets, verify, auth=auth,
                             headers=headers, json=body)
            # a partial failure is HTTP 500 with the per-rule body
            if response.status_code == 500:
                bulk = _json_body(response, what, secrets)
                if not isinstance(bulk.get("attributes"), dict):
                    _check_status(response, what, space, auth_text, secrets)
            else:
                _check_status(response, what, space, auth_text, secrets)
                bulk = _json_body(response, what, secrets)
            _apply_enable(result, targets, bulk)
        except DeployError as err:  # the import stands; report every rule as not enabled
            for target in targets:
                target.enabled, target.message = False, str(err)
    return result


# ----------------------------------------------------------------------------------------------
# Output and the command
# ----------------------------------------------------------------------------------------------

def _mark(value, yes, no):
    return "-" if value is None else (yes if value else no)


def print_result(result, console):
    from rich.table import Table
    from rich.text import Text  # plain text cells: a "[" in a rule name is not rich markup

    title = "Rules %s %s" % ("that would be imported into" if result.dry_run else "imported into", result.target)
    table = Table(title=Text(title), title_justify="left")
    table.add_column("rule_id", no_wrap=True)
    table.add_column("name", overflow="fold")
    if result.dry_run:
        table.add_column("type", no_wrap=True)
        table.add_column("severity", no_wrap=True)
    else:
        table.add_column("import", no_wrap=True)
        if result.enable:
            table.add_column("enable", no_wrap=True)
    for rule in sorted(result.rules, key=lambda r: (not r.failed, r.name)):
        row = [rule.rule_id, rule.name]
        if result.dry_run:
            row += [rule.type, rule.severity]
        else:
            row.append(_mark(rule.imported, "ok", "FAILED"))
            if result.enable:
                row.append(_mark(rule.enabled, "ok", "FAILED"))
        table.add_row(*[Text(cell) for cell in row])
    console.print(table)
    # the reasons go below the table, one unwrapped line each, so logs keep them whole
    for rule in result.rules:
        if rule.failed:
            console.print("FAILED %s (%s): %s" % (rule.rule_id, rule.name, rule.message), markup=False,
                          soft_wrap=True)
    if result.dry_run:
        console.print("dry run: would POST %s%s?overwrite=true with %d rules (file field `file`, %s)"
                      % (result.target, IMPORT_PATH, len(result.rules), UPLOAD_NAME), markup=False)
        if result.enable:
            console.print("dry run: then POST %s%s {\"action\": \"enable\"} for those rules"
                          % (result.target, BULK_ACTION_PATH), markup=False)
        console.print("credentials: %s. Nothing was sent to Kibana." % result.auth, markup=False)
        return
    for error in result.other_errors:
        console.print("error: " + error, markup=False, soft_wrap=True)
    failed = len(result.failed)
    summary = "%d of %d rules imported" % (sum(1 for r in result.rules if r.imported), len(result.rules))
    if result.enable:
        summary += ", %d enabled" % sum(1 for r in result.rules if r.enabled)
    if failed or result.other_errors:
        summary += "; %d failed" % failed if failed else "; Kibana reported errors"
    console.print(summary + ".", markup=False)


def _default_rules_path():
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


def _transport_warnings(kibana_url, insecure):
    out = []
    if insecure:
        out.append("--insecure: Kibana's TLS certificate is not verified")
    parts = urlsplit(kibana_url or "")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        out.append("plain http: the credentials cross the network unencrypted")
    return out


class _DeployFailed(click.ClickException):
    exit_code = 2


@click.command("elastic")
@click.option("--kibana-url", envvar=ENV_URL, metavar="URL",
              help="Kibana base URL, e.g. https://kibana.example.com:5601 (or set %s)." % ENV_URL)
@click.option("--space", metavar="SPACE", help="Kibana space id (default: the default space).")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), metavar="PATH",
              help="Rules NDJSON to import (default: build dist/elastic/rules.ndjson from detections/).")
@click.option("--dry-run", is_flag=True, help="Show what would be imported; send nothing.")
@click.option("--enable", is_flag=True, help="Enable the imported rules (they are imported disabled).")
@click.option("--ca-cert", type=click.Path(dir_okay=False), metavar="FILE",
              help="PEM file of the CA that signed Kibana's certificate.")
@click.option("--insecure", is_flag=True, help="Do not verify Kibana's TLS certificate (not recommended).")
def deploy_elastic(kibana_url, space, rules_file, dry_run, enable, ca_cert, insecure):
    """Import the Elastic Security rules into Kibana (overwriting earlier versions).

    Credentials come from the environment only: KIBANA_API_KEY, or KIBANA_USERNAME and
    KIBANA_PASSWORD. Exits 1 when any rule failed, 2 when the deploy could not run.
    """
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=160)  # logs and pipes: keep rule_ids whole
    try:
        kibana_base(kibana_url, space)  # a bad URL is reported before anything else happens
        path = rules_file or _default_rules_path()
        if not dry_run:
            for warning in _transport_warnings(kibana_url, insecure):
                click.echo("warning: " + warning, err=True)
        result = deploy_rules(kibana_url, path, space=space, dry_run=dry_run, enable=enable,
                              ca_cert=ca_cert, insecure=insecure)
    except DeployError as err:
        raise _DeployFailed(str(err))
    print_result(result, console)
    if not result.ok:
        sys.exit(1)
