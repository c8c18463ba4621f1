"""``awssignin deploy elastic`` against the Kibana stand-in (tests/elastic/kibana_standin.py), which
behaves like Kibana 8.19's documented rules API: import with overwrite replaces the whole rule, a
missing ``enabled`` means false, a missing ``exceptions_list`` means none, PUT resets what it does
not carry, PATCH keeps it. No real Kibana is reached here; the assertions are on the requests sent,
on the state the stand-in holds afterwards, and on what the command prints."""

import base64
import json
import shutil
import socket
import ssl

import pytest
from click.testing import CliRunner

from harness.elastic import deploy as D
from harness.elastic import deploy_plan as P
from harness.elastic import rules as R

from httpstandin import self_signed_certificate
from kibana_standin import KibanaStandIn

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
PASSWORD = "pw-3q9!Zx#secret"
KEY_ENV = {"KIBANA_API_KEY": API_KEY}

USER_EXCEPTIONS = [{"id": "el-1", "list_id": "site-allowlist", "namespace_type": "single", "type": "detection"}]
USER_ACTIONS = [{"group": "default", "id": "slack-1", "action_type_id": ".slack",
                 "params": {"message": "{{context.rule.name}}"}, "frequency": {"summary": True,
                                                                              "notifyWhen": "onActiveAlert",
                                                                              "throttle": None}}]


@pytest.fixture
def kibana():
    server = KibanaStandIn(api_key=API_KEY, basic=("deployer", PASSWORD), spaces=("default", "secops"))
    yield server
    server.close()


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    from harness.detections import load_all
    from harness.project import Layout

    root = tmp_path_factory.mktemp("dist")
    (path,) = R.elastic_rules(Layout(root), load_all(Layout().detections))
    return path


def run(*args, env_vars=None):
    return CliRunner().invoke(D.deploy_elastic, list(args), env=env_vars or {}, catch_exceptions=False)


def rule_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def write_rules(path, rules):
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rules), encoding="utf-8")
    return path


def deploy(kibana, path, *extra, env_vars=KEY_ENV):
    return run("--kibana-url", kibana.url, "--rules", str(path), *extra, env_vars=env_vars)


def line_of(output, text):
    return next(line for line in output.splitlines() if text in line)


# ------------------------------------------------------------------------------------------------
# the requests


def test_first_deploy_reads_then_creates_every_rule_disabled(kibana, rules_file, env):
    result = deploy(kibana, rules_file)
    assert result.exit_code == 0, result.output
    rules = rule_lines(rules_file)
    finds = [r for r in kibana.requests if r["method"] == "GET"]
    assert finds[0]["path"] == "/api/detection_engine/rules/_find"
    assert finds[0]["query"] == {"filter": [D.rule_id_filter([r["rule_id"] for r in rules])],
                                 "page": ["1"], "per_page": ["100"]}
    assert finds[0]["query"]["filter"][0].startswith('alert.attributes.params.ruleId: ("')
    assert finds[1]["query"]["filter"] == ['alert.attributes.params.author: "awssignin"']
    writes = kibana.writes()
    assert [w["method"] for w in writes] == ["POST"] * len(rules)
    for write in writes:
        assert write["path"] == "/api/detection_engine/rules"
        assert write["headers"]["kbn-xsrf"] == "true"
        assert write["headers"]["elastic-api-version"] == "2023-10-31"
        assert write["headers"]["authorization"] == "ApiKey " + API_KEY
        assert write["headers"]["content-type"] == "application/json"
    sent = {json.loads(w["body"])["rule_id"]: json.loads(w["body"]) for w in writes}
    for rule in rules:
        # Kibana enables a created rule when `enabled` is absent: it is always sent
        assert sent[rule["rule_id"]] == rule and sent[rule["rule_id"]]["enabled"] is False
        assert kibana.rule(rule["rule_id"])["enabled"] is False
    assert "%d new, 0 changed, 0 unchanged." % len(rules) in result.output
    assert API_KEY not in result.output


