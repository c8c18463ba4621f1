"""``awssignin status`` against the Kibana stand-in: missing, outdated, customised, newer, current,
not in the pack, and whether each rule is enabled; it only reads."""

import pytest
from click.testing import CliRunner

from harness.elastic import deploy as D
from harness.elastic import status as S

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
