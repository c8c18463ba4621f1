"""A scripted HTTP(S) server on 127.0.0.1 for tests that check the exact requests a client sends.

``route(request) -> (status, body[, headers])`` answers; every request is recorded. Stand-ins built on
it (splunkd, HEC, Elasticsearch, Kibana) answer as the products' documentation says they do.
"""

import base64
import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse


class Headers(dict):
    """Header names compare case-insensitively (clients differ in how they spell them)."""

    def __init__(self, items):
        dict.__init__(self, ((k.lower(), v) for k, v in items))

    def __getitem__(self, key):
        return dict.__getitem__(self, key.lower())

    def get(self, key, default=None):
        return dict.get(self, key.lower(), default)


class Request(object):
    def __init__(self, method, path, query, headers, body, target=""):
        self.method, self.path, self.query, self.body = method, path, query, body
        self.target = target                   # the request target as sent: path and query, still quoted
        self.headers = Headers(headers.items())

    def form(self):
        return dict((k, v[0]) for k, v in parse_qs(self.body.decode("utf-8"), keep_blank_values=True).items())

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def basic_auth(self):
        kind, _, value = (self.headers.get("Authorization") or "").partition(" ")
        assert kind == "Basic", self.headers.get("Authorization")
        return base64.b64decode(value).decode("utf-8")


class FakeServer(object):
    """Answers with ``route(request) -> (status, body_obj[, headers])`` and records every request.
    With ``tls_context`` (an ssl server context) it speaks HTTPS."""

    def __init__(self, route, headers=None, tls_context=None):
        self.route = route
        self.requests = []
        self.extra_headers = headers or {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True     # headers and body go out at once (no delayed-ACK stall)

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlparse(self.path)
                req = Request(self.command, unquote(url.path),
                              dict((k, v[0]) for k, v in parse_qs(url.query, keep_blank_values=True).items()),
                              self.headers, body, target=self.path)
                outer.requests.append(req)
                answer = outer.route(req)
                status, payload = answer[0], answer[1]
                headers = dict(outer.extra_headers)
                headers.update(answer[2] if len(answer) > 2 else {})
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode("utf-8")
                self.send_response(status)
                headers.setdefault("Content-Type", "application/json")
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True      # a client that never finishes never holds the test up
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def find(self, method, path):
        return [r for r in self.requests if r.method == method and r.path == path]


def self_signed_certificate(directory):
    """(cert.pem, key.pem) for CN/SAN 127.0.0.1, made with the openssl command; None without it."""
    openssl = shutil.which("openssl")
    if not openssl:
        return None
    cert, key = directory / "cert.pem", directory / "key.pem"
    made = subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           "-keyout", str(key), "-out", str(cert)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (cert, key) if made.returncode == 0 else None
