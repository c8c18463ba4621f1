"""``awssignin deploy elastic`` against a local HTTP(S) server that records every request and answers
like Kibana's rule import and bulk-action APIs. No real Kibana is reached here; the assertions are on
the exact requests Kibana documents (path, query, headers, multipart body) and on how the command
reports Kibana's answers."""

import base64
import email.parser
import email.policy
import json
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from harness.elastic import deploy as D
from harness.elastic import rules as R

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
PASSWORD = "pw-3q9!Zx#secret"


class FakeKibana:
    """Records requests; ``handlers[path suffix](request) -> (status, body)`` decides the answer."""

    def __init__(self, tls_context=None):
        self.requests = []
        self.handlers = {"/_import": self.import_ok, "/_bulk_action": self.enable_ok}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                parts = urlsplit(self.path)
                request = {"method": "POST", "path": parts.path, "query": parse_qs(parts.query),
                           "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": self.rfile.read(length)}
                outer.requests.append(request)
                handler = next((h for suffix, h in outer.handlers.items() if parts.path.endswith(suffix)), None)
                status, body = handler(request) if handler else (404, {"statusCode": 404, "message": "Not Found"})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # -- answers shaped like Kibana's ------------------------------------------------------------

    @staticmethod
    def uploaded_rules(request):
        part = multipart_file(request)
        return [json.loads(line) for line in part["content"].decode().splitlines() if line.strip()]

    def import_ok(self, request):
        n = len(self.uploaded_rules(request))
        return 200, {"success": True, "success_count": n, "rules_count": n, "errors": [],
                     "exceptions_success": True, "exceptions_success_count": 0, "exceptions_errors": [],
                     "action_connectors_success": True, "action_connectors_success_count": 0,
                     "action_connectors_errors": [], "action_connectors_warnings": []}

    def enable_ok(self, request):
        body = json.loads(request["body"])
        ids = [r["rule_id"] for r in self.last_import_rules()]
        selected = [i for i in ids if '"%s"' % i in body.get("query", "")]
        updated = [{"id": "so-%d" % n, "rule_id": i, "enabled": True} for n, i in enumerate(selected)]
        return 200, {"success": True, "rules_count": len(updated),
                     "attributes": {"results": {"updated": updated, "created": [], "deleted": [], "skipped": []},
                                    "summary": {"failed": 0, "succeeded": len(updated), "skipped": 0,
                                                "total": len(updated)}}}

    def last_import_rules(self):
        imports = [r for r in self.requests if r["path"].endswith("/_import")]
        return self.uploaded_rules(imports[-1])


