"""``awssignin deploy splunk``: install or upgrade the built app on Splunk Enterprise over REST.

The one request that does it is Splunk's own app installer, ``POST /services/apps/local`` with
``name=<package location>``, ``filename=true`` (``name`` is a location, not an app name) and
``update=true`` (replace an installed copy), answered 200/201; splunk/splunk-ansible installs apps
exactly so (roles/splunk_common/tasks/install_app.yml), also on first install, and the REST API
Reference lists these parameters under Application endpoints, ``apps/local``
(https://help.splunk.com/en/splunk-enterprise/rest-api-reference/9.3/application-endpoints; its
older ``apps/appinstall`` is deprecated there).

Limits, plainly:

- **The package must already be readable by splunkd.** ``name`` is a path on the Splunk server or a
  URL splunkd downloads; the REST API has no upload of a file from the client (Splunk Web's "Install
  app from file" is a Splunk Web form, not splunkd REST). So either copy the package to the Splunk
  host first (``scp``, ``docker cp``) and pass ``--server-path``, or serve it over HTTP(S) where
  splunkd can reach it and pass ``--package-url``. The local package (``--package``, by default
  the one ``awssignin build`` wrote to dist/) is read to know the app id and version to expect, and
  the version splunkd reports afterwards is compared with it.
- **Upgrading keeps local/.** Splunk's installer unpacks the package to a temporary folder and
  copies it over the app's folder (its own error texts name the copy from var/run/splunk/bundle_tmp,
  1Password/events-api-splunk#32); files the package does not carry stay, which is also why an
  upgrade cannot delete files (splunk/eventgen#380). Our package never carries ``local/`` or
  ``metadata/local.meta`` (the build and AppInspect refuse them), and this command refuses a package
  that does, so the admin's local/savedsearches.conf, local/macros.conf and local.meta survive.
  Files an older version shipped and the new one dropped stay too.
- Some changes need a splunkd restart before they apply; ``--restart`` asks for one
  (``POST /services/server/control/restart``), otherwise the output says to.
- **Splunk Cloud Platform** does not take apps over this endpoint: private apps go through the
  Admin Config Service, which vets them with AppInspect first. ``--cloud`` prints those steps
  (``acs apps install private --app-package ... --acs-legal-ack Y``, as in splunk/acs-privateapps-demo
  .github/workflows/acs-demo.yml; "Manage private apps in Splunk Cloud Platform" in the ACS manual)
  and sends nothing.

Credentials come only from the environment: ``SPLUNK_TOKEN`` (an authentication token, sent as
``Authorization: Bearer <token>``) or ``SPLUNK_USERNAME`` + ``SPLUNK_PASSWORD`` (basic auth).
They are never accepted on the command line or in the URL, and every text from the server or the
HTTP stack is scrubbed of them in every encoding this client sends (raw, ``user:password``, its
base64, URL- and JSON-encoded; harness/elastic/kibana_api.Scrubber) and cut to one bounded line.
TLS is verified by default; ``--ca-cert`` trusts a private CA, ``--insecure`` (with a warning)
skips the check. Redirects are not followed and ~/.netrc is never read.

Tested against a stand-in splunkd written from the documented API (tests/splunk/test_deploy_splunk.py);
no real Splunk was reached here.
"""

import json
import os
import re
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional
from urllib.parse import quote, urlsplit

import click
import requests
import requests.auth

from ..elastic.kibana_api import ERROR_BODY_LIMIT, MESSAGE_LIMIT, Scrubber, basic_auth
from ..elastic.kibana_api import connection_reason, tls_reason

ENV_TOKEN = "SPLUNK_TOKEN"
ENV_USERNAME = "SPLUNK_USERNAME"
ENV_PASSWORD = "SPLUNK_PASSWORD"
TIMEOUT = (10, 300)            # connect, read: splunkd unpacks and copies the app before answering
MAX_BODY = 4 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_APP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class DeployError(Exception):
    """The deploy could not run or Splunk refused it; the message is one line without secrets."""


@dataclass
class Package:
    path: Path
    app: str
    version: str


