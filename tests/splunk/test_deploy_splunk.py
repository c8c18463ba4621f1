"""``awssignin deploy splunk`` against a stand-in splunkd on 127.0.0.1 written from Splunk's
documented app installer: ``GET /services/apps/local/<app>`` (404 when not installed, the app's
``version`` in its entry), ``POST /services/apps/local`` with ``name`` (a path on the server or a
URL it downloads), ``filename=true``, ``update=true`` (REST API Reference, Application endpoints;
splunk/splunk-ansible roles/splunk_common/tasks/install_app.yml), errors as
``{"messages": [{"type": ..., "text": ...}]}`` and HTTP 401 for bad credentials. How splunkd words
the refusal of an existing app without ``update`` is not documented; the stand-in answers 409 with
a message of that meaning. No real splunkd was reached here.
"""

import base64
import io
import json
import ssl
import tarfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from click.testing import CliRunner

from harness.splunk import deploy as D
from httpstandin import FakeServer, self_signed_certificate

USER = "deployer"
PASSWORD = "pw:3q9!Zx#s3cret/+="
TOKEN = "eyJraWQiOiJzcGx1bmsuc2VjcmV0IiwiYWxnIjoiSFM1MTIifQ.eyJzdWIiOiJkZXBsb3llciJ9.c2lnbmF0dXJl"
ENV = {"SPLUNK_USERNAME": USER, "SPLUNK_PASSWORD": PASSWORD}