def multipart_file(request):
    """The multipart/form-data part of a request as {name, filename, content_type, content}."""
    content_type = request["headers"]["content-type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request["body"])
    parts = list(message.iter_parts())
    assert len(parts) == 1, "one form field expected"
    part = parts[0]
    return {"name": part.get_param("name", header="content-disposition"), "filename": part.get_filename(),
            "content_type": part.get_content_type(), "content": part.get_payload(decode=True)}


@pytest.fixture
def kibana():
    server = FakeKibana()
    yield server
    server.close()


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    from harness.detections import load_all
    from harness.project import Layout

    root = tmp_path_factory.mktemp("dist")
    (path,) = R.elastic_rules(Layout(root), load_all(Layout().detections))
    return path


@pytest.fixture
def env(monkeypatch):
    for name in ("KIBANA_URL", "KIBANA_API_KEY", "KIBANA_USERNAME", "KIBANA_PASSWORD", "COLUMNS",
                 "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def run(*args, env_vars=None):
    result = CliRunner().invoke(D.deploy_elastic, list(args), env=env_vars or {}, catch_exceptions=False)
    return result


def rule_lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------------------
# the import request


def test_import_request_with_api_key(kibana, rules_file, env):
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file), env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    (req,) = kibana.requests
    assert req["method"] == "POST"
    assert req["path"] == "/api/detection_engine/rules/_import"
    assert req["query"] == {"overwrite": ["true"]}
    headers = req["headers"]
    assert headers["kbn-xsrf"] == "true"
    assert headers["elastic-api-version"] == "2023-10-31"
    assert headers["authorization"] == "ApiKey " + API_KEY
    part = multipart_file(req)
    assert (part["name"], part["filename"]) == ("file", "rules.ndjson")
    assert part["content"] == rules_file.read_bytes()
    assert part["content"].decode().splitlines() == rules_file.read_text().splitlines()
    for rule in rule_lines(rules_file):
        assert rule["rule_id"] in result.output
    n = len(rule_lines(rules_file))
    assert "%d of %d rules imported." % (n, n) in result.output
    assert API_KEY not in result.output


def test_import_into_a_space_with_basic_auth(kibana, rules_file, env):
    result = run("--kibana-url", kibana.url + "/", "--space", "secops", "--rules", str(rules_file),
                 env_vars={"KIBANA_USERNAME": "deployer", "KIBANA_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    (req,) = kibana.requests
    assert req["path"] == "/s/secops/api/detection_engine/rules/_import"
    assert req["query"] == {"overwrite": ["true"]}
    expected = "Basic " + base64.b64encode(("deployer:" + PASSWORD).encode()).decode()
    assert req["headers"]["authorization"] == expected
    assert PASSWORD not in result.output


def test_kibana_url_from_environment_and_base_path(kibana, rules_file, env):
    result = run("--rules", str(rules_file),
                 env_vars={"KIBANA_URL": kibana.url + "/kibana", "KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    assert kibana.requests[0]["path"] == "/kibana/api/detection_engine/rules/_import"


def test_the_default_space_has_no_prefix(kibana, rules_file, env):
    assert run("--kibana-url", kibana.url, "--space", "default", "--rules", str(rules_file),
               env_vars={"KIBANA_API_KEY": API_KEY}).exit_code == 0
    assert kibana.requests[0]["path"] == "/api/detection_engine/rules/_import"


# ------------------------------------------------------------------------------------------------
# Kibana's answers


def test_partial_failure_exits_non_zero_and_names_the_rule(kibana, rules_file, env):
    rules = rule_lines(rules_file)
    bad = rules[1]

    def partial(request):
        n = len(kibana.uploaded_rules(request))
        return 200, {"success": False, "success_count": n - 1, "rules_count": n,
                     "errors": [{"rule_id": bad["rule_id"],
                                 "error": {"status_code": 400, "message": "threshold.value: Number must be greater than or equal to 1"}}],
                     "exceptions_success": True, "exceptions_success_count": 0, "exceptions_errors": [],
                     "action_connectors_success": True, "action_connectors_success_count": 0,
                     "action_connectors_errors": [], "action_connectors_warnings": []}

    kibana.handlers["/_import"] = partial
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file), env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 1, result.output
    failed_line = next(line for line in result.output.splitlines() if bad["rule_id"] in line)
    assert "FAILED" in failed_line and bad["name"][:20] in failed_line
    assert "400: threshold.value: Number must be greater than or equal to 1" in result.output
    assert "%d of %d rules imported; 1 failed" % (len(rules) - 1, len(rules)) in result.output
    ok_line = next(line for line in result.output.splitlines() if rules[0]["rule_id"] in line)
    assert "FAILED" not in ok_line


def test_deploy_rules_returns_per_rule_outcomes(kibana, rules_file, env):
    bad = rule_lines(rules_file)[0]["rule_id"]
    kibana.handlers["/_import"] = lambda req: (200, {
        "success": False, "success_count": 0, "rules_count": 1,
        "errors": [{"rule_id": bad, "error": {"status_code": 409, "message": "rule_id already exists"}},
                   {"rule_id": "not-in-file", "error": {"status_code": 400, "message": "odd"}}]})
    result = D.deploy_rules(kibana.url, rules_file, environ={"KIBANA_API_KEY": API_KEY})
    assert not result.ok
    outcome = next(r for r in result.rules if r.rule_id == bad)
    assert outcome.imported is False and outcome.message == "409: rule_id already exists"
    assert all(r.imported for r in result.rules if r.rule_id != bad)
    assert any("not-in-file" in e for e in result.other_errors)


@pytest.mark.parametrize("status, body, words", [
    (401, {"statusCode": 401, "error": "Unauthorized",
           "message": "[security_exception] unable to authenticate with provided credentials"},
     ["HTTP 401", "rejected the credentials", "API key from KIBANA_API_KEY"]),
    (403, {"statusCode": 403, "error": "Forbidden", "message": "Unauthorized to create rule"},
     ["HTTP 403", "Unauthorized to create rule"]),
    (500, {"statusCode": 500, "error": "Internal Server Error", "message": "An internal server error occurred."},
     ["HTTP 500", "An internal server error occurred."]),
    (400, {"statusCode": 400, "error": "Bad Request", "message": "Invalid file extension .json"},
     ["HTTP 400", "Invalid file extension .json"]),
])
def test_http_errors_are_one_clear_line_without_secrets(kibana, rules_file, env, status, body, words):
    def answer(request):
        # a careless proxy could echo the Authorization header: it must still never be printed
        return status, dict(body, message=body["message"] + " " + request["headers"]["authorization"])

    kibana.handlers["/_import"] = answer
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file), env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 2
    error_lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(error_lines) == 1 and error_lines[0].startswith("Error: import:")
    for word in words:
        assert word in result.output
    assert API_KEY not in result.output


def test_basic_auth_password_is_never_printed(kibana, rules_file, env):
    kibana.handlers["/_import"] = lambda req: (401, {"message": "bad " + base64.b64decode(
        req["headers"]["authorization"].split()[1]).decode()})
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file),
                 env_vars={"KIBANA_USERNAME": "deployer", "KIBANA_PASSWORD": PASSWORD})
    assert result.exit_code == 2 and "HTTP 401" in result.output
    assert PASSWORD not in result.output


def test_wrong_space_404(kibana, rules_file, env):
    kibana.handlers["/_import"] = lambda req: (404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
    result = run("--kibana-url", kibana.url, "--space", "nope", "--rules", str(rules_file),
                 env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 2
    assert "HTTP 404 in space 'nope': does the space exist?" in result.output
    assert kibana.requests[0]["path"] == "/s/nope/api/detection_engine/rules/_import"


def test_redirect_is_reported_not_followed(kibana, rules_file, env):
    kibana.handlers["/_import"] = lambda req: (302, {"message": "moved"})
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file), env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 2 and "HTTP 302" in result.output
    assert len(kibana.requests) == 1


def test_connection_refused(rules_file, env):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = run("--kibana-url", "http://127.0.0.1:%d" % port, "--rules", str(rules_file),
                 env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 2
    assert "cannot connect to Kibana at http://127.0.0.1:%d: connection refused" % port in result.output


# ------------------------------------------------------------------------------------------------
# inputs


def test_missing_credentials_is_a_clear_error_and_sends_nothing(kibana, rules_file, env):
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file))
    assert result.exit_code == 2
    assert "no Kibana credentials: set KIBANA_API_KEY" in result.output
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file), env_vars={"KIBANA_USERNAME": "u"})
    assert result.exit_code == 2 and "KIBANA_PASSWORD is not set" in result.output
    assert kibana.requests == []


