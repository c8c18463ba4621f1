"""A small Kibana HTTP client for the detection-engine API that treats the server as untrusted.

What it guarantees, whatever the server does (tests/elastic/test_hostile_server.py):

- **No secret in any text it returns.** Every text that came from the server or from the HTTP
  stack (bodies, messages, headers, exception texts) goes through ``Scrubber.clean`` before it is
  cut or printed. The scrubber knows each secret and every encoding this client sends it in:
  ``Authorization: Basic base64(user:password)`` and ``Authorization: ApiKey <key>``, the raw
  secrets, their base64, URL-encoded (``%XX`` and ``+``) and JSON-escaped forms, and the decoded
  ``id:key`` of an encoded API key. A body read only in part can end in the first characters of a
  secret; those last characters are dropped (``clean(..., truncated=True)``).
- **Bounded reads.** Bodies are streamed (``stream=True``) and read up to a limit: an error body
  to ``ERROR_BODY_LIMIT`` bytes (a prefix is enough to say what went wrong), a success body to
  ``MAX_BODY`` bytes (more is an error, not a memory exhaustion). ``Accept-Encoding: identity``
  asks for no compression, so the limit is on what the server sends.
- **An overall deadline.** requests' timeout is per socket read, so a server that drips a byte
  every few seconds never trips it. Each client has a deadline; a watchdog thread shuts down the
  sockets of this client's connections when it passes (the blocked read then fails), and no
  request starts after it. Connections are tracked through urllib3 pool classes whose connection
  class registers itself on connect.
- Redirects are not followed (a redirect would resend the credentials elsewhere) and ~/.netrc is
  never read (the auth objects are set explicitly).

Kibana's detection-engine errors are ``{"message": ..., "status_code": ...}`` (the security
solution's ``buildSiemResponse``) or the platform's ``{"statusCode", "error", "message"}``;
``message_of`` reads either.
"""

import base64
import json
import re
import socket
import threading
import time
import unicodedata
import warnings
from urllib.parse import quote, quote_plus, urlsplit

import requests
import requests.adapters
import requests.auth
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

API_VERSION = "2023-10-31"
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 60              # one socket read; the deadline bounds the whole deploy
DEFAULT_DEADLINE = 300         # seconds for everything one client does
ERROR_BODY_LIMIT = 8 * 1024
MAX_BODY = 16 * 1024 * 1024
MESSAGE_LIMIT = 300
REDACTED = "***"


class DeployError(Exception):
    """Deploying could not start or Kibana refused the request; the message is one line, no secrets."""


class DeadlineExceeded(DeployError):
    pass


# ----------------------------------------------------------------------------------------------
# Secrets
# ----------------------------------------------------------------------------------------------

def _encodings(secret):
    out = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
           json.dumps(secret, ensure_ascii=False)[1:-1],
           base64.b64encode(secret.encode("utf-8")).decode("ascii")}
    return {form for form in out if form}