@dataclass
class DeployResult:
    target: str
    package: Package
    source: str                       # what splunkd was told to install from
    auth: str                         # which credentials, by variable name
    before: Optional[str] = None      # installed version before (None: not installed)
    after: Optional[str] = None
    restarted: bool = False

    @property
    def action(self):
        if self.before is None:
            return "installed"
        return "reinstalled" if self.before == self.after else "upgraded"


# ----------------------------------------------------------------------------------------------
# Inputs
# ----------------------------------------------------------------------------------------------

def _conf_value(text, stanza, key):
    """``key`` of ``[stanza]`` in a .conf text (one-line values; app.conf has no others)."""
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[(.*)\]$", line)
        if m:
            current = m.group(1).strip()
        elif current == stanza and "=" in line:
            name, _, value = line.partition("=")
            if name.strip() == key:
                return value.strip()
    return None


def read_package(path):
    """The app id and version of a Splunk app package (.tgz / .tar.gz / .spl: a gzipped tar of one
    app folder); DeployError naming the file and member when it is not one or would overwrite an
    admin's local state on upgrade."""
    path = Path(path)
    if not path.is_file():
        raise DeployError("no app package at %s (run `awssignin build`, or pass --package)" % path)
    try:
        with tarfile.open(str(path), "r:gz") as tar:
            members = tar.getmembers()
            names = [m.name for m in members]
            tops = sorted({n.split("/", 1)[0] for n in names if n})
            if len(tops) != 1 or not _APP_ID.match(tops[0]):
                raise DeployError("%s: an app package holds exactly one app folder, found %s"
                                  % (path, ", ".join(tops) or "nothing"))
            app = tops[0]
            for name in names:
                parts = name.split("/")
                if name.startswith("/") or ".." in parts:
                    raise DeployError("%s: member %r points outside the app folder" % (path, name))
                if (len(parts) > 1 and parts[1] == "local") or name == "%s/metadata/local.meta" % app:
                    raise DeployError("%s: member %r would replace the admin's local settings on upgrade; "
                                      "packages must not ship local/ or metadata/local.meta" % (path, name))
            try:
                member = tar.extractfile("%s/default/app.conf" % app)
            except KeyError:
                member = None
            if member is None:
                raise DeployError("%s: no %s/default/app.conf" % (path, app))
            text = member.read(256 * 1024).decode("utf-8", errors="replace")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise DeployError("%s: not a gzipped tar app package (%s)" % (path, err))
    package_id = _conf_value(text, "package", "id")
    if package_id and package_id != app:
        raise DeployError("%s: app.conf [package] id is %r but the folder is %r; Splunk installs the folder"
                          % (path, package_id, app))
    version = _conf_value(text, "launcher", "version") or _conf_value(text, "id", "version")
    if not version:
        raise DeployError("%s: %s/default/app.conf has no [launcher] or [id] version" % (path, app))
    return Package(path=path, app=app, version=version)


def default_package(layout):
    """The one app package ``awssignin build`` left in dist/."""
    found = sorted(p for p in layout.dist.glob("awssignin-*") if p.name.endswith((".tgz", ".tar.gz", ".spl")))
    if len(found) != 1:
        raise DeployError("%s app packages in %s%s; run `awssignin build` or pass --package"
                          % ("no" if not found else len(found), layout.dist,
                             "" if not found else " (%s)" % ", ".join(p.name for p in found)))
    return found[0]


def management_url(url):
    """The splunkd management URL (https://host:8089), checked: no credentials, path or query."""
    if not url:
        raise DeployError("no Splunk URL: pass --url https://<splunk host>:8089")
    if "@" in url:   # user:password@host: never echo it
        raise DeployError("the Splunk URL must not contain credentials: set %s, or %s and %s"
                          % (ENV_TOKEN, ENV_USERNAME, ENV_PASSWORD))
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeployError("--url must be an https:// URL of splunkd's management port, e.g. https://splunk:8089")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise DeployError("--url is splunkd's address only (scheme, host, port), without a path or query")
    return "%s://%s" % (parts.scheme, parts.netloc)