def test_credentials_in_the_url_are_refused_and_not_echoed(kibana, rules_file, env):
    url = kibana.url.replace("://", "://elastic:%s@" % PASSWORD)
    result = run("--kibana-url", url, "--rules", str(rules_file), env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 2 and "must not contain credentials" in result.output
    assert PASSWORD not in result.output and kibana.requests == []


def test_bad_inputs(kibana, rules_file, env, tmp_path):
    key = {"KIBANA_API_KEY": API_KEY}
    assert "no Kibana URL" in run("--rules", str(rules_file), env_vars=key).output
    assert "invalid space id 'Sec Ops'" in run("--kibana-url", kibana.url, "--space", "Sec Ops",
                                               "--rules", str(rules_file), env_vars=key).output
    broken = tmp_path / "broken.ndjson"
    broken.write_text(rules_file.read_text().splitlines()[0] + "\n{not json\n")
    result = run("--kibana-url", kibana.url, "--rules", str(broken), env_vars=key)
    assert result.exit_code == 2 and "broken.ndjson:2: not a JSON object" in result.output
    assert "no rules file at" in run("--kibana-url", kibana.url, "--rules", str(tmp_path / "none.ndjson"),
                                     env_vars=key).output
    assert "contradict" in run("--kibana-url", kibana.url, "--rules", str(rules_file), "--insecure",
                               "--ca-cert", str(rules_file), env_vars=key).output
    assert kibana.requests == []


def test_dry_run_sends_nothing(kibana, rules_file, env):
    result = run("--kibana-url", kibana.url, "--space", "secops", "--rules", str(rules_file), "--dry-run", "--enable")
    assert result.exit_code == 0, result.output
    assert kibana.requests == []
    for rule in rule_lines(rules_file):
        assert rule["rule_id"] in result.output
    assert "would POST %s/s/secops/api/detection_engine/rules/_import?overwrite=true" % kibana.url in result.output
    assert "_bulk_action" in result.output
    assert "Nothing was sent to Kibana" in result.output


def test_without_rules_the_file_is_built_from_the_detections(kibana, env, tmp_path):
    from harness.project import Layout

    root = tmp_path / "project"
    shutil.copytree(str(Layout().detections), str(root / "detections"))
    env.setenv("AWSSIGNIN_ROOT", str(root))
    result = run("--kibana-url", kibana.url, "--dry-run")
    assert result.exit_code == 0, result.output
    built = root / "dist" / "elastic" / "rules.ndjson"
    assert built.is_file() and "built %s" % built in result.output
    assert rule_lines(built)[0]["rule_id"] in result.output
    built.write_text("stale\n")  # an old file is never deployed in place of the detections
    assert run("--kibana-url", kibana.url, "--dry-run").exit_code == 0
    assert built.read_text() != "stale\n"


# ------------------------------------------------------------------------------------------------
# --enable


def test_enable_sends_a_bulk_enable_for_the_imported_rules(kibana, rules_file, env):
    result = run("--kibana-url", kibana.url, "--space", "secops", "--rules", str(rules_file), "--enable",
                 env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    imp, bulk = kibana.requests
    assert bulk["path"] == "/s/secops/api/detection_engine/rules/_bulk_action"
    assert bulk["query"] == {}
    assert bulk["headers"]["kbn-xsrf"] == "true"
    assert bulk["headers"]["elastic-api-version"] == "2023-10-31"
    assert bulk["headers"]["authorization"] == "ApiKey " + API_KEY
    assert bulk["headers"]["content-type"] == "application/json"
    body = json.loads(bulk["body"])
    ids = [r["rule_id"] for r in rule_lines(rules_file)]
    assert body == {"action": "enable", "query": D.enable_query(ids)}
    assert body["query"] == "alert.attributes.params.ruleId: (%s)" % " OR ".join('"%s"' % i for i in ids)
    assert "%d enabled" % len(ids) in result.output


def test_enable_skips_rules_that_failed_to_import_and_reports_enable_failures(kibana, rules_file, env):
    rules = rule_lines(rules_file)
    kibana.handlers["/_import"] = lambda req: (200, {
        "success": False, "success_count": len(rules) - 1, "rules_count": len(rules),
        "errors": [{"rule_id": rules[0]["rule_id"], "error": {"status_code": 400, "message": "bad"}}]})

    def enable_partly(request):
        return 500, {"message": "Bulk edit partially failed", "status_code": 500, "attributes": {
            "errors": [{"message": "Rule is missing the license", "status_code": 403,
                        "rules": [{"id": "so-2", "name": rules[2]["name"]}]}],
            "results": {"updated": [{"id": "so-%d" % i, "rule_id": r["rule_id"]} for i, r in enumerate(rules)
                                    if i not in (0, 2)],
                        "created": [], "deleted": [], "skipped": []},
            "summary": {"failed": 1, "succeeded": len(rules) - 2, "skipped": 0, "total": len(rules) - 1}}}

    kibana.handlers["/_bulk_action"] = enable_partly
    result = run("--kibana-url", kibana.url, "--rules", str(rules_file), "--enable",
                 env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 1
    body = json.loads(kibana.requests[1]["body"])
    assert rules[0]["rule_id"] not in body["query"] and rules[1]["rule_id"] in body["query"]
    line = next(line for line in result.output.splitlines() if rules[2]["rule_id"] in line)
    assert "FAILED" in line
    assert "enable failed: 403: Rule is missing the license" in result.output


# ------------------------------------------------------------------------------------------------
# TLS (optional: needs the openssl command to make a self-signed certificate)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    openssl = shutil.which("openssl")
    if not openssl:
        pytest.skip("no openssl command to generate a self-signed certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "kibana.pem", folder / "kibana.key"
    made = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           "-keyout", str(key), "-out", str(cert)], capture_output=True)
    if made.returncode != 0:
        pytest.skip("openssl could not make a certificate: %s" % made.stderr.decode(errors="replace")[:200])
    return cert, key


@pytest.fixture
def tls_kibana(certificate):
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server = FakeKibana(tls_context=context)
    yield server
    server.close()


def test_tls_is_verified_by_default(tls_kibana, rules_file, env):
    result = run("--kibana-url", tls_kibana.url, "--rules", str(rules_file), env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 2
    assert "TLS verification of %s failed (certificate verify failed" % tls_kibana.url in result.output
    assert "--ca-cert" in result.output and API_KEY not in result.output


def test_ca_cert_makes_tls_pass(tls_kibana, rules_file, env, certificate):
    result = run("--kibana-url", tls_kibana.url, "--rules", str(rules_file), "--ca-cert", str(certificate[0]),
                 env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    assert tls_kibana.requests[0]["headers"]["authorization"] == "ApiKey " + API_KEY


def test_insecure_skips_verification_with_a_warning(tls_kibana, rules_file, env):
    result = run("--kibana-url", tls_kibana.url, "--rules", str(rules_file), "--insecure",
                 env_vars={"KIBANA_API_KEY": API_KEY})
    assert result.exit_code == 0, result.output
    assert "warning: --insecure" in result.output
    assert len(tls_kibana.requests) == 1


def test_rule_names_are_printed_literally(kibana, env, tmp_path):
    path = tmp_path / "one.ndjson"
    path.write_text(json.dumps({"rule_id": "r-1", "name": "Rule [bold]one[/bold]", "type": "query",
                                "severity": "low"}) + "\n")
    result = run("--kibana-url", kibana.url, "--rules", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Rule [bold]one[/bold]" in result.output