def _decoded_api_key(key):
    """The ``id:api_key`` an encoded API key stands for, or None."""
    try:
        text = base64.b64decode(key, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    return text if ":" in text else None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class Scrubber(object):
    """Removes secrets, in every encoding the client sends them, from texts before they are shown."""

    def __init__(self, secrets=()):
        forms = set()
        for secret in secrets:
            if secret:
                forms |= _encodings(secret)
        self.forms = sorted(forms, key=len, reverse=True)   # longest first: no partial leftovers
        self.longest = len(self.forms[0]) if self.forms else 0

    def scrub(self, text):
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def clean(self, text, limit=MESSAGE_LIMIT, truncated=False):
        """One printable line: secrets removed, then control characters replaced, whitespace
        collapsed, secrets removed again (nothing printed can be reassembled), then cut."""
        text = self.scrub(str(text))
        if truncated and self.longest:
            # the text stops inside the body: its tail may be the start of a secret
            text = text[: max(0, len(text) - self.longest)] + " [...]"
        # replace rather than delete: deleting could join two halves of a secret
        text = _CONTROL.sub("?", text)
        text = "".join("?" if unicodedata.category(c) in ("Cf", "Co", "Cs") else c for c in text)
        text = self.scrub(" ".join(text.split()))
        if limit and len(text) > limit:
            text = text[: limit - 3] + "..."
        return text


class ApiKeyAuth(requests.auth.AuthBase):
    """``Authorization: ApiKey <key>``; as an auth object it also keeps requests from using ~/.netrc."""

    def __init__(self, key):
        self.key = key

    def __call__(self, request):
        request.headers["Authorization"] = "ApiKey " + self.key
        return request


def api_key_auth(key):
    """(auth, secrets) for an encoded API key."""
    secrets = [key, "ApiKey " + key]
    decoded = _decoded_api_key(key)
    if decoded:
        secrets += [decoded, decoded.split(":", 1)[1]]
    return ApiKeyAuth(key), secrets


def basic_auth(user, password):
    """(auth, secrets) for basic auth: the password, ``user:password``, its base64 and the header value."""
    pair = "%s:%s" % (user, password)
    token = base64.b64encode(pair.encode("utf-8")).decode("ascii")
    return requests.auth.HTTPBasicAuth(user, password), [password, pair, token, "Basic " + token]


# ----------------------------------------------------------------------------------------------
# Connections the watchdog can cut
# ----------------------------------------------------------------------------------------------

def _pool_classes(registry):
    """urllib3 pool classes whose connections add their socket to ``registry`` once connected (the
    socket, not the connection: http.client drops ``connection.sock`` when the response takes it)."""

    class TrackedHTTPConnection(HTTPConnection):
        def connect(self):
            HTTPConnection.connect(self)
            registry.add(self.sock)

    class TrackedHTTPSConnection(HTTPSConnection):
        def connect(self):
            HTTPSConnection.connect(self)
            registry.add(self.sock)

    class Pool(HTTPConnectionPool):
        ConnectionCls = TrackedHTTPConnection

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = TrackedHTTPSConnection

    return {"http": Pool, "https": TlsPool}


class _TrackingAdapter(requests.adapters.HTTPAdapter):
    def __init__(self, registry):
        self._classes = _pool_classes(registry)
        requests.adapters.HTTPAdapter.__init__(self, max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        requests.adapters.HTTPAdapter.init_poolmanager(self, *args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(self._classes)

    def proxy_manager_for(self, proxy, **kwargs):
        manager = requests.adapters.HTTPAdapter.proxy_manager_for(self, proxy, **kwargs)
        manager.pool_classes_by_scheme = dict(self._classes)
        return manager


class _Connections(object):
    def __init__(self):
        self._lock = threading.Lock()
        self._items = []

    def add(self, sock):
        with self._lock:
            self._items.append(sock)

    def cut(self):
        with self._lock:
            items, self._items = self._items, []
        for sock in items:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ----------------------------------------------------------------------------------------------
# The client
# ----------------------------------------------------------------------------------------------

class Answer(object):
    """A response read within the limits: ``status``, ``body`` (parsed JSON or None), ``message``
    (Kibana's message, cleaned), ``text`` (a cleaned excerpt of the body), ``headers``."""

    def __init__(self, status, body, message, text, headers):
        self.status, self.body, self.message, self.text, self.headers = status, body, message, text, headers

    @property
    def ok(self):
        return 200 <= self.status < 300


def message_of(body):
    if isinstance(body, dict):
        for key in ("message", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict):          # {"error": {"message": ...}}
                inner = message_of(value)
                if inner:
                    return inner
    return ""


def connection_reason(text):
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if re.search(r"Name or service not known|nodename nor servname|getaddrinfo failed|Failed to resolve|"
                 r"Temporary failure in name resolution", text):
        return "the host name does not resolve"
    if "timed out" in lowered:
        return "the connection timed out"
    return "connection failed"


def tls_reason(text):
    match = re.search(r"certificate verify failed: ([^()'\"\]]+)", text)
    if match:
        return "certificate verify failed: " + match.group(1).strip()
    return "TLS handshake failed"


class KibanaClient(object):
    """Requests to one Kibana (base URL with any /s/<space> prefix) under one deadline."""

    def __init__(self, base, auth, secrets, verify=True, deadline=DEFAULT_DEADLINE, session=None,
                 clock=time.monotonic, read_timeout=READ_TIMEOUT):
        self.base = base
        self.origin = "%s://%s" % (urlsplit(base).scheme, urlsplit(base).netloc)
        self.auth = auth
        self.scrubber = Scrubber(secrets)
        self.verify = verify
        self.clock = clock
        self.read_timeout = read_timeout
        self.deadline_seconds = deadline
        self.ends = clock() + deadline
        self.expired = False
        self._connections = _Connections()
        self.session = session or requests.Session()
        adapter = _TrackingAdapter(self._connections)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._watchdog = threading.Timer(max(0.0, deadline), self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    # -- lifecycle -----------------------------------------------------------------------------

    def _expire(self):
        self.expired = True
        self._connections.cut()

    def close(self):
        self._watchdog.cancel()
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def clean(self, text, limit=MESSAGE_LIMIT, truncated=False):
        return self.scrubber.clean(text, limit=limit, truncated=truncated)

    def remaining(self):
        return self.ends - self.clock()

    def _deadline_error(self, what):
        return DeadlineExceeded("%s: the deploy's deadline of %d s passed (Kibana at %s answers too slowly); "
                                "raise --deadline if it is just slow" % (what, self.deadline_seconds, self.origin))

    # -- requests ------------------------------------------------------------------------------

    def request(self, method, path, what, params=None, json_body=None, files=None):
        """Send one request; an Answer for any HTTP status, DeployError when no answer came."""
        left = self.remaining()
        if self.expired or left <= 0:
            raise self._deadline_error(what)
        headers = {"kbn-xsrf": "true", "elastic-api-version": API_VERSION, "Accept-Encoding": "identity"}
        timeout = (min(CONNECT_TIMEOUT, left), min(self.read_timeout, left))
        try:
            with warnings.catch_warnings():
                # --insecure already printed its own warning; urllib3 would repeat it per request
                warnings.simplefilter("ignore")
                response = self.session.request(method, self.base + path, params=params, json=json_body,
                                                files=files, headers=headers, auth=self.auth, verify=self.verify,
                                                timeout=timeout, allow_redirects=False, stream=True)
                try:
                    return self._read(response, what)
                finally:
                    response.close()
        except DeployError:
            raise
        except requests.exceptions.SSLError as err:
            if self.expired:
                raise self._deadline_error(what)
            raise DeployError("%s: TLS verification of %s failed (%s); use --ca-cert FILE for a private CA, "
                              "or --insecure to skip verification" % (what, self.origin, self.clean(tls_reason(str(err)))))
        except requests.exceptions.Timeout:
            if self.expired or self.remaining() <= 0:
                raise self._deadline_error(what)
            raise DeployError("%s: Kibana at %s did not answer within %d s" % (what, self.origin, timeout[1]))
        except (requests.exceptions.RequestException, OSError) as err:
            if self.expired:
                raise self._deadline_error(what)
            if isinstance(err, requests.exceptions.ConnectionError):
                raise DeployError("%s: cannot connect to Kibana at %s: %s" % (what, self.origin,
                                                                             connection_reason(str(err))))
            raise DeployError("%s: request to %s failed: %s" % (what, self.origin, self.clean(err)))

    def _read(self, response, what):
        status = response.status_code
        limit = MAX_BODY if 200 <= status < 300 else ERROR_BODY_LIMIT
        chunks, size, truncated = [], 0, False
        while True:
            if self.expired:
                raise self._deadline_error(what)
            chunk = response.raw.read(min(64 * 1024, limit + 1 - size))
            if self.expired:
                raise self._deadline_error(what)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                truncated = True
                break
        data = b"".join(chunks)[:limit]
        headers = {k.lower(): self.clean(v, limit=500) for k, v in response.headers.items()}
        if truncated and 200 <= status < 300:
            raise DeployError("%s: Kibana's answer is larger than %d KiB; refusing to read it"
                              % (what, MAX_BODY // 1024))
        raw_text = data.decode("utf-8", errors="replace")
        body = None
        if not truncated:
            try:
                body = json.loads(raw_text)
            except ValueError:
                body = None
        message = self.clean(message_of(body)) if body is not None else ""
        text = self.clean(raw_text, limit=MESSAGE_LIMIT, truncated=truncated)
        return Answer(status, body, message, text, headers)

    def json_object(self, answer, what):
        """The body of a 2xx answer as a dict, or DeployError."""
        if not isinstance(answer.body, dict):
            if answer.body is None:
                raise DeployError("%s: Kibana's answer is not JSON: %s" % (what, answer.text[:120] or "(empty)"))
            raise DeployError("%s: Kibana's answer is not a JSON object" % what)
        return answer.body

    def refusal(self, answer, what, space=None, auth_text=""):
        """One line saying why Kibana refused (non-2xx), secrets removed."""
        status = answer.status
        detail = answer.message or answer.text
        detail = (": " + detail) if detail else ""
        if 300 <= status < 400:
            return "%s: Kibana answered HTTP %d, a redirect to %s; use that address as --kibana-url" % (
                what, status, answer.headers.get("location", "(no Location)"))
        if status == 401:
            return "%s: Kibana rejected the credentials (HTTP 401, %s)%s" % (what, auth_text, detail)
        if status == 403:
            return ("%s: HTTP 403, the user may not manage detection rules%s (needs Security > Rules and "
                    "Exceptions: All)%s" % (what, " in space %r" % space if space else "", detail))
        if status == 404 and space:
            return "%s: HTTP 404 in space %r: does the space exist?%s" % (what, space, detail)
        if status == 404:
            return "%s: HTTP 404: is --kibana-url a Kibana with Elastic Security (and its base path, if any)?%s" % (
                what, detail)
        if status >= 500:
            return "%s: Kibana failed with HTTP %d%s" % (what, status, detail)
        return "%s: Kibana refused the request with HTTP %d%s" % (what, status, detail)