class _BearerAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token>`` (Splunk authentication tokens); as an auth object it also
    keeps requests from reading ~/.netrc."""

    def __init__(self, token):
        self.token = token

    def __call__(self, request):
        request.headers["Authorization"] = "Bearer " + self.token
        return request


def credentials(environ=None):
    """(description, requests auth, secrets to scrub) from the environment; DeployError if none."""
    env = os.environ if environ is None else environ
    token = env.get(ENV_TOKEN, "").strip()
    if token:
        return "token from %s" % ENV_TOKEN, _BearerAuth(token), [token, "Bearer " + token]
    user, password = env.get(ENV_USERNAME, ""), env.get(ENV_PASSWORD, "")
    if user and password:
        auth, secrets = basic_auth(user, password)
        return "basic auth from %s/%s" % (ENV_USERNAME, ENV_PASSWORD), auth, secrets
    if user or password:
        raise DeployError("%s is not set (basic auth needs both %s and %s)"
                          % (ENV_PASSWORD if user else ENV_USERNAME, ENV_USERNAME, ENV_PASSWORD))
    raise DeployError("no Splunk credentials: set %s (an authentication token), or %s and %s"
                      % (ENV_TOKEN, ENV_USERNAME, ENV_PASSWORD))


# ----------------------------------------------------------------------------------------------
# HTTP
# ----------------------------------------------------------------------------------------------

class SplunkRest(object):
    """Requests to one splunkd; every text it returns is scrubbed and bounded."""

    def __init__(self, base, auth, auth_text, secrets, verify=True, session=None):
        self.base, self.auth, self.auth_text, self.verify = base, auth, auth_text, verify
        self.scrubber = Scrubber(secrets)
        # the auth object is always set, so requests never falls back to ~/.netrc
        self.session = session or requests.Session()

    def clean(self, text, truncated=False):
        return self.scrubber.clean(text, limit=MESSAGE_LIMIT, truncated=truncated)

    def request(self, method, path, what, data=None, ok=(200, 201), extra_ok=()):
        """(status, JSON body or None) of a request answered with a status in ``ok`` + ``extra_ok``;
        DeployError, naming ``what``, for anything else."""
        params = {"output_mode": "json"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # --insecure warned once already
                response = self.session.request(method, self.base + path, params=params, data=data,
                                                auth=self.auth, verify=self.verify, timeout=TIMEOUT,
                                                allow_redirects=False, stream=True,
                                                headers={"Accept-Encoding": "identity"})
                try:
                    status = response.status_code
                    limit = MAX_BODY if 200 <= status < 300 else ERROR_BODY_LIMIT
                    raw = response.raw.read(limit + 1) or b""
                finally:
                    response.close()
        except requests.exceptions.SSLError as err:
            raise DeployError("%s: TLS verification of %s failed (%s); use --ca-cert FILE for a private CA, "
                              "or --insecure to skip verification" % (what, self.base, self.clean(tls_reason(str(err)))))
        except requests.exceptions.Timeout:
            raise DeployError("%s: splunkd at %s did not answer within %d s" % (what, self.base, TIMEOUT[1]))
        except requests.exceptions.ConnectionError as err:
            raise DeployError("%s: cannot connect to splunkd at %s: %s" % (what, self.base, connection_reason(str(err))))
        except (requests.exceptions.RequestException, OSError) as err:
            raise DeployError("%s: request to %s failed: %s" % (what, self.base, self.clean(err)))
        truncated = len(raw) > limit
        text = raw[:limit].decode("utf-8", errors="replace")
        body = None
        if not truncated:
            try:
                body = json.loads(text)
            except ValueError:
                body = None
        if status in ok or status in extra_ok:
            if 200 <= status < 300 and truncated:
                raise DeployError("%s: splunkd's answer is larger than %d KiB" % (what, MAX_BODY // 1024))
            return status, body
        detail = self.clean(_messages(body)) if body is not None else self.clean(text, truncated=truncated)
        detail = (": " + detail) if detail else ""
        if 300 <= status < 400:
            raise DeployError("%s: splunkd answered HTTP %d (a redirect); pass splunkd's management URL itself"
                              % (what, status))
        if status == 401:
            raise DeployError("%s: splunkd rejected the credentials (HTTP 401, %s)%s" % (what, self.auth_text, detail))
        if status == 403:
            raise DeployError("%s: HTTP 403, the user may not install apps (needs the install_apps and "
                              "edit_local_apps capabilities, e.g. the admin role)%s" % (what, detail))
        raise DeployError("%s: splunkd refused the request with HTTP %d%s" % (what, status, detail))


def _messages(body):
    """Splunk's error text from a JSON answer: ``{"messages": [{"type": "ERROR", "text": ...}]}``."""
    if isinstance(body, dict):
        texts = [str(m.get("text", "")) for m in body.get("messages") or [] if isinstance(m, dict)]
        return "; ".join(t for t in texts if t)
    return ""


