"""The Docker tier without Docker: compose file, secrets, time shifting, and the exact requests the
Splunk and Elastic clients send, against local HTTP servers on 127.0.0.1 that play the part of
splunkd, HEC, Elasticsearch and Kibana."""

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from httpstandin import FakeServer

from harness.containers import cli as docker_cli
from harness.containers import secrets, timeshift
from harness.containers import splunk as live_splunk
from harness.containers import elastic as live_elastic
from harness.detections import load_all
from harness.project import Layout

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker" / "compose.yml"


@pytest.fixture(scope="module")
def compose():
    with open(str(COMPOSE), "r", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def detections():
    return dict((d.id, d) for d in load_all(Layout(ROOT).detections))


def _records(path):
    with open(str(ROOT / "detections" / "fixtures" / path), "r", encoding="utf-8") as handle:
        return json.load(handle)["Records"]


# ------------------------------------------------------------------------------------------------
# docker/compose.yml
# ------------------------------------------------------------------------------------------------

EXACT_TAG = re.compile(r"^[a-z0-9./-]+:\d+\.\d+\.\d+$")
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?][^}]*)?\}")


def _default(image):
    """The image reference compose uses without the variable set: ${VAR:-default} resolved."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", image)


def test_every_image_is_pinned_to_an_exact_version(compose):
    images = dict((name, svc["image"]) for name, svc in compose["services"].items())
    assert set(images) == {"splunk", "elasticsearch", "es-setup", "kibana"}
    for name, image in images.items():
        assert EXACT_TAG.match(_default(image)), "%s: %s is not pinned to an exact version" % (name, image)
    version = lambda image: image.rsplit(":", 1)[1]
    # Kibana refuses an Elasticsearch of another version; the setup container reuses the ES image
    assert version(images["kibana"]) == version(images["elasticsearch"]) == version(images["es-setup"])
    assert version(images["elasticsearch"]).startswith("8."), "elasticsearch-py 8.x is what the harness pins"
    assert compose["services"]["splunk"]["platform"] == "linux/amd64"


def test_splunk_image_is_one_of_the_pinned_lines_and_selectable(compose, tmp_path):
    image = compose["services"]["splunk"]["image"]
    assert image == "splunk/splunk:${%s:-%s}" % (docker_cli.SPLUNK_VERSION,
                                                 docker_cli.SPLUNK_IMAGES[docker_cli.DEFAULT_SPLUNK_LINE])
    assert sorted(docker_cli.SPLUNK_IMAGES) == ["10.2", "9.4"]
    for line, tag in docker_cli.SPLUNK_IMAGES.items():
        assert re.match(r"^\d+\.\d+\.\d+$", tag) and tag.startswith(line + ".")
    # 9.4.7 has a published advisory (SVD-2026-0402, fixed in 9.4.10): never the pinned 9.4 tag
    assert tuple(int(p) for p in docker_cli.SPLUNK_IMAGES["9.4"].split(".")) >= (9, 4, 10)
    env = tmp_path / ".env"
    secrets.ensure_env_file(env)
    assert docker_cli.record_splunk_version(env, None) == docker_cli.SPLUNK_IMAGES["9.4"]
    assert docker_cli.record_splunk_version(env, "10.2") == docker_cli.SPLUNK_IMAGES["10.2"]
    assert secrets.read_env_file(env)[docker_cli.SPLUNK_VERSION] == docker_cli.SPLUNK_IMAGES["10.2"]
    assert docker_cli.record_splunk_version(env, None) == docker_cli.SPLUNK_IMAGES["10.2"]   # kept
    assert stat.S_IMODE(os.stat(str(env)).st_mode) == 0o600
    secrets.load(env)                                  # the file still loads, secrets intact
    import click
    with pytest.raises(click.BadParameter, match="not a pinned Splunk version"):
        docker_cli.record_splunk_version(env, "latest")


def test_every_port_is_bound_to_loopback_only(compose):
    seen = 0
    for name, svc in compose["services"].items():
        assert "network_mode" not in svc, name
        for port in svc.get("ports", []):
            seen += 1
            assert isinstance(port, str) and port.startswith("127.0.0.1:"), "%s publishes %r beyond this machine" % (name, port)
    assert seen == 5


def test_no_secret_literal_in_the_compose_file(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if re.search(r"PASSWORD|TOKEN|KEY|SECRET", key):
                m = re.match(r"^\$\{([A-Z_]+):\?[^}]+\}$", str(value))
                assert m, "%s: %s must come from docker/.env as ${VAR:?...}, not %r" % (name, key, value)
                assert m.group(1) in secrets.SECRETS
    # nothing that looks like a generated secret (GUID, long random run) is written in the file
    assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", text)
    assert not re.search(r"\b(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{20,}\b", text)
    # healthchecks read the passwords from the container's environment at run time ($$)
    for svc in ("elasticsearch", "kibana"):
        test = " ".join(compose["services"][svc]["healthcheck"]["test"])
        assert "$${" in test and "${ELASTIC" not in test.replace("$${", "")


def _strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            for s in _strings(v):
                yield s
    elif isinstance(node, list):
        for v in node:
            for s in _strings(v):
                yield s
    elif node is not None:
        yield str(node)


def test_every_interpolated_variable_is_generated_or_defaulted(compose, tmp_path):
    text = "\n".join(_strings(compose))       # what compose interpolates: values, not comments
    names = set(INTERPOLATION.findall(text))
    known = set(secrets.SECRETS) | set(secrets.SETTINGS) | {secrets.APP_PACKAGE, docker_cli.SPLUNK_VERSION}
    assert names <= known, "compose.yml reads variables nothing generates: %s" % sorted(names - known)
    # with a generated env file, every required variable resolves
    env = tmp_path / ".env"
    values, _ = secrets.ensure_env_file(env)
    values = secrets.set_setting(env, secrets.APP_PACKAGE, "awssignin-1.2.3.tgz")
    for m in INTERPOLATION.finditer(text):
        spec = m.group(0)
        if ":?" in spec:
            assert values.get(m.group(1)), "%s would stop compose" % spec
        else:
            assert ":-" in spec, "%s has neither a default nor a required marker" % spec


def test_healthchecks_are_the_ones_each_product_documents(compose):
    services = compose["services"]
    assert services["splunk"]["healthcheck"]["test"] == ["CMD", "/sbin/checkstate.sh"]
    es = " ".join(services["elasticsearch"]["healthcheck"]["test"])
    assert "-u" in es and "http://localhost:9200/" in es and "--fail" in es
    kibana = " ".join(services["kibana"]["healthcheck"]["test"])
    assert "/api/status" in kibana and "available" in kibana
    for name in ("splunk", "elasticsearch", "kibana"):
        assert services[name]["healthcheck"]["retries"] >= 5
        assert services[name].get("mem_limit"), "%s needs a memory limit (laptops)" % name


def _seconds(text):
    from awssignin.timeutil import parse_duration
    return parse_duration(text)


def test_splunk_may_provision_for_twenty_minutes_and_up_waits_as_long(compose):
    """Provisioning can take ~20 minutes; failures during start_period do not count, then `retries`
    consecutive failures `interval` apart make the container unhealthy (Compose healthcheck)."""
    check = compose["services"]["splunk"]["healthcheck"]
    allowed = _seconds(check["start_period"]) + check["retries"] * _seconds(check["interval"])
    assert _seconds(check["start_period"]) >= 20 * 60
    assert allowed >= 25 * 60
    # `docker compose up --wait` must not give up before the healthcheck does
    assert docker_cli.UP_TIMEOUT >= allowed


def test_environment_is_named_as_the_images_require(compose):
    s = compose["services"]
    splunk = s["splunk"]["environment"]
    assert splunk["SPLUNK_START_ARGS"] == "--accept-license"
    assert splunk["SPLUNK_GENERAL_TERMS"] == "--accept-sgt-current-at-splunk-com"
    assert {"SPLUNK_PASSWORD", "SPLUNK_HEC_TOKEN", "SPLUNK_APPS_URL"} <= set(splunk)
    # the app package is installed from the read-only mount of dist/ the harness also reinstalls from
    assert splunk["SPLUNK_APPS_URL"].startswith(docker_cli.APP_MOUNT + "/${AWSSIGNIN_APP_PACKAGE")
    assert "../dist:%s:ro" % docker_cli.APP_MOUNT in s["splunk"]["volumes"]
    es = s["elasticsearch"]["environment"]
    assert es["discovery.type"] == "single-node" and es["xpack.security.enabled"] == "true"
    assert es["ELASTIC_PASSWORD"].startswith("${ELASTIC_PASSWORD:?")
    kibana = s["kibana"]["environment"]
    assert kibana["ELASTICSEARCH_USERNAME"] == "kibana_system"   # Kibana refuses the elastic superuser
    assert kibana["ELASTICSEARCH_PASSWORD"].startswith("${KIBANA_SYSTEM_PASSWORD:?")
    assert kibana["XPACK_ENCRYPTEDSAVEDOBJECTS_ENCRYPTIONKEY"].startswith("${KIBANA_ENCRYPTION_KEY:?")
    assert s["es-setup"]["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert s["kibana"]["depends_on"]["es-setup"]["condition"] == "service_completed_successfully"
    assert s["es-setup"]["environment"]["KIBANA_SYSTEM_PASSWORD"].startswith("${KIBANA_SYSTEM_PASSWORD:?")


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker CLI")
def test_compose_config_validates_when_compose_v2_is_installed(tmp_path):
    probe = subprocess.run(["docker", "compose", "version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if probe.returncode != 0:
        pytest.skip("docker compose v2 is not installed here: the compose file was checked structurally only")
    env = tmp_path / ".env"
    secrets.ensure_env_file(env)
    secrets.set_setting(env, secrets.APP_PACKAGE, "awssignin-1.2.3.tgz")
    proc = subprocess.run(["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env), "config", "-q"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.returncode == 0, proc.stderr.decode()


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("curl") is None, reason="needs bash and curl")
def test_es_setup_script_sets_the_kibana_system_password_as_elastic():
    script = ROOT / "docker" / "elastic" / "set-kibana-password.sh"
    answers = [(503, {"error": "security index not ready"}), (200, {})]

    with FakeServer(lambda req: answers.pop(0)) as es:
        env = dict(os.environ, ES_URL=es.url, ELASTIC_PASSWORD="Elastic1pass", KIBANA_SYSTEM_PASSWORD="Kibana2pass",
                   SETUP_PAUSE="0.1", SETUP_TIMEOUT="20")
        proc = subprocess.run(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert len(es.requests) == 2                       # retried until Elasticsearch said {}
    req = es.requests[-1]
    assert (req.method, req.path) == ("POST", "/_security/user/kibana_system/_password")
    assert req.basic_auth() == "elastic:Elastic1pass"
    assert req.json() == {"password": "Kibana2pass"}
    assert b"Elastic1pass" not in proc.stdout + proc.stderr and b"Kibana2pass" not in proc.stdout + proc.stderr


def test_es_setup_script_refuses_missing_credentials():
    script = ROOT / "docker" / "elastic" / "set-kibana-password.sh"
    env = dict(os.environ, ES_URL="http://127.0.0.1:9", ELASTIC_PASSWORD="", KIBANA_SYSTEM_PASSWORD="x1")
    proc = subprocess.run(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert proc.returncode == 2 and b"ELASTIC_PASSWORD is not set" in proc.stderr


# ------------------------------------------------------------------------------------------------
# Secrets
# ------------------------------------------------------------------------------------------------

def test_generated_secrets_are_strong_and_well_formed():
    a, b = secrets.generate(), secrets.generate()
    assert set(a) == set(secrets.SECRETS)
    for name in secrets.SECRETS:
        assert secrets.problem(name, a[name]) is None, name
        assert a[name] != b[name], "%s is not random" % name
    for name in ("SPLUNK_PASSWORD", "ELASTIC_PASSWORD", "KIBANA_SYSTEM_PASSWORD"):
        value = a[name]
        assert len(value) >= 32 and re.search("[a-z]", value) and re.search("[A-Z]", value) and re.search("[0-9]", value)
    assert re.match(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", a["SPLUNK_HEC_TOKEN"])
    assert len(a["KIBANA_ENCRYPTION_KEY"]) >= 32
    assert secrets.problem("SPLUNK_PASSWORD", "changeme") is not None
    assert secrets.problem("SPLUNK_HEC_TOKEN", "not-a-guid") is not None
    assert secrets.problem("KIBANA_ENCRYPTION_KEY", "short") is not None


def test_env_file_is_private_and_generation_is_idempotent(tmp_path):
    env = tmp_path / "docker" / ".env"
    values, created = secrets.ensure_env_file(env)
    assert sorted(created) == sorted(secrets.SECRETS)
    assert stat.S_IMODE(os.stat(str(env)).st_mode) == 0o600
    before = env.read_text()
    again, created_again = secrets.ensure_env_file(env)
    assert created_again == [] and again == values and env.read_text() == before
    # a partial file is completed, its values kept
    lines = [l for l in before.splitlines() if not l.startswith("ELASTIC_PASSWORD=")]
    env.write_text("\n".join(lines) + "\n")
    os.chmod(str(env), 0o644)
    completed, created = secrets.ensure_env_file(env)
    assert created == ["ELASTIC_PASSWORD"]
    assert completed["SPLUNK_PASSWORD"] == values["SPLUNK_PASSWORD"]
    assert completed["ELASTIC_PASSWORD"] != values["ELASTIC_PASSWORD"]
    assert stat.S_IMODE(os.stat(str(env)).st_mode) == 0o600
    assert secrets.load(env)["AWSSIGNIN_ES_PORT"] == "9200"


def test_a_bad_secret_is_named_but_never_shown(tmp_path):
    env = tmp_path / ".env"
    env.write_text("SPLUNK_PASSWORD=weakpass\n")
    with pytest.raises(secrets.SecretsError) as err:
        secrets.ensure_env_file(env)
    assert "SPLUNK_PASSWORD" in str(err.value) and "weakpass" not in str(err.value)
    env.write_text("this line holds TopSecret99 and no equals sign\n")
    with pytest.raises(secrets.SecretsError) as err:
        secrets.read_env_file(env)
    assert "TopSecret99" not in str(err.value) and ":1:" in str(err.value)
    with pytest.raises(secrets.SecretsError, match="run `awssignin docker up`"):
        secrets.load(tmp_path / "missing.env")


def test_the_env_file_and_secrets_dir_are_git_ignored_here():
    assert secrets.is_git_ignored(ROOT / "docker" / ".env", ROOT)
    assert secrets.is_git_ignored(ROOT / "docker" / "secrets" / "x", ROOT)
    assert not secrets.is_git_ignored(ROOT / "docker" / "compose.yml", ROOT)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_secrets_are_never_written_where_git_would_track_them(tmp_path):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    with pytest.raises(secrets.SecretsError, match="not git-ignored"):
        secrets.ensure_env_file(tmp_path / "docker" / ".env", tmp_path)
    assert not (tmp_path / "docker" / ".env").exists()
    (tmp_path / ".gitignore").write_text("docker/.env\n")
    secrets.ensure_env_file(tmp_path / "docker" / ".env", tmp_path)
    assert (tmp_path / "docker" / ".env").exists()


def test_settings_are_validated_and_redaction_hides_every_secret(tmp_path):
    env = tmp_path / ".env"
    values, _ = secrets.ensure_env_file(env)
    with pytest.raises(secrets.SecretsError):
        secrets.set_setting(env, secrets.APP_PACKAGE, "../../etc/passwd")
    with pytest.raises(secrets.SecretsError):
        secrets.set_setting(env, "AWSSIGNIN_ES_PORT", "http")
    secrets.set_setting(env, "AWSSIGNIN_ES_PORT", "19200")
    assert secrets.load(env)["AWSSIGNIN_ES_PORT"] == "19200"
    text = "auth failed for %s with token %s" % (values["SPLUNK_PASSWORD"], values["SPLUNK_HEC_TOKEN"])
    assert secrets.redact(text, values) == "auth failed for *** with token ***"


# ------------------------------------------------------------------------------------------------
# Time shifting
# ------------------------------------------------------------------------------------------------

def test_shift_moves_the_newest_record_to_now_minus_k_and_keeps_gaps():
    records = _records("root_console_brute_force/burst_two_sources.json")
    now = 1_800_000_000.7
    shifted, delta = timeshift.shift_records(records, now, minutes_ago=3)
    old = [timeshift.event_epoch(r) for r in records]
    new = [timeshift.event_epoch(r) for r in shifted]
    assert now - 180 - 1 < max(new) <= now - 180
    assert [b - a for a, b in zip(old, old[1:])] == [b - a for a, b in zip(new, new[1:])]
    assert all(n - o == delta for o, n in zip(old, new)) and delta == int(delta)
    assert [r["eventID"] for r in shifted] == [r["eventID"] for r in records]
    assert records[0]["eventTime"] == "2026-03-10T09:06:00Z"          # input untouched
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", shifted[0]["eventTime"])  # CloudTrail's format


def test_shift_moves_the_session_creation_date_with_the_event():
    record = {"eventID": "e1", "eventTime": "2026-01-01T10:00:00Z",
              "userIdentity": {"sessionContext": {"attributes": {"creationDate": "2026-01-01T09:30:00Z"}}}}
    [out], delta = timeshift.shift_records([record], 1_900_000_000, minutes_ago=0)
    created = timeshift.parse_time(out["userIdentity"]["sessionContext"]["attributes"]["creationDate"])
    assert timeshift.event_epoch(out) - created == 1800


def test_shift_rejects_records_it_cannot_place_in_time():
    with pytest.raises(timeshift.TimeShiftError, match="record 1: eventTime"):
        timeshift.shift_records([{"eventTime": "2026-01-01T00:00:00Z"}, {"eventTime": "yesterday"}], 1e9)
    with pytest.raises(timeshift.TimeShiftError, match="record 0: eventTime is missing"):
        timeshift.shift_records([{"eventID": "x"}], 1e9)
    with pytest.raises(timeshift.TimeShiftError, match="no records"):
        timeshift.shift_records([], 1e9)
    with pytest.raises(timeshift.TimeShiftError, match="negative"):
        timeshift.shift_records([{"eventTime": "2026-01-01T00:00:00Z"}], 1e9, minutes_ago=-1)


# ------------------------------------------------------------------------------------------------
# Splunk
# ------------------------------------------------------------------------------------------------

def test_tls_checks_are_off_only_for_containers_on_this_machine():
    assert live_splunk.tls_verify("https://127.0.0.1:8089") is False
    assert live_splunk.tls_verify("https://localhost:8088/services/collector") is False
    assert live_splunk.tls_verify("https://[::1]:8089") is False
    assert live_splunk.tls_verify("https://splunk.example.com:8089") is True
    assert live_splunk.tls_verify("https://127.0.0.2.example.com:8089") is True


def test_hec_request_is_exactly_what_the_collector_expects():
    records = _records("root_console_login/root_success.json")
    shifted, _ = timeshift.shift_records(records, 1_800_000_000, 2)
    with FakeServer(lambda req: (200, {"text": "Success", "code": 0})) as hec:
        client = live_splunk.SplunkClient("http://127.0.0.1:1", hec.url, "Adminpass123", "11111111-2222-4333-8444-555555555555")
        assert client.send_hec(shifted, "awssignin_test_x", "awssignin-test:one") == len(shifted)
    [req] = hec.requests
    assert (req.method, req.path) == ("POST", "/services/collector/event")
    assert req.headers["Authorization"] == "Splunk 11111111-2222-4333-8444-555555555555"
    assert req.headers["Content-Type"] == "application/json"
    lines = req.body.decode("utf-8").splitlines()
    assert len(lines) == len(records)
    for line, record in zip(lines, shifted):
        event = json.loads(line)
        assert event == {"time": int(timeshift.event_epoch(record)), "host": "awssignin-harness",
                         "source": "awssignin-test:one", "sourcetype": "aws:cloudtrail",
                         "index": "awssignin_test_x", "event": record}


def test_hec_refusal_is_an_error():
    with FakeServer(lambda req: (403, {"text": "Invalid token", "code": 4})) as hec:
        client = live_splunk.SplunkClient("http://127.0.0.1:1", hec.url, "Adminpass123", "11111111-2222-4333-8444-555555555555")
        with pytest.raises(live_splunk.SplunkError, match="Invalid token"):
            client.send_hec([{"eventTime": "2026-01-01T00:00:00Z", "eventID": "a"}], "i", "s")


def test_wait_ready_needs_consecutive_successes():
    client = live_splunk.SplunkClient("http://127.0.0.1:1", "http://127.0.0.1:1", "Adminpass123", "t")
    outcomes = iter([True, False, True, True, False, True, True, True])
    calls = []

    def info():
        calls.append(1)
        if not next(outcomes):
            raise live_splunk.SplunkError("restarting")
    client.server_info = info
    clock = iter(range(1000)).__next__
    client.wait_ready(timeout=100, consecutive=3, pause=0, clock=clock, sleep=lambda s: None)
    assert len(calls) == 8          # two streaks broken by splunkd restarting
    outcomes = iter([True] * 2 + [False] * 100)
    with pytest.raises(live_splunk.SplunkError, match="not ready within 5s"):
        client.wait_ready(timeout=5, consecutive=3, pause=0, clock=iter(range(1000)).__next__, sleep=lambda s: None)


def test_job_errors_reads_both_message_shapes():
    assert live_splunk.job_errors({"messages": [{"type": "ERROR", "text": "awssignin: boom"},
                                                {"type": "INFO", "text": "fine"}]}) == ["awssignin: boom"]
    assert live_splunk.job_errors({"messages": {"fatal": ["x"], "info": ["y"]}}) == ["x"]
    assert live_splunk.job_errors({}) == []


# ------------------------------------------------------------------------------------------------
# Elastic: pure parts
# ------------------------------------------------------------------------------------------------

def test_bulk_body_creates_each_document_in_the_test_data_stream():
    records = _records("root_console_login/root_success.json")
    shifted, _ = timeshift.shift_records(records, 1_800_000_000, 2)
    docs = live_elastic.ecs_documents(shifted)
    lines = live_elastic.bulk_body(docs).splitlines()
    assert len(lines) == 2 * len(records)
    for action, source, record in zip(lines[::2], lines[1::2], shifted):
        assert json.loads(action) == {"create": {"_index": "logs-aws.cloudtrail-awssignintest"}}
        doc = json.loads(source)
        assert doc["event"]["id"] == record["eventID"]
        # event.ingested (the rules' timestamp_override) follows the shifted event time, not "now"
        assert doc["event"]["ingested"] == doc["@timestamp"] == live_elastic.iso_ms(timeshift.event_epoch(record))
        assert doc["data_stream"] == {"type": "logs", "dataset": "aws.cloudtrail", "namespace": "awssignintest"}


def test_preview_body_strips_stored_rule_identity(detections):
    from harness.elastic.rules import kibana_rule
    rule = kibana_rule(detections["root_console_brute_force"], {"threshold": 4})
    rule.update({"id": "so-id", "immutable": False, "rule_source": {"type": "internal"}, "revision": 3})
    body = live_elastic.preview_body(rule, 12, "2027-01-15T08:00:00.000Z")
    for key in ("rule_id", "id", "immutable", "rule_source", "revision", "version"):
        assert key not in body
    assert body["invocationCount"] == 12 and body["timeframeEnd"] == "2027-01-15T08:00:00.000Z"
    assert body["threshold"]["field"] == ["cloud.account.id"] and body["threshold"]["value"] == 4
    kept = dict((k, v) for k, v in rule.items() if k not in live_elastic.PREVIEW_STRIP)
    assert dict((k, v) for k, v in body.items() if k in kept) == kept


def test_run_plan_puts_kibana_runs_where_the_local_simulation_puts_them(detections):
    from harness.elastic.rules import kibana_rule
    from harness.elastic.schedule import Schedule
    rule = kibana_rule(detections["root_console_brute_force"])     # every 1m, looking back 15m
    interval, lookback = live_elastic.rule_schedule(rule)
    assert (interval, lookback) == (60, 900)
    records = _records("root_console_brute_force/two_bursts_two_accounts.json")
    oldest, newest = timeshift.time_range(records)
    now = 1_800_000_123.4
    plan = live_elastic.run_plan(rule, oldest, newest, now, minutes_ago=2)
    # moved by whole intervals: the runs keep their places relative to the events (epoch-anchored)
    assert plan.delta % interval == 0
    local = Schedule.of_rule(rule)
    assert plan.first_run - plan.delta == local.run_at_or_after(oldest)
    assert plan.last_run - plan.delta == max(t for t in range(int(newest), int(newest + lookback) + 1) if t % interval == 0)
    # the first run's window reaches the oldest event, the last still holds the newest, all in the past
    assert plan.first_run - lookback <= oldest + plan.delta <= plan.first_run
    assert plan.last_run - lookback <= newest + plan.delta <= plan.last_run <= now - 120
    assert plan.invocations == (plan.last_run - plan.first_run) // interval + 1
    assert plan.timeframe_end == live_elastic.iso_ms(plan.last_run)


def test_run_plan_refuses_what_a_preview_cannot_do():
    now = 1_800_000_000
    with pytest.raises(live_elastic.ElasticError, match="runs"):
        live_elastic.run_plan({"interval": "1m", "from": "now-2m"}, now - 86400 * 2, now - 3600, now)
    with pytest.raises(live_elastic.ElasticError, match="gaps"):
        live_elastic.run_plan({"interval": "10m", "from": "now-5m"}, now - 60, now - 60, now)
    with pytest.raises(live_elastic.ElasticError, match="up to now"):
        live_elastic.run_plan({"interval": "5m", "from": "now-6m", "to": "now-1m"}, now, now, now)


def test_matching_query_is_the_threshold_rule_as_a_query_over_all_data(detections):
    from harness.elastic.rules import kibana_rule
    rule = kibana_rule(detections["root_console_brute_force"])
    now = 1_800_000_000
    body = live_elastic.matching_query_body(rule, now - 3600, now)
    assert body["type"] == "query" and "threshold" not in body
    assert body["query"] == rule["query"] and body["index"] == rule["index"]
    assert body["timestamp_override"] == "event.ingested" and body["max_signals"] == 1000
    assert body["from"] == "now-3720s" and body["invocationCount"] == 1


def _indexed(records, now=1_800_000_000):
    shifted, _ = timeshift.shift_records(records, now, 2)
    docs = live_elastic.ecs_documents(shifted)
    ids = ["doc%d" % i for i in range(len(docs))]
    return live_elastic.IndexedData(ids, docs, "event.ingested"), ids, docs


def _query_alert(doc_id, doc, preview_id="p1"):
    """A query-rule alert as Kibana writes it: kibana.* as dotted keys, the source fields copied."""
    alert = json.loads(json.dumps(doc))
    alert.update({"kibana.alert.rule.uuid": preview_id, "kibana.alert.original_time": doc["@timestamp"],
                  "kibana.alert.ancestors": [{"id": doc_id, "type": "event", "index": ".ds-logs", "depth": 0}],
                  "kibana.alert.rule.type": "query", "event.kind": "signal"})
    return alert


def test_query_alerts_become_one_alert_per_source_document(detections):
    det = detections["root_console_login"]
    data, ids, docs = _indexed(_records("root_console_login/root_success.json"))
    hits = [_query_alert(ids[0], docs[0]), _query_alert(ids[1], docs[1])]
    alerts = live_elastic.convert_alerts(det, hits, data)
    assert [a["event_ids"] for a in alerts] == [[docs[0]["event"]["id"]], [docs[1]["event"]["id"]]]
    assert alerts[0]["group"] == {"account_id": "111122223333", "source_ip": docs[0]["source"]["address"]}
    assert alerts[0]["platform"] == "elastic" and alerts[0]["count"] == 1
    with pytest.raises(live_elastic.ElasticError, match="did not index"):
        live_elastic.convert_alerts(det, [_query_alert("someone-elses-doc", docs[0])], data)


def test_sequence_building_blocks_make_one_alert_per_group(detections):
    det = detections["root_console_login"]           # any detection: the conversion keys on group.id
    data, ids, docs = _indexed(_records("root_console_brute_force/burst_two_sources.json"))
    blocks = []
    for n, i in enumerate([2, 0, 1]):
        block = _query_alert(ids[i], docs[i])
        block.update({"kibana.alert.group.id": "g1", "kibana.alert.group.index": n,
                      "kibana.alert.building_block_type": "default"})
        blocks.append(block)
    # the shell holds only what all members share: the account, not the (differing) source address
    shell = {"kibana.alert.rule.uuid": "p", "kibana.alert.group.id": "g1", "cloud": {"account": {"id": "111122223333"}}}
    assert len({docs[i]["source"]["address"] for i in (0, 1, 2)}) > 1
    [alert] = live_elastic.convert_alerts(det, [shell] + blocks[::-1], data)
    assert alert["event_ids"] == [docs[i]["event"]["id"] for i in (2, 0, 1)]
    assert alert["group"] == {"account_id": "111122223333", "source_ip": None} and alert["count"] == 3
    # without the shell, the same rule from the members themselves
    [again] = live_elastic.convert_alerts(det, blocks, data)
    assert again["group"] == alert["group"]


def _threshold_alert(data, doc_ids, account="111122223333"):
    counted = sorted(doc_ids, key=lambda i: data.time_of(i))
    return {"kibana.alert.rule.uuid": "p",
            "kibana.alert.original_time": data.by_id[counted[-1]]["event"]["ingested"],
            "kibana.alert.threshold_result": {"terms": [{"field": "cloud.account.id", "value": account}],
                                              "count": len(counted),
                                              "from": data.by_id[counted[0]]["event"]["ingested"]},
            "cloud": {"account": {"id": account}}}


def test_threshold_alert_events_are_the_matching_documents_of_its_group_and_span(detections):
    det = detections["root_console_brute_force"]
    data, ids, docs = _indexed(_records("root_console_brute_force/burst_two_sources.json"))
    failures = sorted((i for i, d in zip(ids, docs) if d["event"]["outcome"] == "failure"), key=lambda i: data.time_of(i))
    alert = _threshold_alert(data, failures[:5])
    [out] = live_elastic.convert_alerts(det, [alert], data, matched_ids=set(failures))
    assert out["group"] == {"account_id": "111122223333"} and out["count"] == 5
    assert out["event_ids"] == [data.event_id(i) for i in failures[:5]]
    alert["kibana.alert.threshold_result"]["count"] = 6
    with pytest.raises(live_elastic.ElasticError, match="counted 6"):
        live_elastic.convert_alerts(det, [alert], data, matched_ids=set(failures))
    with pytest.raises(live_elastic.ElasticError, match="query matches"):
        live_elastic.convert_alerts(det, [alert], data)


def test_threshold_alerts_of_successive_runs_merge_into_bursts_like_the_local_runner(detections):
    det = detections["root_console_brute_force"]          # window 15m
    records = _records("root_console_brute_force/two_bursts_two_accounts.json")
    data, ids, docs = _indexed(records)
    failures = sorted((i for i, d in zip(ids, docs) if d["event"]["outcome"] == "failure"),
                      key=lambda i: data.time_of(i))
    mine = [i for i in failures if data.by_id[i]["cloud"]["account"]["id"] == "111122223333"]
    other = [i for i in failures if i not in mine]
    # split the first account's failures where they are more than 15 minutes apart: two bursts
    gaps = [n for n in range(1, len(mine)) if data.time_of(mine[n]) - data.time_of(mine[n - 1]) > 900]
    assert len(gaps) == 1
    first, second = mine[:gaps[0]], mine[gaps[0]:]
    assert len(first) >= 6
    # Kibana alerted twice within the first burst (5 documents, then more after the signal history)
    hits = [_threshold_alert(data, first[:5]), _threshold_alert(data, first[5:]),
            _threshold_alert(data, second), _threshold_alert(data, other, "444455556666")]
    out = live_elastic.convert_alerts(det, hits, data, matched_ids=set(failures))
    got = sorted((a["group"]["account_id"], a["event_ids"]) for a in out)
    assert got == sorted([("111122223333", [data.event_id(i) for i in first]),
                          ("111122223333", [data.event_id(i) for i in second]),
                          ("444455556666", [data.event_id(i) for i in other])])


def test_preview_errors_are_collected():
    assert live_elastic.preview_errors({"previewId": "p", "logs": [{"errors": [], "warnings": ["w"]}]}) == []
    problems = live_elastic.preview_errors({"previewId": "p", "isAborted": True, "logs": [
        {"errors": ["Unmapped field aws.x"], "startedAt": "t1"}, {"errors": []}]})
    assert problems[0] == "run 1 (t1): Unmapped field aws.x" and "aborted" in problems[1]


# ------------------------------------------------------------------------------------------------
# Elastic: requests to a fake Elasticsearch + Kibana
# ------------------------------------------------------------------------------------------------

ES_HEADERS = {"X-Elastic-Product": "Elasticsearch"}


class FakeElastic(object):
    """Elasticsearch and Kibana on one port (their paths do not overlap) for one detection test."""

    def __init__(self, alerts_for):
        self.alerts_for = alerts_for        # (preview body, indexed docs with _ids) -> alert sources
        self.indexed = []
        self.previews = {}
        self.imports = []
        self.import_answer = None           # None: every rule of the request imported
        self.created = []                   # rules created by awssignin deploy (POST .../rules)
        self.refuse = None                  # a rule_id whose creation Kibana refuses

    def route(self, req):
        if req.path == "/_bulk":
            lines = req.body.decode().splitlines()
            items = []
            for action, source in zip(lines[::2], lines[1::2]):
                doc = json.loads(source)
                if req.query.get("pipeline") == "logs-aws.cloudtrail@custom":
                    doc_id = "fp-" + doc["event"]["id"]          # the fingerprint of event.id
                    if any(i == doc_id for i, _ in self.indexed):
                        items.append({"create": {"_index": ".ds-x", "_id": doc_id, "status": 409, "error": {
                            "type": "version_conflict_engine_exception", "reason": "document already exists"}}})
                        continue
                else:
                    doc_id = "id%d" % len(self.indexed)
                self.indexed.append((doc_id, doc))
                items.append({"create": {"_index": ".ds-x", "_id": doc_id, "status": 201}})
            return 200, {"errors": False, "items": items}
        if req.path.startswith("/_ingest/pipeline/"):
            return 200, {"acknowledged": True}
        if req.path == "/api/detection_engine/rules/_find":      # a fresh Kibana: no rules yet
            return 200, {"page": 1, "perPage": 100, "total": 0, "data": []}
        if req.path == "/api/detection_engine/rules" and req.method == "POST":
            self.created.append(req)
            if req.json()["rule_id"] == self.refuse:
                return 400, {"message": "bad query", "status_code": 400}
            return 200, req.json()
        if req.path == "/api/detection_engine/rules/_import":
            self.imports.append(req)
            if self.import_answer is None:
                count = req.body.count(b'"rule_id":')
                return 200, {"success": True, "success_count": count, "rules_count": count, "errors": []}
            return 200, self.import_answer
        if req.path == "/api/detection_engine/rules/preview":
            preview_id = "preview-%d" % (len(self.previews) + 1)
            self.previews[preview_id] = req.json()
            return 200, {"previewId": preview_id, "logs": [{"errors": [], "warnings": [], "duration": 5}], "isAborted": False}
        if req.path == "/.preview.alerts-security.alerts-default/_search":
            preview_id = req.json()["query"]["bool"]["filter"][0]["term"]["kibana.alert.rule.uuid"]
            hits = self.alerts_for(self.previews[preview_id], self.indexed, preview_id)
            return 200, {"hits": {"hits": [{"_source": h} for h in hits]}}
        if req.path.startswith("/_data_stream/"):
            return 200, {"acknowledged": True}
        if req.path.endswith("/_refresh"):
            return 200, {"_shards": {}}
        if req.path.endswith("/_delete_by_query"):
            return 200, {"deleted": 0}
        if req.path.startswith("/_index_template/"):
            return 200, {"acknowledged": True}
        return 404, {"error": "no route %s %s" % (req.method, req.path)}


def _stack(url):
    pytest.importorskip("elasticsearch")
    es = live_elastic.elasticsearch_client(url, "Elasticpass1")
    kibana = live_elastic.KibanaClient(url, "Elasticpass1")
    return live_elastic.ElasticStack(es, kibana)


def test_template_is_installed_as_built():
    from harness.elastic.mapping import TEMPLATE_NAME, index_template
    fake = FakeElastic(None)
    with FakeServer(fake.route, ES_HEADERS) as server:
        _stack(server.url).put_template()
    [req] = server.requests
    assert (req.method, req.path) == ("PUT", "/_index_template/%s" % TEMPLATE_NAME)
    assert req.json() == index_template()
    assert req.basic_auth() == "elastic:Elasticpass1"


def test_elastic_runner_indexes_previews_and_reads_the_alerts(detections):
    det = detections["root_console_login"]
    records = _records("root_console_login/root_success.json")
    now = 1_800_000_000

    def alerts_for(body, indexed, preview_id):
        # what Kibana's query executor produces for this data: one alert per matching document
        return [_query_alert(doc_id, doc, preview_id) for doc_id, doc in indexed
                if doc["event"]["action"] == "ConsoleLogin" and doc["aws"]["cloudtrail"]["user_identity"]["type"] == "Root"
                and doc["event"]["outcome"] == "success"]

    fake = FakeElastic(alerts_for)
    with FakeServer(fake.route, ES_HEADERS) as server:
        runner = live_elastic.ElasticDockerRunner(_stack(server.url), now=lambda: now)
        runner.ready = True
        alerts = runner.run(det, records)
    [bulk] = server.find("PUT", "/_bulk") + server.find("POST", "/_bulk")
    assert bulk.query["refresh"] == "wait_for"
    assert "compatible-with=8" in bulk.headers["Content-Type"]
    assert len(fake.indexed) == len(records)
    [preview] = server.find("POST", "/api/detection_engine/rules/preview")
    assert preview.headers["kbn-xsrf"] == "true" and preview.headers["elastic-api-version"] == "2023-10-31"
    body = preview.json()
    assert "rule_id" not in body and "version" not in body
    from harness.elastic.rules import kibana_rule
    rule = kibana_rule(det)
    plan = live_elastic.run_plan(rule, *timeshift.time_range(records), now=now)
    assert (body["invocationCount"], body["timeframeEnd"]) == (plan.invocations, plan.timeframe_end)
    assert body["query"] == rule["query"] and body["timestamp_override"] == "event.ingested"
    # the documents were moved by the plan's whole intervals
    assert fake.indexed[0][1]["@timestamp"] == live_elastic.iso_ms(timeshift.event_epoch(records[0]) + plan.delta)
    success = [r for r in records if r["eventName"] == "ConsoleLogin" and r["userIdentity"]["type"] == "Root"
               and r["responseElements"]["ConsoleLogin"] == "Success"]
    assert sorted(a["event_ids"][0] for a in alerts) == sorted(r["eventID"] for r in success)
    assert {a["first_seen"] for a in alerts} == {r["eventTime"] for r in success}   # fixture time line
    # the test's data and preview alerts are removed
    assert server.find("DELETE", "/_data_stream/logs-aws.cloudtrail-awssignintest")
    assert server.find("POST", "/.preview.alerts-security.alerts-default/_delete_by_query")


def test_kibana_preview_with_run_errors_fails_the_test():
    def route(req):
        return 200, {"previewId": "p", "logs": [{"errors": ["verification_exception: Unknown column"], "warnings": []}]}

    with FakeServer(route) as server:
        with pytest.raises(live_elastic.ElasticError, match="Unknown column"):
            live_elastic.KibanaClient(server.url, "Elasticpass1").preview({"type": "query"})


def test_rule_import_checks_every_rule_was_accepted():
    answers = [
        (200, {"success": True, "success_count": 5, "rules_count": 5, "errors": []}),
        (200, {"success": False, "success_count": 4, "rules_count": 5,
               "errors": [{"rule_id": "r5", "error": {"status_code": 400, "message": "bad threshold"}}]}),
    ]
    with FakeServer(lambda req: answers.pop(0)) as server:
        kibana = live_elastic.KibanaClient(server.url, "Elasticpass1")
        kibana.import_rules('{"rule_id":"r1"}\n')
        with pytest.raises(live_elastic.ElasticError, match="r5: bad threshold"):
            kibana.import_rules('{"rule_id":"r5"}\n')
    req = server.requests[0]
    assert req.path == "/api/detection_engine/rules/_import" and req.query == {"overwrite": "true"}
    assert b'name="file"; filename="rules.ndjson"' in req.body and b'{"rule_id":"r1"}' in req.body


def test_kibana_readiness_waits_for_available():
    levels = iter(["unavailable", "degraded", "available", "available"])
    with FakeServer(lambda req: (200, {"status": {"overall": {"level": next(levels)}}})) as server:
        live_elastic.KibanaClient(server.url, "Elasticpass1").wait_ready(timeout=60, pause=0)
    assert len(server.requests) == 4 and server.requests[0].basic_auth() == "elastic:Elasticpass1"


# ------------------------------------------------------------------------------------------------
# The CLI without an engine
# ------------------------------------------------------------------------------------------------

def test_cli_says_plainly_that_no_engine_is_reachable(monkeypatch):
    from click.testing import CliRunner

    class Refused(object):
        returncode = 1
        stdout = b""
        stderr = b"Cannot connect to the Docker daemon at unix:///var/run/docker.sock."

    problem = docker_cli.engine_problem(run=lambda *a, **k: Refused())
    assert problem.startswith("no Docker engine is reachable") and "Cannot connect" in problem
    monkeypatch.setattr(docker_cli, "engine_problem", lambda: problem)
    for args in (["up"], ["test"], ["down"], ["status"]):
        result = CliRunner().invoke(docker_cli.docker, args)
        assert result.exit_code == 2, (args, result.output)
        assert "no Docker engine is reachable" in result.output


def test_engine_probe_distinguishes_missing_cli_and_missing_compose():
    def missing(*a, **k):
        raise FileNotFoundError("docker")
    assert docker_cli.engine_problem(run=missing) == "the docker command is not installed"

    class Ok(object):
        returncode, stdout, stderr = 0, b"28.2.2\n", b""

    class NoCompose(object):
        returncode, stdout, stderr = 1, b"", b"unknown command"

    answers = iter([Ok(), NoCompose()])
    assert "Compose v2" in docker_cli.engine_problem(run=lambda *a, **k: next(answers))
    answers = iter([Ok(), Ok()])
    assert docker_cli.engine_problem(run=lambda *a, **k: next(answers)) is None


def test_compose_command_names_the_file_env_file_and_project():
    cmd = docker_cli.compose_command(ROOT)
    assert cmd == ["docker", "compose", "-f", str(ROOT / "docker" / "compose.yml"),
                   "--env-file", str(ROOT / "docker" / ".env"), "-p", "awssignin-test"]


def test_duplicate_deliveries_go_through_the_dedup_pipeline_the_rules_ask_for(detections):
    pipeline = pytest.importorskip("harness.elastic.pipeline")
    det = detections["root_console_login"]
    records = _records("root_console_login/root_success.json")     # one event delivered by two trails

    def alerts_for(body, indexed, preview_id):
        return [_query_alert(doc_id, doc, preview_id) for doc_id, doc in indexed
                if doc["event"]["action"] == "ConsoleLogin" and doc["event"]["outcome"] == "success"]

    fake = FakeElastic(alerts_for)
    with FakeServer(fake.route, ES_HEADERS) as server:
        stack = _stack(server.url)
        stack.wait_ready = lambda: None
        runner = live_elastic.ElasticDockerRunner(stack, now=lambda: 1_800_000_000)
        runner.setup(rules_path=None)
        alerts = runner.run(det, records)
    [put] = server.find("PUT", "/_ingest/pipeline/%s" % pipeline.NAME)
    assert put.json() == pipeline.dedup_pipeline()
    [bulk] = server.find("PUT", "/_bulk") + server.find("POST", "/_bulk")
    assert bulk.query["pipeline"] == pipeline.NAME
    assert len(fake.indexed) == len(records) - 1                     # the second copy conflicted
    assert [a["event_ids"] for a in alerts] == [["6e8f1510-200d-591f-b422-ff516fcfb619"]]


def test_a_refused_document_is_an_error_even_with_the_pipeline():
    def route(req):
        return 200, {"errors": True, "items": [{"create": {"_id": "x", "status": 400, "error": {
            "type": "document_parsing_exception", "reason": "failed to parse field [source.ip]"}}}]}

    with FakeServer(route, ES_HEADERS) as server:
        with pytest.raises(live_elastic.ElasticError, match="source.ip"):
            _stack(server.url).index([{"event": {"id": "e"}}], pipeline="logs-aws.cloudtrail@custom")


def test_setup_installs_template_and_pipeline_and_imports_the_rules_like_deploy(tmp_path, detections):
    pytest.importorskip("harness.elastic.deploy")
    from harness.elastic.mapping import TEMPLATE_NAME
    from harness.elastic.rules import rules_ndjson
    rules = tmp_path / "rules.ndjson"
    rules.write_text(rules_ndjson(list(detections.values())), encoding="utf-8")
    fake = FakeElastic(None)
    with FakeServer(fake.route, ES_HEADERS) as server:
        stack = _stack(server.url)
        stack.wait_ready = lambda: None
        live_elastic.ElasticDockerRunner(stack).setup(rules_path=rules)
        sent = [json.loads(line) for line in rules.read_text(encoding="utf-8").splitlines()]
        assert [r.json() for r in fake.created] == sent       # deploy creates each rule of the file
        fake.refuse = sent[0]["rule_id"]
        with pytest.raises(live_elastic.ElasticError, match="bad query"):
            live_elastic.ElasticDockerRunner(stack).setup(rules_path=rules)
    assert server.find("PUT", "/_index_template/%s" % TEMPLATE_NAME)
    first = fake.created[0]
    assert first.basic_auth() == "elastic:Elasticpass1" and first.headers["kbn-xsrf"] == "true"


def test_docker_test_prints_the_local_table_and_fails_on_a_mismatch(monkeypatch, detections):
    from click.testing import CliRunner
    from harness.testing import fixture_records

    det = detections["root_console_login"]
    fixtures = ROOT / "detections" / "fixtures"

    class Agreeing(object):
        """Answers every test with its expectation: a platform that agrees with the local runners."""
        platform = "splunk"

        def run(self, detection, records, params=None):
            [test] = [t for t in detection.data["tests"] if fixture_records(detection, t, fixtures) == records]
            return [dict(group=e["group"], event_ids=e["event_ids"], count=len(e["event_ids"]),
                         first_seen="2026-01-01T00:00:00Z", last_seen="2026-01-01T00:00:00Z") for e in test["expect"]]

        def close(self):
            pass

    class Silent(Agreeing):
        platform = "elastic"

        def run(self, detection, records, params=None):
            return []

    monkeypatch.setattr(docker_cli, "engine_problem", lambda: None)
    monkeypatch.setattr(docker_cli, "_env", lambda layout: {"SPLUNK_PASSWORD": "x"})
    monkeypatch.setattr(docker_cli, "existing_artefacts", lambda layout, values: (Path("p.tgz"), Path("r.ndjson")))
    monkeypatch.setattr(docker_cli, "live_runners", lambda *a, **k: {"splunk": Agreeing(), "elastic": Silent()})
    monkeypatch.chdir(str(ROOT))
    result = CliRunner().invoke(docker_cli.docker, ["test", det.id, "--no-build"])
    assert result.exit_code == 1, result.output
    tests = det.data["tests"]
    firing = [t for t in tests if t["expect"]]
    assert firing and len(firing) < len(tests)
    assert "%d passed, %d failed" % (2 * len(tests) - len(firing), len(firing)) in result.output
    assert "FAIL elastic: root_console_login" in result.output and "PASS" in result.output
    assert "expected:" in result.output and "no alert" in result.output


def test_a_platform_that_is_not_running_fails_fast_with_a_hint(tmp_path):
    env = tmp_path / ".env"
    values, _ = secrets.ensure_env_file(env)
    values = secrets.load(env)
    runners = docker_cli.live_runners(values, ["splunk", "elastic"], [], "p.tgz", "r.ndjson",
                                      probe=lambda port: False)
    for platform in ("splunk", "elastic"):
        with pytest.raises(RuntimeError, match="not running .*awssignin docker up"):
            runners[platform].run(None, [])
    # a free port on this machine really is reported closed
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    assert docker_cli.port_open(free, timeout=0.5) is False


def test_docker_up_records_the_chosen_splunk_image_before_compose_runs(monkeypatch, tmp_path):
    from click.testing import CliRunner
    (tmp_path / "docker").mkdir()
    layout = type("L", (), {"root": tmp_path})()
    calls = []

    def call(cmd, **kw):
        calls.append((cmd, secrets.read_env_file(tmp_path / docker_cli.ENV_FILE).get(docker_cli.SPLUNK_VERSION)))
        return 0
    monkeypatch.setattr(docker_cli, "engine_problem", lambda: None)
    monkeypatch.setattr(docker_cli, "_layout", lambda: layout)
    monkeypatch.setattr(docker_cli, "_detections", lambda layout: [])
    monkeypatch.setattr(docker_cli, "build_artefacts",
                        lambda layout, dets: (tmp_path / "dist" / "awssignin-1.2.3.tgz", tmp_path / "r.ndjson"))
    monkeypatch.setattr(docker_cli.subprocess, "call", call)
    result = CliRunner().invoke(docker_cli.docker, ["up", "--splunk-version", "10.2"])
    assert result.exit_code == 0, result.output
    [(cmd, tag)] = calls
    assert tag == docker_cli.SPLUNK_IMAGES["10.2"] and "splunk/splunk:%s" % tag in result.output
    assert cmd[-5:] == ["up", "-d", "--wait", "--wait-timeout", str(docker_cli.UP_TIMEOUT)]
    refused = CliRunner().invoke(docker_cli.docker, ["up", "--splunk-version", "latest"])
    assert refused.exit_code == 2 and "not a pinned Splunk version" in refused.output
    assert len(calls) == 1
