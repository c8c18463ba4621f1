"""``awssignin status`` against the Kibana stand-in: missing, outdated, customised, newer, current,
not in the pack, and whether each rule is enabled; it only reads."""

import base64
import io
import tarfile

import pytest
from click.testing import CliRunner

from harness.elastic import deploy as D
from harness.elastic import status as S

from httpstandin import FakeServer
from kibana_standin import KibanaStandIn, small_pack

API_KEY = "c3RhdHVzOnN0YXR1cy1zZWNyZXQ="
KEY_ENV = {"KIBANA_API_KEY": API_KEY}


@pytest.fixture
def kibana():
    server = KibanaStandIn(api_key=API_KEY)
    yield server
    server.close()


def pack(tmp_path, versions, name="rules.ndjson"):
    return small_pack(tmp_path / name, versions)


def status(kibana, path, env_vars=KEY_ENV):
    return CliRunner().invoke(S.status, ["--kibana-url", kibana.url, "--rules", str(path)], env=env_vars,
                              catch_exceptions=False)


def row(output, rule_id):
    return next(line for line in output.splitlines() if rule_id + " " in line)


def test_status_names_each_rules_state(kibana, env, tmp_path):
    v1 = pack(tmp_path, [1, 1, 1, 1, 1, 1], "v1.ndjson")
    assert D.deploy_rules(kibana.url, v1, environ=KEY_ENV, enable_rules=["r-1"]).ok
    kibana.edit("r-2", query="user.name: bob")              # customised at the same version
    kibana.edit("r-3", version=5)                           # deployed from a later pack
    kibana.edit("r-4", exceptions_list=[{"id": "1", "list_id": "l", "namespace_type": "single"}])
    del kibana.rules()["r-5"]                                # deleted by the user: missing
    kibana.rules()["r-old"] = dict(kibana.rule("r-0"), rule_id="r-old", name="Old rule")
    v2 = pack(tmp_path, [2, 1, 1, 1, 1, 1], "v2.ndjson")
    kibana.requests.clear()

    result = status(kibana, v2)
    assert result.exit_code == 0, result.output
    assert kibana.writes() == []
    out = result.output
    assert "outdated" in row(out, "r-0") and "v1" in row(out, "r-0") and "v2" in row(out, "r-0")
    assert "current" in row(out, "r-1") and " yes " in row(out, "r-1")
    assert "customised" in row(out, "r-2") and "query" in row(out, "r-2") and " no " in row(out, "r-2")
    assert "newer" in row(out, "r-3") and "v5" in row(out, "r-3")
    assert "current" in row(out, "r-4") and " 1 " in row(out, "r-4")
    assert "missing" in row(out, "r-5")
    assert "not in pack" in row(out, "r-old")
    assert "1 missing, 1 outdated, 1 customised, 1 newer, 1 not in pack, 2 current; 1 enabled." in out


def test_status_reads_the_version_field_of_each_side(kibana, env, tmp_path):
    plan = D.deploy_rules(kibana.url, pack(tmp_path, [3]), environ=KEY_ENV, dry_run=True)
    assert [S.rule_state(o.plan) for o in plan.rules] == [S.MISSING]
    D.deploy_rules(kibana.url, pack(tmp_path, [3]), environ=KEY_ENV)
    later = D.deploy_rules(kibana.url, pack(tmp_path, [4], "v4.ndjson"), environ=KEY_ENV, dry_run=True)
    assert [(S.rule_state(o.plan), o.plan.target_version, o.plan.pack_version) for o in later.rules] == \
        [(S.OUTDATED, 3, 4)]


def test_status_errors_are_one_line_without_secrets(kibana, env, tmp_path):
    kibana.route = lambda request: (403, {"message": "no " + request["headers"]["authorization"]})
    result = status(kibana, pack(tmp_path, [1]))
    assert result.exit_code == 2
    assert [l for l in result.output.splitlines() if l.strip()] == [
        "Error: read the target: HTTP 403, the user may not manage detection rules (needs Security > Rules and "
        "Exceptions: All): no ***"]


# ------------------------------------------------------------------------------------------------
# the Splunk side: the installed app's version (GET /services/apps/local/<app>)

SPLUNK_PASSWORD = "spl-unk!pass"
SPLUNK_ENV = {"SPLUNK_USERNAME": "admin", "SPLUNK_PASSWORD": SPLUNK_PASSWORD}


def app_package(tmp_path, version):
    path = tmp_path / ("awssignin-%s.tgz" % version)
    conf = ("[package]\nid = awssignin\n\n[launcher]\nversion = %s\n" % version).encode()
    with tarfile.open(str(path), "w:gz") as tar:
        info = tarfile.TarInfo("awssignin/default/app.conf")
        info.size = len(conf)
        tar.addfile(info, io.BytesIO(conf))
    return path


def splunkd(installed):
    def route(req):
        expected = "Basic " + base64.b64encode(("admin:" + SPLUNK_PASSWORD).encode()).decode()
        if req.headers.get("Authorization") != expected:
            return 401, {"messages": [{"type": "WARN", "text": "call not properly authenticated "
                                       + str(req.headers.get("Authorization"))}]}
        if req.path == "/services/apps/local/awssignin" and req.method == "GET":
            if installed is None:
                return 404, {"messages": [{"type": "ERROR", "text": "Could not find object id=awssignin"}]}
            return 200, {"entry": [{"name": "awssignin", "content": {"version": installed, "disabled": False}}]}
        return 404, {"messages": [{"type": "ERROR", "text": "no route"}]}
    return route


@pytest.mark.parametrize("installed, state", [("0.1.0", "0.1.0 installed, the pack ships 0.2.0: outdated"),
                                              ("0.2.0", "0.2.0 installed, the pack ships 0.2.0: current"),
                                              ("0.10.0", "0.10.0 installed, the pack ships 0.2.0: newer"),
                                              (None, "not installed, the pack ships 0.2.0: not installed")])
def test_status_reports_the_installed_splunk_app_version(env, tmp_path, installed, state):
    package = app_package(tmp_path, "0.2.0")
    with FakeServer(splunkd(installed)) as server:
        result = CliRunner().invoke(S.status, ["--splunk-url", server.url, "--package", str(package)],
                                    env=SPLUNK_ENV, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Splunk %s: app awssignin %s" % (server.url, state)
    (req,) = server.requests
    assert req.query == {"output_mode": "json"} and req.method == "GET"


def test_status_of_both_platforms_in_one_run(kibana, env, tmp_path):
    rules = pack(tmp_path, [1])
    D.deploy_rules(kibana.url, rules, environ=KEY_ENV)
    with FakeServer(splunkd("0.2.0")) as server:
        result = CliRunner().invoke(S.status, ["--kibana-url", kibana.url, "--rules", str(rules), "--splunk-url",
                                               server.url, "--package", str(app_package(tmp_path, "0.2.0"))],
                                    env=dict(KEY_ENV, **SPLUNK_ENV), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "1 current; 0 enabled." in result.output and "the pack ships 0.2.0: current" in result.output


def test_splunk_status_refusal_is_scrubbed(env, tmp_path):
    with FakeServer(splunkd("0.2.0")) as server:
        result = CliRunner().invoke(S.status, ["--splunk-url", server.url, "--package",
                                               str(app_package(tmp_path, "0.2.0"))],
                                    env={"SPLUNK_USERNAME": "admin", "SPLUNK_PASSWORD": "wrong-secret"},
                                    catch_exceptions=False)
    assert result.exit_code == 2 and "HTTP 401" in result.output
    assert "wrong-secret" not in result.output
    assert base64.b64encode(b"admin:wrong-secret").decode() not in result.output