def _package(directory, version="1.2.0", app="awssignin", extra=()):
    """A package as `awssignin build` writes it: one app folder, default/app.conf with its version."""
    path = Path(directory) / ("%s-%s.tgz" % (app, version))
    files = {"%s/default/app.conf" % app: "[package]\nid = %s\n\n[launcher]\nversion = %s\n" % (app, version),
             "%s/default/savedsearches.conf" % app: "[x]\nsearch = index=main\n"}
    files.update(dict((name, "x") for name in extra))
    with tarfile.open(str(path), "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


class StandInSplunkd(object):
    """The app installer of one splunkd. ``files`` maps package locations splunkd can read (server
    paths and URLs) to (app, version); ``apps`` holds what is installed."""

    def __init__(self, files, apps=None, report_version=None, echo_secrets=False):
        self.files = dict(files)
        self.apps = dict(apps or {})
        self.report_version = report_version
        self.echo_secrets = echo_secrets
        self.restarts = 0

    def authenticated(self, req):
        header = req.headers.get("Authorization") or ""
        good = {"Basic " + base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode(), "Bearer " + TOKEN}
        return header in good

    def route(self, req):
        if self.echo_secrets:    # a hostile or broken server that repeats what it was sent, every way
            header = req.headers.get("Authorization") or ""
            kind, _, value = header.partition(" ")
            secret = base64.b64decode(value).decode().split(":", 1)[1] if kind == "Basic" else value
            text = " | ".join([header, value] + sorted(_encodings(secret)))
            return 500, {"messages": [{"type": "ERROR", "text": text}]}
        if not self.authenticated(req):
            return 401, {"messages": [{"type": "WARN", "text": "call not properly authenticated"}]}
        assert req.query.get("output_mode") == "json"
        if req.path.startswith("/services/apps/local/") and req.method == "GET":
            app = req.path.rsplit("/", 1)[1]
            if app not in self.apps:
                return 404, {"messages": [{"type": "ERROR", "text": "Could not find object id=%s" % app}]}
            version = self.report_version or self.apps[app]
            return 200, {"entry": [{"name": app, "content": {"version": version, "disabled": False}}]}
        if req.path == "/services/apps/local" and req.method == "POST":
            form = req.form()
            if form.get("filename") != "true" or form.get("name") not in self.files:
                return 400, {"messages": [{"type": "ERROR", "text": "Error installing application: cannot read %s"
                                           % form.get("name")}]}
            app, version = self.files[form["name"]]
            if app in self.apps and form.get("update") != "true":
                return 409, {"messages": [{"type": "ERROR", "text": "App \"%s\" already exists; use update=true"
                                           % app}]}
            self.apps[app] = version
            return 201, {"entry": [{"name": app, "content": {"version": version}}]}
        if req.path == "/services/server/control/restart" and req.method == "POST":
            self.restarts += 1
            return 200, {}
        return 404, {"messages": [{"type": "ERROR", "text": "no route %s %s" % (req.method, req.path)}]}


def _deploy(splunkd, package, env=ENV, **kw):
    with FakeServer(splunkd.route) as server:
        kw.setdefault("server_path", "/tmp/awssignin.tgz")
        result = D.deploy_app(server.url, package, environ=env, **kw)
    return result, server


def test_a_fresh_install_sends_the_documented_request(tmp_path):
    package = _package(tmp_path)
    splunkd = StandInSplunkd({"/tmp/awssignin.tgz": ("awssignin", "1.2.0")})
    result, server = _deploy(splunkd, package)
    [install] = server.find("POST", "/services/apps/local")
    assert install.form() == {"name": "/tmp/awssignin.tgz", "filename": "true", "update": "true"}
    assert install.query == {"output_mode": "json"}
    assert install.basic_auth() == "%s:%s" % (USER, PASSWORD)
    assert (result.before, result.after, result.action) == (None, "1.2.0", "installed")
    assert splunkd.restarts == 0


def test_an_installed_app_is_upgraded_not_refused(tmp_path):
    package = _package(tmp_path, "1.3.0")
    splunkd = StandInSplunkd({"https://artifacts.example/awssignin-1.3.0.tgz": ("awssignin", "1.3.0")},
                             apps={"awssignin": "1.2.0"})
    result, server = _deploy(splunkd, package, server_path=None,
                             package_url="https://artifacts.example/awssignin-1.3.0.tgz", restart=True)
    assert (result.before, result.after, result.action) == ("1.2.0", "1.3.0", "upgraded")
    assert splunkd.restarts == 1 and result.restarted
    # the stand-in refuses an existing app without update=true, as splunkd does: the request carried it
    [install] = server.find("POST", "/services/apps/local")
    assert install.form()["update"] == "true"
    refused = StandInSplunkd({"/p.tgz": ("awssignin", "1.3.0")}, apps={"awssignin": "1.2.0"})
    with FakeServer(refused.route) as other:
        import requests
        answer = requests.post(other.url + "/services/apps/local", params={"output_mode": "json"},
                               data={"name": "/p.tgz", "filename": "true"}, auth=(USER, PASSWORD))
    assert answer.status_code == 409 and refused.apps["awssignin"] == "1.2.0"


def test_splunk_refusing_the_install_is_reported_with_its_message(tmp_path):
    package = _package(tmp_path)
    splunkd = StandInSplunkd({})
    with pytest.raises(D.DeployError, match=r"installing awssignin: splunkd refused the request with HTTP 400: "
                                            r"Error installing application: cannot read /tmp/awssignin.tgz"):
        _deploy(splunkd, package)


def test_bad_credentials_are_a_401_naming_the_variables_never_the_values(tmp_path):
    package = _package(tmp_path)
    splunkd = StandInSplunkd({"/tmp/awssignin.tgz": ("awssignin", "1.2.0")})
    with pytest.raises(D.DeployError) as err:
        _deploy(splunkd, package, env={"SPLUNK_USERNAME": USER, "SPLUNK_PASSWORD": "wrong-" + PASSWORD})
    text = str(err.value)
    assert "HTTP 401" in text and "SPLUNK_USERNAME/SPLUNK_PASSWORD" in text and "call not properly authenticated" in text
    assert PASSWORD not in text
    with pytest.raises(D.DeployError, match="SPLUNK_PASSWORD is not set"):
        _deploy(splunkd, package, env={"SPLUNK_USERNAME": USER})
    with pytest.raises(D.DeployError, match="no Splunk credentials: set SPLUNK_TOKEN"):
        _deploy(splunkd, package, env={})


def test_a_token_is_sent_as_bearer(tmp_path):
    package = _package(tmp_path)
    splunkd = StandInSplunkd({"/tmp/awssignin.tgz": ("awssignin", "1.2.0")})
    result, server = _deploy(splunkd, package, env={"SPLUNK_TOKEN": TOKEN, "SPLUNK_PASSWORD": "ignored"})
    assert {r.headers["Authorization"] for r in server.requests} == {"Bearer " + TOKEN}
    assert result.auth == "token from SPLUNK_TOKEN"


def _encodings(secret):
    return {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
            base64.b64encode(secret.encode()).decode()}


def test_secrets_never_reach_the_output_in_any_encoding(tmp_path, monkeypatch):
    package = _package(tmp_path)
    splunkd = StandInSplunkd({}, echo_secrets=True)
    for env, forms in ((ENV, _encodings(PASSWORD) | _encodings("%s:%s" % (USER, PASSWORD))),
                       ({"SPLUNK_TOKEN": TOKEN}, _encodings(TOKEN))):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        with FakeServer(splunkd.route) as server:
            result = CliRunner().invoke(D.deploy_splunk, [
                "--url", server.url, "--package", str(package), "--server-path", "/tmp/a.tgz"])
        assert result.exit_code == 2, result.output
        shown = result.output + (getattr(result, "stderr", "") or "")
        assert "HTTP 500" in shown and "***" in shown
        for form in forms:
            assert form not in shown, "a secret leaked as %r" % form
        for name in env:
            monkeypatch.delenv(name)


def test_the_cli_prints_a_result_table(tmp_path, monkeypatch):
    package = _package(tmp_path, "1.3.0")
    splunkd = StandInSplunkd({"/opt/pkgs/awssignin-1.3.0.tgz": ("awssignin", "1.3.0")}, apps={"awssignin": "1.2.0"})
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    with FakeServer(splunkd.route) as server:
        result = CliRunner().invoke(D.deploy_splunk, ["--url", server.url, "--package", str(package),
                                                      "--server-path", "/opt/pkgs/awssignin-1.3.0.tgz"])
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "before" in line)
    row = next(line for line in result.output.splitlines() if "upgraded" in line)
    for column in ("app", "before", "after", "action", "local/", "restart"):
        assert column in header
    for cell in ("awssignin", "1.2.0", "1.3.0", "upgraded", "kept", "not requested"):
        assert cell in row
    assert "--restart" in result.output and PASSWORD not in result.output
    assert "warning" not in result.output     # plain http to 127.0.0.1 is not warned about