def installed_version(rest, app):
    """The installed app's version (``GET apps/local/<app>``), or None when it is not installed."""
    status, body = rest.request("GET", "/services/apps/local/%s" % quote(app, safe=""),
                                "reading the installed app", extra_ok=(404,))
    if status == 404:
        return None
    try:
        return str(body["entry"][0]["content"].get("version") or "")
    except (KeyError, IndexError, TypeError):
        raise DeployError("reading the installed app: splunkd's answer has no entry for %s" % app)


# ----------------------------------------------------------------------------------------------
# The deploy
# ----------------------------------------------------------------------------------------------

def deploy_app(url, package_path, server_path=None, package_url=None, ca_cert=None, insecure=False,
               restart=False, environ=None, session=None):
    """Install or upgrade the app of ``package_path`` from ``server_path`` (on the Splunk host) or
    ``package_url`` (fetched by splunkd); returns a DeployResult, raises DeployError."""
    base = management_url(url)
    package = read_package(package_path)
    if bool(server_path) == bool(package_url):
        raise DeployError("say where splunkd finds the package: --server-path PATH (copied to the Splunk host) "
                          "or --package-url URL (downloaded by splunkd), exactly one")
    source = server_path or package_url
    if package_url and urlsplit(package_url).scheme not in ("http", "https"):
        raise DeployError("--package-url must be an http:// or https:// URL")
    if server_path and not server_path.startswith("/") and not re.match(r"^[A-Za-z]:[\\/]", server_path):
        raise DeployError("--server-path must be an absolute path on the Splunk host")
    if ca_cert and insecure:
        raise DeployError("--ca-cert and --insecure contradict each other: choose one")
    if ca_cert and not Path(ca_cert).is_file():
        raise DeployError("--ca-cert %s: no such file" % ca_cert)
    auth_text, auth, secrets = credentials(environ)
    verify = False if insecure else (str(ca_cert) if ca_cert else True)
    rest = SplunkRest(base, auth, auth_text, secrets, verify=verify, session=session)
    result = DeployResult(target=base, package=package, source=source, auth=auth_text)
    result.before = installed_version(rest, package.app)
    rest.request("POST", "/services/apps/local", "installing %s" % package.app,
                 data={"name": source, "filename": "true", "update": "true"})
    result.after = installed_version(rest, package.app)
    if result.after is None:
        raise DeployError("splunkd accepted the install but lists no app %r afterwards; is %s the package "
                          "of that app?" % (package.app, source))
    if result.after != package.version:
        raise DeployError("splunkd reports %s version %s after the install, the package is version %s: "
                          "%s is not the package read locally (%s)"
                          % (package.app, result.after, package.version, source, package.path))
    if restart:
        rest.request("POST", "/services/server/control/restart", "restarting splunkd", ok=(200, 201, 202))
        result.restarted = True
    return result


def cloud_steps(package_path, stack=None):
    """The Admin Config Service commands that install the package on Splunk Cloud Platform."""
    stack = stack or "<stack>"
    return [
        "Splunk Cloud Platform installs private apps through the Admin Config Service (ACS), which first",
        "vets the package with AppInspect; this command sends nothing there. With the ACS CLI:",
        "",
        "  acs config add-stack %s --use" % stack,
        "  export STACK_TOKEN=...          # an authentication token of the stack (sc_admin role)",
        "  acs login",
        "  export SPLUNK_USERNAME=... SPLUNK_PASSWORD=...   # your splunk.com account, for AppInspect",
        "                                  # (not the Splunk Enterprise login `deploy splunk` reads)",
        "  acs apps install private --app-package %s --acs-legal-ack Y" % package_path,
        "",
        "Upgrade: the same install command with the newer package. See \"Manage private apps in Splunk",
        "Cloud Platform\" (Admin Config Service manual) for the Victoria/Classic differences.",
    ]


