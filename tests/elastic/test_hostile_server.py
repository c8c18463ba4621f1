"""``awssignin deploy elastic`` against servers that misbehave on purpose: one that echoes the
credentials it receives in every encoding, one that puts a secret across the point where the
client stops reading, one that drips a byte at a time, one with an endless error body, invalid
JSON, and 500s on some rules. Each is a threaded http.server in this file."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, quote_plus, urlsplit

import pytest
from click.testing import CliRunner

from harness.elastic import deploy as D
from harness.elastic import kibana_api as K

from kibana_standin import small_pack

API_KEY = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="
USER, PASSWORD = "deployer", "pw-3q9!Zx#se cret/+="
KEY_ENV = {"KIBANA_API_KEY": API_KEY}
BASIC_ENV = {"KIBANA_USERNAME": USER, "KIBANA_PASSWORD": PASSWORD}


def forms_of(header):
    """Every form of the secrets in an Authorization header a careless server could echo."""
    scheme, _, value = header.partition(" ")
    out = {header, value}
    if scheme == "Basic":
        pair = base64.b64decode(value).decode()
        out |= {pair, pair.split(":", 1)[1]}
    else:
        decoded = base64.b64decode(value).decode()
        out |= {decoded, decoded.split(":", 1)[1]}
    for secret in list(out):
        out |= {quote(secret, safe=""), quote_plus(secret), base64.b64encode(secret.encode()).decode(),
                json.dumps(secret)[1:-1]}
    return out


class Hostile(object):
    """``answer(handler, request)`` writes the whole response itself."""

    def __init__(self, answer):
        self.answer = answer
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def _handle(self):
                length = int(self.headers.get("Content-Length", "0") or 0)
                request = {"method": self.command, "path": urlsplit(self.path).path, "url": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()},
                           "body": self.rfile.read(length) if length else b""}
                outer.requests.append(request)
                try:
                    outer.answer(self, request)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    pass                                 # the client hung up, as it should

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def send(handler, status, body, content_type="application/json", length=None):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(data) if length is None else length))
    handler.end_headers()
    handler.wfile.write(data)


def empty_find(handler, request):
    send(handler, 200, {"page": 1, "perPage": 100, "total": 0, "data": []})


def echo_text(request):
    header = request["headers"].get("authorization", "")
    return " | ".join(sorted(forms_of(header))) + " | headers: " + json.dumps(request["headers"])


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory):
    return small_pack(tmp_path_factory.mktemp("rules") / "rules.ndjson")


def deploy_to(answer, rules_file, env_vars, *extra):
    """(result, server): ``deploy elastic`` against a hostile server answering with ``answer``."""
    server = Hostile(answer)
    try:
        result = CliRunner().invoke(D.deploy_elastic, ["--kibana-url", server.url, "--rules", str(rules_file)]
                                    + list(extra), env=env_vars, catch_exceptions=False)
    finally:
        server.close()
    return result, server


def assert_no_secret(output, server):
    sent = {r["headers"].get("authorization") for r in server.requests} - {None}
    assert sent, "the client sent no credentials"
    for header in sent:
        for form in forms_of(header):
            assert form not in output, "leaked %r" % form[:6]


# ------------------------------------------------------------------------------------------------
# the echoing server


@pytest.mark.parametrize("env_vars", [KEY_ENV, BASIC_ENV], ids=["api key", "basic auth"])
def test_an_echo_of_the_credentials_in_a_refused_read_is_scrubbed(env, rules_file, env_vars):
    def answer(handler, request):
        send(handler, 401, {"statusCode": 401, "message": "bad credentials: " + echo_text(request)})

    result, server = deploy_to(answer, rules_file, env_vars)
    assert result.exit_code == 2 and "HTTP 401" in result.output and "***" in result.output
    assert_no_secret(result.output, server)


@pytest.mark.parametrize("env_vars", [KEY_ENV, BASIC_ENV], ids=["api key", "basic auth"])
def test_an_echo_in_per_rule_errors_is_scrubbed(env, rules_file, env_vars):
    def answer(handler, request):
        if request["method"] == "GET":
            return empty_find(handler, request)
        # a message with the secret straddling the 300-character cut, then the full echo
        pad = "x" * (K.MESSAGE_LIMIT - 20)
        send(handler, 400, {"status_code": 400, "message": pad + request["headers"]["authorization"] + " " + echo_text(request)})

    result, server = deploy_to(answer, rules_file, env_vars)
    assert result.exit_code == 1
    assert result.output.count("FAILED r-") == 3
    assert_no_secret(result.output, server)
    header = server.requests[-1]["headers"]["authorization"]
    assert header[:12] not in result.output            # not even the part before the cut


def test_a_secret_across_the_end_of_the_bounded_read_leaks_no_prefix(env, rules_file):
    def answer(handler, request):
        header = request["headers"]["authorization"]
        body = ("e" * (K.ERROR_BODY_LIMIT - 12) + header + "e" * 5000).encode()
        send(handler, 500, body, content_type="text/plain")

    result, server = deploy_to(answer, rules_file, KEY_ENV)
    assert result.exit_code == 2 and "HTTP 500" in result.output
    assert ("ApiKey " + API_KEY)[:12] not in result.output and "ApiKey" not in result.output
    assert_no_secret(result.output, server)


def test_scrubber_removes_every_encoding_before_cutting():
    auth, secrets = K.basic_auth(USER, PASSWORD)
    scrubber = K.Scrubber(secrets)
    pair = USER + ":" + PASSWORD
    text = "a" * 295 + base64.b64encode(pair.encode()).decode()
    assert "a" * 200 in scrubber.clean(text) and base64.b64encode(pair.encode()).decode()[:4] not in scrubber.clean(text)
    for form in forms_of("Basic " + base64.b64encode(pair.encode()).decode()):
        assert form not in scrubber.clean("x %s y" % form, limit=0)
    # control characters are replaced, not deleted: deleting could rejoin a split secret
    split = PASSWORD[:5] + "\x1b" + PASSWORD[5:]
    assert scrubber.clean(split) == PASSWORD[:5] + "?" + PASSWORD[5:]


# ------------------------------------------------------------------------------------------------
# slow, huge and broken answers


def drip(handler, request, pause=0.3):
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    for _ in range(100000):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(pause)


def drip_headers(handler, request):
    for byte in b"HTTP/1.0 200 OK\r\nX-Slow: " + b"a" * 10000:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.3)


@pytest.mark.parametrize("answer", [drip, drip_headers], ids=["body", "headers"])
def test_a_dripping_server_cannot_hold_the_deploy_past_its_deadline(env, rules_file, answer):
    started = time.monotonic()
    result, server = deploy_to(answer, rules_file, KEY_ENV, "--deadline", "2")
    elapsed = time.monotonic() - started
    assert result.exit_code == 2, result.output
    assert "the deploy's deadline of 2 s passed" in result.output
    # every read returned within requests' per-read timeout; only the deadline stops it
    assert elapsed < 30


def test_the_deadline_stops_the_rules_not_yet_sent(env, rules_file):
    def answer(handler, request):
        if request["method"] == "GET":
            return empty_find(handler, request)
        drip(handler, request)

    result, server = deploy_to(answer, rules_file, KEY_ENV, "--deadline", "2")
    assert result.exit_code == 1, result.output
    assert result.output.count("FAILED r-") == 3
    assert "FAILED r-0 (Rule 0): create r-0: the deploy's deadline of 2 s passed" in result.output
    assert "FAILED r-1 (Rule 1): not sent: the deploy's deadline of 2 s passed" in result.output
    assert len([r for r in server.requests if r["method"] == "POST"]) == 1


def test_a_huge_error_body_is_read_only_in_part(env, rules_file):
    sent = []

    def answer(handler, request):
        handler.send_response(500)
        handler.send_header("Content-Type", "text/plain")
        handler.send_header("Content-Length", str(200 * 1024 * 1024))
        handler.end_headers()
        chunk = b"z" * 65536
        for _ in range(200 * 16):
            handler.wfile.write(chunk)
            sent.append(len(chunk))

    result, server = deploy_to(answer, rules_file, KEY_ENV)
    assert result.exit_code == 2 and "HTTP 500" in result.output
    assert len(result.output) < 2000
    assert sum(sent) < 200 * 1024 * 1024              # the client hung up long before the end


def test_a_success_body_over_the_limit_is_refused(env, rules_file, monkeypatch):
    monkeypatch.setattr(K, "MAX_BODY", 64 * 1024)
    big = {"page": 1, "perPage": 100, "total": 0, "data": [], "pad": "p" * (256 * 1024)}
    result, server = deploy_to(lambda h, r: send(h, 200, big), rules_file, KEY_ENV)
    assert result.exit_code == 2
    assert "read the target: Kibana's answer is larger than 64 KiB; refusing to read it" in result.output


def test_invalid_json_is_a_clear_error(env, rules_file):
    def answer(handler, request):
        send(handler, 200, b"<html>\x1b[2J not json {", content_type="text/html")

    result, server = deploy_to(answer, rules_file, KEY_ENV)
    assert result.exit_code == 2
    assert "read the target: Kibana's answer is not JSON: <html>?[2J not json {" in result.output
    assert "\x1b" not in result.output


def test_500_on_some_rules_is_reported_per_rule(env, rules_file):
    def answer(handler, request):
        if request["method"] == "GET":
            return empty_find(handler, request)
        rule = json.loads(request["body"])
        if rule["rule_id"] == "r-1":
            return send(handler, 500, b"<html><body>Internal Server Error</body></html>", content_type="text/html")
        send(handler, 200, dict(rule, id="so-" + rule["rule_id"]))

    result, server = deploy_to(answer, rules_file, KEY_ENV)
    assert result.exit_code == 1
    assert "FAILED r-1 (Rule 1): create: Kibana failed with HTTP 500: <html><body>Internal Server Error</body></html>" \
        in result.output
    assert "FAILED r-0" not in result.output and "FAILED r-2" not in result.output
    assert "3 new, 0 changed, 0 unchanged; 1 failed." in result.output


def test_a_server_claiming_endless_pages_cannot_keep_the_deploy_paging(env, rules_file):
    def answer(handler, request):
        if request["method"] == "GET":
            rule = {"rule_id": "r-0", "name": "Rule 0", "type": "query", "version": 1, "author": ["awssignin"]}
            return send(handler, 200, {"page": 1, "perPage": 100, "total": 10 ** 9, "data": [rule]})
        send(handler, 200, json.loads(request["body"]))

    result, server = deploy_to(answer, rules_file, KEY_ENV, "--dry-run")
    assert result.exit_code == 0, result.output
    by_rule_id = [r for r in server.requests if "ruleId" in r["url"]]
    assert len(by_rule_id) == 2                  # the second page brought nothing new
    assert len(server.requests) == 4             # the same for the find by author