def test_space_and_basic_auth(kibana, rules_file, env):
    result = run("--kibana-url", kibana.url + "/", "--space", "secops", "--rules", str(rules_file),
                 env_vars={"KIBANA_USERNAME": "deployer", "KIBANA_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    expected = "Basic " + base64.b64encode(("deployer:" + PASSWORD).encode()).decode()
    assert {r["path"] for r in kibana.requests} == {"/s/secops/api/detection_engine/rules/_find",
                                                    "/s/secops/api/detection_engine/rules"}
    assert all(r["headers"]["authorization"] == expected for r in kibana.requests)
    assert len(kibana.rules("secops")) == len(rule_lines(rules_file)) and not kibana.rules("default")
    assert PASSWORD not in result.output


def test_kibana_url_from_environment_and_base_path(kibana, rules_file, env):
    result = run("--rules", str(rules_file), env_vars={"KIBANA_URL": kibana.url + "/kibana", **KEY_ENV})
    assert result.exit_code == 2          # the stand-in has no /kibana base path: 404 on the read
    assert kibana.requests[0]["path"] == "/kibana/api/detection_engine/rules/_find"
    assert "HTTP 404: is --kibana-url a Kibana with Elastic Security" in result.output


def test_the_default_space_has_no_prefix(kibana, rules_file, env):
    assert deploy(kibana, rules_file, "--space", "default").exit_code == 0
    assert kibana.requests[0]["path"] == "/api/detection_engine/rules/_find"


def test_finds_page_through_the_answer(kibana, rules_file, env, monkeypatch):
    monkeypatch.setattr(D, "PER_PAGE", 5)
    assert deploy(kibana, rules_file).exit_code == 0
    kibana.requests.clear()
    result = deploy(kibana, rules_file, "--dry-run")
    assert result.exit_code == 0, result.output
    n = len(rule_lines(rules_file))
    pages = [r["query"]["page"][0] for r in kibana.requests if "ruleId" in r["query"]["filter"][0]]
    assert pages == [str(p) for p in range(1, -(-n // 5) + 1)]
    assert "0 new, 0 changed, %d unchanged." % n in result.output


# ------------------------------------------------------------------------------------------------
# upgrades keep the user's state


def changed_pack(rules_file, tmp_path, index=0, query_suffix=" and not source.ip: 192.0.2.1"):
    rules = rule_lines(rules_file)
    rules[index] = dict(rules[index], query=rules[index]["query"] + query_suffix,
                        version=rules[index]["version"] + 1, note="new triage notes\n")
    return write_rules(tmp_path / "v2.ndjson", rules), rules


def test_redeploy_of_a_changed_pack_keeps_enabled_exceptions_actions_and_user_fields(kibana, rules_file, env, tmp_path):
    assert deploy(kibana, rules_file, "--enable").exit_code == 0
    rules = rule_lines(rules_file)
    changed, kept, disabled = rules[0]["rule_id"], rules[1]["rule_id"], rules[2]["rule_id"]
    for rid in (changed, kept):
        kibana.edit(rid, exceptions_list=USER_EXCEPTIONS, actions=USER_ACTIONS, throttle="1h",
                    investigation_fields={"field_names": ["source.ip"]}, timeline_id="tl-1",
                    risk_score_mapping=[{"field": "x", "operator": "equals", "value": "1", "risk_score": 90}])
    kibana.edit(disabled, enabled=False)
    revision_before = {rid: kibana.rule(rid)["revision"] for rid in (changed, kept)}
    v2, new_rules = changed_pack(rules_file, tmp_path)
    kibana.requests.clear()

    result = deploy(kibana, v2, "--enable")
    assert result.exit_code == 0, result.output
    writes = kibana.writes()
    assert [(w["method"], json.loads(w["body"])["rule_id"]) for w in writes] == [("PATCH", changed)]
    body = json.loads(writes[0]["body"])
    # only pack-owned fields: no enabled, exceptions_list, actions, throttle in the patch
    assert set(body) - {"rule_id"} <= P.PACK_FIELDS and "type" not in body
    assert body["query"] == new_rules[0]["query"] and body["version"] == rules[0]["version"] + 1
    after = kibana.rule(changed)
    assert after["query"] == new_rules[0]["query"] and after["note"] == "new triage notes\n"
    assert after["version"] == rules[0]["version"] + 1
    for rid in (changed, kept):
        rule = kibana.rule(rid)
        assert rule["enabled"] is True
        assert rule["exceptions_list"] == USER_EXCEPTIONS and rule["actions"] == USER_ACTIONS
        assert rule["throttle"] == "1h" and rule["timeline_id"] == "tl-1"
        assert rule["investigation_fields"] == {"field_names": ["source.ip"]}
    assert kibana.rule(kept)["revision"] == revision_before[kept]          # untouched
    assert kibana.rule(kept)["version"] == rules[1]["version"]             # only the changed rule's rises
    # --enable turns on new rules only: the rule the user disabled stays disabled
    assert kibana.rule(disabled)["enabled"] is False
    assert "0 new, 1 changed, %d unchanged." % (len(rules) - 1) in result.output
    line = line_of(result.output, changed)
    assert "changed" in line and "note, query, version" in line


def test_a_plain_import_would_have_lost_the_state(kibana, rules_file, env, tmp_path):
    """The stand-in's import behaves as Kibana >= 8.15.2 (#192272, #269435): the reason deploy patches."""
    assert deploy(kibana, rules_file, "--enable").exit_code == 0
    rid = rule_lines(rules_file)[0]["rule_id"]
    kibana.edit(rid, exceptions_list=USER_EXCEPTIONS, actions=USER_ACTIONS)
    import requests
    answer = requests.post(kibana.url + "/api/detection_engine/rules/_import", params={"overwrite": "true"},
                           headers={"kbn-xsrf": "true", "Authorization": "ApiKey " + API_KEY},
                           files={"file": ("rules.ndjson", rules_file.read_bytes(), "application/x-ndjson")})
    assert answer.status_code == 200 and answer.json()["success"] is True
    rule = kibana.rule(rid)
    assert rule["enabled"] is False and rule["exceptions_list"] == [] and rule["actions"] == []


def test_enable_rule_names_existing_rules_by_detection_id(kibana, rules_file, env):
    assert deploy(kibana, rules_file).exit_code == 0
    rid = R.rule_id("root_console_login")
    other = R.rule_id("console_login_failure")
    kibana.requests.clear()
    result = deploy(kibana, rules_file, "--enable-rule", "root_console_login", "--enable-rule", other)
    assert result.exit_code == 0, result.output
    patched = sorted(json.loads(w["body"])["rule_id"] for w in kibana.writes())
    assert patched == sorted([rid, other])
    assert all(json.loads(w["body"]) == {"rule_id": json.loads(w["body"])["rule_id"], "enabled": True}
               for w in kibana.writes())
    assert kibana.rule(rid)["enabled"] is True and kibana.rule(other)["enabled"] is True
    assert sum(r["enabled"] for r in kibana.rules().values()) == 2
    assert "off -> on" in line_of(result.output, rid)
    unknown = deploy(kibana, rules_file, "--enable-rule", "no_such_detection")
    assert unknown.exit_code == 2 and "--enable-rule no_such_detection: no rule of the pack" in unknown.output


def test_type_change_is_a_put_that_keeps_the_user_fields(kibana, rules_file, env, tmp_path):
    rules = rule_lines(rules_file)
    index = next(i for i, r in enumerate(rules) if r["type"] == "query")
    assert deploy(kibana, rules_file, "--enable").exit_code == 0
    rid = rules[index]["rule_id"]
    kibana.edit(rid, exceptions_list=USER_EXCEPTIONS, actions=USER_ACTIONS, throttle="1h",
                alert_suppression={"group_by": ["user.name"]})
    eql = dict(rules[index], type="eql", language="eql", query="any where true", version=rules[index]["version"] + 1)
    eql.pop("timestamp_override", None)
    rules[index] = eql
    kibana.requests.clear()
    result = deploy(kibana, write_rules(tmp_path / "eql.ndjson", rules))
    assert result.exit_code == 0, result.output
    (write,) = kibana.writes()
    assert write["method"] == "PUT"
    rule = kibana.rule(rid)
    assert rule["type"] == "eql" and rule["query"] == "any where true"
    assert rule["enabled"] is True and rule["exceptions_list"] == USER_EXCEPTIONS
    assert rule["actions"] == USER_ACTIONS and rule["throttle"] == "1h"
    assert "alert_suppression" not in rule        # a query rule's suppression means nothing to EQL


def test_a_field_the_pack_drops_is_removed_by_put_keeping_user_state(kibana, rules_file, env, tmp_path):
    rules = rule_lines(rules_file)
    index = next(i for i, r in enumerate(rules) if r.get("building_block_type"))
    assert deploy(kibana, rules_file).exit_code == 0
    rid = rules[index]["rule_id"]
    kibana.edit(rid, exceptions_list=USER_EXCEPTIONS, enabled=True)
    rules[index] = {k: v for k, v in rules[index].items() if k != "building_block_type"}
    rules[index]["version"] += 1
    kibana.requests.clear()
    result = deploy(kibana, write_rules(tmp_path / "nobb.ndjson", rules), "--dry-run")
    assert result.exit_code == 0 and not kibana.writes()
    assert "building_block_type: default -> (none)" in result.output
    result = deploy(kibana, tmp_path / "nobb.ndjson")
    assert result.exit_code == 0, result.output
    assert [w["method"] for w in kibana.writes()] == ["PUT"]
    rule = kibana.rule(rid)
    assert "building_block_type" not in rule
    assert rule["enabled"] is True and rule["exceptions_list"] == USER_EXCEPTIONS


def test_customisations_at_the_packs_version_are_kept_unless_overwrite(kibana, rules_file, env):
    rules = rule_lines(rules_file)
    assert deploy(kibana, rules_file).exit_code == 0
    rid = rules[0]["rule_id"]
    kibana.edit(rid, query="user.name: alice", tags=["mine"])
    kibana.requests.clear()
    plan = deploy(kibana, rules_file, "--dry-run", "--check")
    assert plan.exit_code == 0, plan.output                     # nothing a deploy would change
    assert "= %s (%s): customised on the target at v%d, kept: query, tags (--overwrite-customised resets them)" % (
        rid, rules[0]["name"], rules[0]["version"]) in plan.output
    assert "%d unchanged, 1 customised kept." % len(rules) in plan.output
    assert deploy(kibana, rules_file).exit_code == 0 and kibana.writes() == []
    assert kibana.rule(rid)["query"] == "user.name: alice"
    # an explicit index override still applies, and sends only the index
    assert deploy(kibana, rules_file, "--index", "custom-*").exit_code == 0
    bodies = [json.loads(w["body"]) for w in kibana.writes() if json.loads(w["body"])["rule_id"] == rid]
    assert bodies == [{"rule_id": rid, "index": ["custom-*"]}]
    assert kibana.rule(rid)["query"] == "user.name: alice" and kibana.rule(rid)["index"] == ["custom-*"]
    reset = deploy(kibana, rules_file, "--overwrite-customised")
    assert reset.exit_code == 0, reset.output
    rule = kibana.rule(rid)
    assert rule["query"] == rules[0]["query"] and rule["tags"] == rules[0]["tags"] and rule["index"] == rules[0]["index"]


# ------------------------------------------------------------------------------------------------
# dry run, check, rules no longer in the pack


def test_dry_run_prints_a_diff_per_rule_and_sends_nothing(kibana, rules_file, env, tmp_path):
    rules = rule_lines(rules_file)
    first = write_rules(tmp_path / "v1.ndjson", rules[1:] + [dict(rules[0], rule_id="retired-rule",
                                                                   name="Retired rule")])
    assert deploy(kibana, first).exit_code == 0
    v2, new_rules = changed_pack(rules_file, tmp_path, index=1)
    kibana.requests.clear()
    result = deploy(kibana, v2, "--dry-run")
    assert result.exit_code == 0, result.output
    assert kibana.writes() == [] and kibana.requests                     # reads, never writes
    out = result.output
    assert "+ %s (%s): new, created disabled" % (rules[0]["rule_id"], rules[0]["name"]) in out
    assert "~ %s (%s): v%d -> v%d, sent as PATCH" % (rules[1]["rule_id"], rules[1]["name"], rules[1]["version"],
                                                     rules[1]["version"] + 1) in out
    assert "    note: " in out and "-> new triage notes" in out
    assert "    version: %d -> %d" % (rules[1]["version"], rules[1]["version"] + 1) in out
    assert "- retired-rule (Retired rule): on the target, no longer in the pack (kept; --prune deletes it)" in out
    assert "dry run (nothing changed on Kibana): 1 new, 1 changed, %d unchanged, 1 not in the pack." % (
        len(rules) - 2) in out
    check = deploy(kibana, v2, "--dry-run", "--check")
    assert check.exit_code == 1 and kibana.writes() == []


def test_check_passes_when_the_target_matches(kibana, rules_file, env):
    assert deploy(kibana, rules_file, "--dry-run", "--check").exit_code == 1   # nothing deployed yet
    assert deploy(kibana, rules_file).exit_code == 0
    result = deploy(kibana, rules_file, "--dry-run", "--check")
    assert result.exit_code == 0, result.output
    assert "0 new, 0 changed, %d unchanged." % len(rule_lines(rules_file)) in result.output
    usage = deploy(kibana, rules_file, "--check")
    assert usage.exit_code == 2 and "--check goes with --dry-run" in usage.output


def test_rules_no_longer_in_the_pack_are_kept_unless_prune(kibana, rules_file, env, tmp_path):
    rules = rule_lines(rules_file)
    assert deploy(kibana, rules_file).exit_code == 0
    kibana.edit(rules[0]["rule_id"], name="x")           # a user rule of someone else is never touched:
    kibana.rules()["user-own"] = dict(kibana.rule(rules[0]["rule_id"]), rule_id="user-own", author=["alice"])
    smaller = write_rules(tmp_path / "smaller.ndjson", rules[1:])
    result = deploy(kibana, smaller)
    assert result.exit_code == 0, result.output
    assert rules[0]["rule_id"] in kibana.rules() and "user-own" in kibana.rules()
    assert "not in pack" in line_of(result.output, rules[0]["rule_id"])
    assert "user-own" not in result.output
    result = deploy(kibana, smaller, "--prune")
    assert result.exit_code == 0, result.output
    deletes = [w for w in kibana.writes() if w["method"] == "DELETE"]
    assert [d["query"] for d in deletes] == [{"rule_id": [rules[0]["rule_id"]]}]
    assert rules[0]["rule_id"] not in kibana.rules() and "user-own" in kibana.rules()


# ------------------------------------------------------------------------------------------------
# failures


@pytest.mark.parametrize("status, message", [(400, "threshold.value: Number must be greater than or equal to 1"),
                                             (500, "An internal server error occurred.")])
def test_one_rule_refused_does_not_stop_the_others(kibana, rules_file, env, status, message):
    rules = rule_lines(rules_file)
    bad = rules[1]
    kibana.fail[bad["rule_id"]] = (status, message)
    result = deploy(kibana, rules_file)
    assert result.exit_code == 1, result.output
    assert set(kibana.rules()) == {r["rule_id"] for r in rules} - {bad["rule_id"]}
    assert "FAILED" in line_of(result.output, bad["rule_id"])
    assert message in result.output
    assert "%d new, 0 changed, 0 unchanged; 1 failed." % len(rules) in result.output
    assert "FAILED" not in line_of(result.output, rules[0]["rule_id"])
    del kibana.fail[bad["rule_id"]]
    again = deploy(kibana, rules_file)                      # the next run finishes the job
    assert again.exit_code == 0 and "1 new, 0 changed, %d unchanged." % (len(rules) - 1) in again.output


def test_deploy_rules_returns_per_rule_outcomes(kibana, rules_file, env):
    bad = rule_lines(rules_file)[0]["rule_id"]
    kibana.fail[bad] = (409, 'rule_id: "%s" already exists' % bad)
    result = D.deploy_rules(kibana.url, rules_file, environ=KEY_ENV)
    assert not result.ok and [r.rule_id for r in result.failed] == [bad]
    (outcome,) = result.failed
    assert outcome.message.startswith("create: Kibana refused the request with HTTP 409")
    assert all(r.done for r in result.rules if r.rule_id != bad)


@pytest.mark.parametrize("status, body, words", [
    (401, {"statusCode": 401, "error": "Unauthorized",
           "message": "[security_exception] unable to authenticate with provided credentials"},
     ["HTTP 401", "rejected the credentials", "API key from KIBANA_API_KEY"]),
    (403, {"statusCode": 403, "error": "Forbidden", "message": "Unauthorized to find rules"},
     ["HTTP 403", "Unauthorized to find rules"]),
    (500, {"statusCode": 500, "error": "Internal Server Error", "message": "An internal server error occurred."},
     ["HTTP 500", "An internal server error occurred."]),
    (400, {"statusCode": 400, "error": "Bad Request", "message": "Invalid filter"},
     ["HTTP 400", "Invalid filter"]),
])
def test_a_refused_read_is_one_clear_line_without_secrets(kibana, rules_file, env, status, body, words):
    def answer(request):
        # a careless proxy could echo the Authorization header: it must still never be printed
        return status, dict(body, message=body["message"] + " " + request["headers"]["authorization"])

    kibana.route = answer
    result = deploy(kibana, rules_file)
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(error_lines) == 1 and error_lines[0].startswith("Error: read the target:")
    for word in words:
        assert word in result.output
    assert API_KEY not in result.output and "***" in result.output


def test_wrong_space_404(kibana, rules_file, env):
    result = deploy(kibana, rules_file, "--space", "nope")
    assert result.exit_code == 2
    assert "HTTP 404 in space 'nope': does the space exist?" in result.output
    assert kibana.requests[0]["path"] == "/s/nope/api/detection_engine/rules/_find"


def test_redirect_is_reported_not_followed(kibana, rules_file, env):
    kibana.route = lambda request: (302, {"message": "moved"})
    result = deploy(kibana, rules_file)
    assert result.exit_code == 2 and "HTTP 302" in result.output
    assert len(kibana.requests) == 1


def test_connection_refused(rules_file, env):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("--kibana-url", "http://127.0.0.1:%d" % port, "--rules", str(rules_file), env_vars=KEY_ENV)
    assert result.exit_code == 2
    assert "cannot connect to Kibana at http://127.0.0.1:%d: connection refused" % port in result.output


# ------------------------------------------------------------------------------------------------
# inputs


def test_missing_credentials_is_a_clear_error_and_sends_nothing(kibana, rules_file, env):
    result = deploy(kibana, rules_file, env_vars={})
    assert result.exit_code == 2
    assert "no Kibana credentials: set KIBANA_API_KEY" in result.output
    result = deploy(kibana, rules_file, "--dry-run", env_vars={"KIBANA_USERNAME": "u"})
    assert result.exit_code == 2 and "KIBANA_PASSWORD is not set" in result.output
    assert kibana.requests == []


def test_credentials_in_the_url_are_refused_and_not_echoed(kibana, rules_file, env):
    url = kibana.url.replace("://", "://elastic:%s@" % PASSWORD)
    result = run("--kibana-url", url, "--rules", str(rules_file), env_vars=KEY_ENV)
    assert result.exit_code == 2 and "must not contain credentials" in result.output
    assert PASSWORD not in result.output and kibana.requests == []


def test_bad_inputs(kibana, rules_file, env, tmp_path):
    assert "no Kibana URL" in run("--rules", str(rules_file), env_vars=KEY_ENV).output
    assert "invalid space id 'Sec Ops'" in deploy(kibana, rules_file, "--space", "Sec Ops").output
    broken = tmp_path / "broken.ndjson"
    broken.write_text(rules_file.read_text().splitlines()[0] + "\n{not json\n")
    result = deploy(kibana, broken)
    assert result.exit_code == 2 and "broken.ndjson:2: not a JSON object" in result.output
    twice = tmp_path / "twice.ndjson"
    twice.write_text(rules_file.read_text().splitlines()[0] + "\n" + rules_file.read_text().splitlines()[0] + "\n")
    assert "twice.ndjson:2: rule_id %s is also on line 1" % rule_lines(rules_file)[0]["rule_id"] in \
        deploy(kibana, twice).output
    assert "no rules file at" in deploy(kibana, tmp_path / "none.ndjson").output
    assert "contradict" in deploy(kibana, rules_file, "--insecure", "--ca-cert", str(rules_file)).output
    assert kibana.requests == []


def test_without_rules_the_file_is_built_from_the_detections(kibana, env, tmp_path):
    from harness.project import Layout

    root = tmp_path / "project"
    shutil.copytree(str(Layout().detections), str(root / "detections"))
    env.setenv("AWSSIGNIN_ROOT", str(root))
    result = run("--kibana-url", kibana.url, "--dry-run", env_vars=KEY_ENV)
    assert result.exit_code == 0, result.output
    built = root / "dist" / "elastic" / "rules.ndjson"
    assert built.is_file() and "built %s" % built in result.output
    assert rule_lines(built)[0]["rule_id"] in result.output
    built.write_text("stale\n")  # an old file is never deployed in place of the detections
    assert run("--kibana-url", kibana.url, "--dry-run", env_vars=KEY_ENV).exit_code == 0
    assert built.read_text() != "stale\n"


def test_rule_names_are_printed_literally(kibana, env, tmp_path):
    path = tmp_path / "one.ndjson"
    write_rules(path, [{"rule_id": "r-1", "name": "Rule [bold]one[/bold]\x1b[31m", "type": "query",
                        "description": "d", "risk_score": 1, "severity": "low", "query": "*", "enabled": False}])
    result = deploy(kibana, path, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Rule [bold]one[/bold]?[31m" in result.output and "\x1b" not in result.output


def test_index_override_replaces_every_rules_index(kibana, rules_file, env):
    result = deploy(kibana, rules_file, "--index", "logs-aws.cloudtrail-prod-*", "--index", "cloudtrail-archive")
    assert result.exit_code == 0, result.output
    assert {tuple(r["index"]) for r in kibana.rules().values()} == {("logs-aws.cloudtrail-prod-*", "cloudtrail-archive")}
    assert deploy(kibana, rules_file, "--index", "logs-aws.cloudtrail-prod-*", "--index", "cloudtrail-archive",
                  "--dry-run", "--check").exit_code == 0


# ------------------------------------------------------------------------------------------------
# the tuning hook (exception lists come from harness/tuning.py; deploy links them)


def test_tuning_links_are_added_and_user_lists_kept(kibana, rules_file, env):
    rules = rule_lines(rules_file)
    assert deploy(kibana, rules_file).exit_code == 0
    rid = rules[0]["rule_id"]
    kibana.edit(rid, exceptions_list=USER_EXCEPTIONS)
    pack_list = {"id": "el-9", "list_id": "awssignin-allowlist", "namespace_type": "single", "type": "detection"}
    calls = []

    def tuning(client, dry_run):
        calls.append(dry_run)
        return {r["rule_id"]: [pack_list] for r in rules}, []

    plan = D.deploy_rules(kibana.url, rules_file, environ=KEY_ENV, tuning=tuning, dry_run=True)
    assert calls == [True] and not kibana.writes()[len(rules):]
    result = D.deploy_rules(kibana.url, rules_file, environ=KEY_ENV, tuning=tuning)
    assert result.ok and calls == [True, False]
    assert kibana.rule(rid)["exceptions_list"] == USER_EXCEPTIONS + [pack_list]
    assert all(pack_list in r["exceptions_list"] for r in kibana.rules().values())
    again = D.deploy_rules(kibana.url, rules_file, environ=KEY_ENV, tuning=tuning, dry_run=True)
    assert not again.differs and plan.differs


# ------------------------------------------------------------------------------------------------
# TLS (optional: needs the openssl command to make a self-signed certificate)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    made = self_signed_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("no openssl command that can make a self-signed certificate")
    return made


@pytest.fixture
def tls_kibana(certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = KibanaStandIn(api_key=API_KEY, tls_context=context)
    yield server
    server.close()


def test_tls_is_verified_by_default(tls_kibana, rules_file, env):
    result = deploy(tls_kibana, rules_file)
    assert result.exit_code == 2
    assert "TLS verification of %s failed (certificate verify failed" % tls_kibana.url in result.output
    assert "--ca-cert" in result.output and API_KEY not in result.output


def test_ca_cert_makes_tls_pass(tls_kibana, rules_file, env, certificate):
    result = deploy(tls_kibana, rules_file, "--ca-cert", str(certificate[0]))
    assert result.exit_code == 0, result.output
    assert tls_kibana.requests[0]["headers"]["authorization"] == "ApiKey " + API_KEY


def test_insecure_skips_verification_with_a_warning(tls_kibana, rules_file, env):
    result = deploy(tls_kibana, rules_file, "--insecure")
    assert result.exit_code == 0, result.output
    assert "warning: --insecure" in result.output
    assert len(tls_kibana.rules()) == len(rule_lines(rules_file))


# ------------------------------------------------------------------------------------------------
# deploy elastic --tuning: the tuning file's allowlists become exception lists linked to the rules,
# its parameters the rules' fields; a second deploy changes nothing; the user's own lists stay.

TUNING = """\
allow:
  - name: office-egress
    reason: NAT addresses of the offices
    source_ip: [203.0.113.0/24]
detections:
  failed_logins_for_user:
    threshold: 20
"""


def test_deploy_with_tuning_creates_lists_links_them_and_sets_parameters(kibana, rules_file, env, tmp_path):
    tuning = tmp_path / "site-tuning.yml"
    tuning.write_text(TUNING, encoding="utf-8")
    assert deploy(kibana, rules_file).exit_code == 0
    failed = R.rule_id("failed_logins_for_user")
    kibana.edit(failed, exceptions_list=USER_EXCEPTIONS, enabled=True)

    dry = deploy(kibana, rules_file, "--tuning", str(tuning), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "tuning: create exception list awssignin-tuning-shared" in dry.output
    assert kibana.exceptions["default"]["lists"] == {}                 # a dry run sends nothing

    result = deploy(kibana, rules_file, "--tuning", str(tuning))
    assert result.exit_code == 0, result.output
    store = kibana.exceptions["default"]
    assert set(store["lists"]) == {"awssignin-tuning-shared"}
    (item,) = store["items"].values()
    assert item["list_id"] == "awssignin-tuning-shared"
    assert any(e.get("field") == "source.ip" for e in item["entries"])
    shared = {"id": store["lists"]["awssignin-tuning-shared"]["id"], "list_id": "awssignin-tuning-shared",
              "namespace_type": "single", "type": "detection"}
    for rid, rule in kibana.rules().items():
        assert shared in rule["exceptions_list"], rid
    tuned = kibana.rule(failed)
    assert tuned["threshold"]["value"] == 20
    assert tuned["enabled"] is True and tuned["exceptions_list"][0] == USER_EXCEPTIONS[0]

    again = deploy(kibana, rules_file, "--tuning", str(tuning), "--dry-run", "--check")
    assert again.exit_code == 0, again.output                       # nothing left to change


def test_deploy_with_a_bad_tuning_file_names_the_file_and_sends_nothing(kibana, rules_file, env, tmp_path):
    tuning = tmp_path / "site-tuning.yml"
    tuning.write_text("detections:\n  no_such_detection:\n    threshold: 3\n", encoding="utf-8")
    result = deploy(kibana, rules_file, "--tuning", str(tuning))
    assert result.exit_code != 0
    assert "site-tuning.yml" in result.output and "no_such_detection" in result.output
    assert kibana.writes() == []


def test_status_with_the_tuning_file_sees_tuned_rules_as_current(kibana, rules_file, env, tmp_path):
    from harness.elastic import status as S

    tuning = tmp_path / "site-tuning.yml"
    tuning.write_text(TUNING, encoding="utf-8")
    assert deploy(kibana, rules_file, "--tuning", str(tuning)).exit_code == 0
    failed = R.rule_id("failed_logins_for_user")

    def state_of(*extra):
        result = CliRunner().invoke(S.status, ["--kibana-url", kibana.url, "--rules", str(rules_file)] + list(extra),
                                    env=KEY_ENV, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        (line,) = [ln for ln in result.output.splitlines() if failed in ln]
        return line

    assert "customised" in state_of()                 # without the file the tuned threshold looks hand-made
    assert "customised" not in state_of("--tuning", str(tuning))