def test_a_version_splunk_does_not_report_is_an_error(tmp_path):
    package = _package(tmp_path, "1.3.0")
    splunkd = StandInSplunkd({"/tmp/awssignin.tgz": ("awssignin", "1.3.0")}, report_version="1.2.0",
                             apps={"awssignin": "1.2.0"})
    with pytest.raises(D.DeployError, match="reports awssignin version 1.2.0 after the install, the package is version 1.3.0"):
        _deploy(splunkd, package)


def test_packages_that_would_replace_local_state_are_refused_before_sending(tmp_path):
    for member in ("awssignin/local/savedsearches.conf", "awssignin/metadata/local.meta"):
        package = _package(tmp_path, extra=[member])
        with pytest.raises(D.DeployError, match="would replace the admin's local settings"):
            _deploy(StandInSplunkd({}), package)
    two = tmp_path / "two"
    two.mkdir()
    with tarfile.open(str(two / "p.tgz"), "w:gz") as tar:
        for name in ("a/default/app.conf", "b/default/app.conf"):
            info = tarfile.TarInfo(name)
            tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(D.DeployError, match="exactly one app folder, found a, b"):
        D.read_package(two / "p.tgz")
    (tmp_path / "not.tgz").write_text("plain text")
    with pytest.raises(D.DeployError, match="not a gzipped tar app package"):
        D.read_package(tmp_path / "not.tgz")


def test_the_built_package_is_readable(layout):
    from harness.build import build_dist
    from harness.detections import load_all
    built = [p for p in build_dist(layout, load_all(layout.detections)) if str(p).endswith(".tgz")]
    [path] = built
    package = D.read_package(path)
    from harness.splunk.appbuild import APP_ID, project_version
    assert (package.app, package.version) == (APP_ID, project_version(layout))
    assert D.default_package(layout) == path


def test_inputs_are_checked_before_anything_is_sent(tmp_path):
    package = _package(tmp_path)
    bad = [({"url": "https://%s:%s@splunk:8089" % (USER, PASSWORD)}, "must not contain credentials"),
           ({"url": "https://splunk:8089/services"}, "without a path"),
           ({"url": "ftp://splunk"}, "https:// URL"),
           ({"server_path": None}, "exactly one"),
           ({"server_path": "relative.tgz"}, "absolute path"),
           ({"server_path": None, "package_url": "file:///etc/passwd"}, "http:// or https://"),
           ({"ca_cert": str(tmp_path / "ca.pem"), "insecure": True}, "contradict"),
           ({"ca_cert": str(tmp_path / "missing.pem")}, "no such file")]
    for kwargs, message in bad:
        args = {"url": "https://splunk.invalid:8089", "server_path": "/tmp/a.tgz"}
        args.update(kwargs)
        url = args.pop("url")
        (tmp_path / "ca.pem").write_text("x")
        with pytest.raises(D.DeployError, match=message) as err:
            D.deploy_app(url, package, environ=ENV, **args)
        assert PASSWORD not in str(err.value)


def test_cloud_prints_the_acs_steps_and_sends_nothing(tmp_path):
    package = _package(tmp_path)
    result = CliRunner().invoke(D.deploy_splunk, ["--cloud", "--stack", "acme", "--package", str(package),
                                                  "--url", "https://127.0.0.1:1"])
    assert result.exit_code == 0, result.output
    assert "acs config add-stack acme --use" in result.output
    assert "acs apps install private --app-package %s --acs-legal-ack Y" % package in result.output
    assert "AppInspect" in result.output and "sends nothing" in result.output


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    made = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("no openssl command to make a self-signed certificate")
    return made


def test_tls_is_verified_unless_told_otherwise(tmp_path, certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    package = _package(tmp_path)
    splunkd = StandInSplunkd({"/tmp/awssignin.tgz": ("awssignin", "1.2.0")})
    with FakeServer(splunkd.route, tls_context=context) as server:
        with pytest.raises(D.DeployError, match="TLS verification of https://127.0.0.1:.* failed .*--ca-cert"):
            D.deploy_app(server.url, package, server_path="/tmp/awssignin.tgz", environ=ENV)
        assert server.requests == []
        assert D.deploy_app(server.url, package, server_path="/tmp/awssignin.tgz", environ=ENV,
                            ca_cert=str(cert)).after == "1.2.0"
        assert D.deploy_app(server.url, package, server_path="/tmp/awssignin.tgz", environ=ENV,
                            insecure=True).action == "reinstalled"
    assert D._transport_warnings("https://splunk:8089", True) == ["--insecure: splunkd's TLS certificate is not verified"]
    assert D._transport_warnings("http://splunk:8089", False) == ["plain http: the credentials cross the network unencrypted"]