# ----------------------------------------------------------------------------------------------
# Output and the command
# ----------------------------------------------------------------------------------------------

def print_result(result, console):
    from rich.table import Table
    from rich.text import Text    # plain cells: nothing from the package or server is markup

    table = Table(title=Text("Splunk app deployed to %s" % result.target), title_justify="left")
    for column in ("app", "before", "after", "action", "local/", "restart"):
        table.add_column(column, no_wrap=True)
    restart = "requested" if result.restarted else "not requested"
    table.add_row(*[Text(c) for c in (result.package.app, result.before or "(not installed)", result.after,
                                      result.action, "kept" if result.before is not None else "-", restart)])
    console.print(table)
    console.print("package: %s (version %s), installed from %s; credentials: %s"
                  % (result.package.path, result.package.version, result.source, result.auth),
                  markup=False, highlight=False, soft_wrap=True)
    if not result.restarted:
        console.print("Some changes (new commands, app.conf) apply after a splunkd restart: pass --restart, "
                      "or restart from Settings > Server controls.", markup=False, highlight=False)


class _DeployFailed(click.ClickException):
    exit_code = 2


def _transport_warnings(url, insecure):
    out = []
    if insecure:
        out.append("--insecure: splunkd's TLS certificate is not verified")
    parts = urlsplit(url or "")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        out.append("plain http: the credentials cross the network unencrypted")
    return out


@click.command("splunk")
@click.option("--url", metavar="URL", help="splunkd management URL, e.g. https://splunk.example.com:8089.")
@click.option("--package", "package_path", type=click.Path(dir_okay=False), metavar="PATH",
              help="The app package built by `awssignin build` (default: the one in dist/).")
@click.option("--server-path", metavar="PATH",
              help="Where the package was copied on the Splunk host (splunkd installs from there).")
@click.option("--package-url", metavar="URL", help="An http(s) URL splunkd downloads the package from.")
@click.option("--ca-cert", type=click.Path(dir_okay=False), metavar="FILE",
              help="PEM file of the CA that signed splunkd's certificate.")
@click.option("--insecure", is_flag=True, help="Do not verify splunkd's TLS certificate (not recommended).")
@click.option("--restart", is_flag=True, help="Restart splunkd after the install.")
@click.option("--cloud", is_flag=True, help="Splunk Cloud Platform: print the ACS steps instead; send nothing.")
@click.option("--stack", metavar="NAME", help="With --cloud: the stack name to put in the steps.")
def deploy_splunk(url, package_path, server_path, package_url, ca_cert, insecure, restart, cloud, stack):
    """Install or upgrade the Splunk app on Splunk Enterprise (apps/local; local/ is kept).

    Credentials come from the environment only: SPLUNK_TOKEN, or SPLUNK_USERNAME and
    SPLUNK_PASSWORD. The package must be readable by splunkd: --server-path or --package-url.
    Exits 2 when the deploy could not run or Splunk refused it.
    """
    from rich.console import Console
    from ..project import Layout, ProjectNotFound

    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(highlight=False, width=160)
    try:
        if not package_path:
            try:
                package_path = default_package(Layout())
            except ProjectNotFound as err:
                raise DeployError("%s; or pass --package PATH" % err)
        if cloud:
            read_package(package_path)
            for line in cloud_steps(package_path, stack):
                console.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        management_url(url)
        for warning in _transport_warnings(url, insecure):
            click.echo("warning: " + warning, err=True)
        result = deploy_app(url, package_path, server_path=server_path, package_url=package_url,
                            ca_cert=ca_cert, insecure=insecure, restart=restart)
    except DeployError as err:
        raise _DeployFailed(str(err))
    print_result(result, console)
