"""The Splunk side of the Docker tier: a real splunkd (docker/compose.yml) driven over REST and HEC.

For each detection test the runner

1. moves the fixture records to the present (``timeshift``) and sends them through the HTTP Event
   Collector (``/services/collector/event``) with an explicit ``time`` (the shifted eventTime), the
   sourcetype ``aws:cloudtrail``, a test index created for the session and a ``source`` unique to
   the test, so tests never see each other's events;
2. polls a search until every event is searchable;
3. takes the detection's saved search as the installed app holds it (REST), checks it equals what
   ``awssignin build`` generates (``appbuild.saved_search_text``), scopes its data macro to the test's
   index and source (``index=... source=... `aws_signin_cloudtrail```: the macro itself still expands
   on the server), applies the test's ``threshold=`` / ``window=`` to the ``awssignin`` command as the
   local runner does, and runs it over exactly the shifted time range;
4. reads the result rows (``output_mode=json``) and turns them into the alert schema with the local
   runner's ``row_to_alert``; first_seen / last_seen are moved back to the fixture's time line so that
   live and local output read alike.

The session's index is deleted at the end (``close``).

TLS: splunkd's REST port and HEC use the self-signed certificate the image generates. Certificate
checks are turned off only for containers on this machine (127.0.0.1, ::1, localhost), explicitly, in
``tls_verify``; any other host is verified.
"""

import json
import re
import time
import uuid
from urllib.parse import quote, urlparse

import requests

from awssignin.engine import OVERRIDABLE as PARAMS
from awssignin.timeutil import format_time, parse_time

from ..splunk.appbuild import APP_ID as APP, COMMAND, DATA_MACRO
from . import timeshift

SOURCETYPE = "aws:cloudtrail"
HOST = "awssignin-harness"
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_COMMAND_STAGE = re.compile(r"\|\s*%s\b([^|]*)" % COMMAND)
_OPTION = re.compile(r"\s+(%s)=(\"[^\"]*\"|\S+)" % "|".join(PARAMS))
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,79}$")


class SplunkError(RuntimeError):
    """Splunk answered something the harness cannot use; the message says what and where."""


def tls_verify(url):
    """``requests``' ``verify`` for ``url``: False only for the test containers on this machine, whose
    certificate is the image's self-signed one; True (verify) for anything else."""
    host = (urlparse(url).hostname or "").lower()
    return False if host in LOOPBACK else True


def hec_event(record, index, source, host=HOST):
    """One HEC event object for a raw CloudTrail record: ``time`` is its eventTime in epoch seconds."""
    epoch = parse_time(record["eventTime"])
    return {
        "time": int(epoch) if epoch == int(epoch) else round(epoch, 3),
        "host": host,
        "source": source,
        "sourcetype": SOURCETYPE,
        "index": index,
        "event": record,
    }


def hec_body(records, index, source, host=HOST):
    """The HEC request body: event objects one after another (HEC's batch format), one a line."""
    return "".join(json.dumps(hec_event(r, index, source, host), separators=(",", ":")) + "\n"
                   for r in records).encode("utf-8")


def scoped_search(text, index, source, params=None):
    """The saved search ``text`` restricted to ``index`` / ``source``, with ``params`` given to the
    awssignin command, ready for ``search/jobs`` (which wants a leading ``search`` or ``|``).

    The data macro is kept: Splunk still expands the shipped definition, the test only ANDs its
    index and source in front of it.
    """
    call = "`%s`" % DATA_MACRO
    if call not in text:
        raise SplunkError("the saved search does not use the data macro %s: %s" % (call, text))
    if not _INDEX_NAME.match(index) or '"' in source or "\\" in source:
        raise SplunkError("cannot scope a search to index %r / source %r" % (index, source))
    scoped = text.replace(call, 'index="%s" source="%s" %s' % (index, source, call))
    if params:
        stages = list(_COMMAND_STAGE.finditer(scoped))
        if len(stages) != 1:
            raise SplunkError("the saved search must run `%s` exactly once to take test parameters, found %d: %s"
                              % (COMMAND, len(stages), text))
        unknown = sorted(set(params) - set(PARAMS))
        if unknown:
            raise SplunkError("parameter(s) %s are not options of `%s` (only %s)"
                              % (", ".join(unknown), COMMAND, ", ".join(PARAMS)))
        m = stages[0]
        args = _OPTION.sub("", m.group(1)).rstrip()
        for key in PARAMS:
            if key in params:
                args += " %s=%s" % (key, params[key])
        scoped = scoped[:m.start(1)] + args + " " + scoped[m.end(1):].lstrip()
        scoped = scoped.rstrip()
    stripped = scoped.lstrip()
    if not (stripped.startswith("|") or stripped.startswith("search ")):
        scoped = "search " + stripped
    return scoped


def job_errors(content):
    """ERROR / FATAL messages of a search job's ``content`` (JSON output: a list of {type, text}, or
    a dict of type -> texts depending on the endpoint)."""
    messages = content.get("messages") or []
    out = []
    if isinstance(messages, dict):
        for kind, texts in messages.items():
            if str(kind).upper() in ("ERROR", "FATAL"):
                out.extend(texts if isinstance(texts, list) else [texts])
    else:
        for m in messages:
            if isinstance(m, dict) and str(m.get("type", "")).upper() in ("ERROR", "FATAL"):
                out.append(m.get("text", ""))
    return [str(t) for t in out]


def unshift_alert(alert, delta):
    """The alert with first_seen / last_seen moved back by ``delta`` seconds (to fixture time)."""
    out = dict(alert)
    for key in ("first_seen", "last_seen"):
        if out.get(key):
            out[key] = format_time(parse_time(out[key]) - delta)
    return out


class SplunkClient(object):
    """REST (management port) and HEC for one splunkd. Credentials stay in the session; messages and
    exceptions never contain them."""

    def __init__(self, api_url, hec_url, password, hec_token, username="admin", app=APP, session=None,
                 timeout=120):
        self.api_url = api_url.rstrip("/")
        self.hec_url = hec_url.rstrip("/")
        self.app = app
        self.timeout = timeout
        self.hec_token = hec_token
        self.session = session or requests.Session()
        self.session.auth = (username, password)
        self.username = username

    # -- transport ---------------------------------------------------------------------------------
    def _request(self, method, path, ok=(200, 201), **kwargs):
        url = self.api_url + path
        kwargs.setdefault("timeout", self.timeout)
        params = kwargs.setdefault("params", {})
        params.setdefault("output_mode", "json")
        try:
            response = self.session.request(method, url, verify=tls_verify(url), **kwargs)
        except requests.RequestException as err:
            raise SplunkError("%s %s: %s" % (method, path, _short(err)))
        if response.status_code not in ok:
            raise SplunkError("%s %s: HTTP %d %s" % (method, path, response.status_code, _messages(response)))
        return response

    def _json(self, response, what):
        try:
            return response.json()
        except ValueError:
            raise SplunkError("%s: the answer is not JSON: %r" % (what, response.text[:200]))

    def _ns(self, path, owner="nobody"):
        return "/servicesNS/%s/%s/%s" % (quote(owner, safe=""), quote(self.app, safe=""), path.lstrip("/"))

    # -- readiness ---------------------------------------------------------------------------------
    def server_info(self):
        return self._json(self._request("GET", "/services/server/info", timeout=15), "server/info")

    def wait_ready(self, timeout=900, consecutive=3, pause=5.0, clock=time.monotonic, sleep=time.sleep):
        """Return once ``consecutive`` REST probes in a row succeed. splunkd restarts while the image
        provisions (and after an app install), so one answer does not mean it is ready."""
        deadline = clock() + timeout
        streak = 0
        last = "no answer yet"
        while True:
            try:
                self.server_info()
                streak += 1
                if streak >= consecutive:
                    return
            except SplunkError as err:
                streak = 0
                last = str(err)
            if clock() >= deadline:
                raise SplunkError("splunkd at %s was not ready within %ds (last: %s)" % (self.api_url, timeout, last))
            sleep(pause)

    # -- indexes and HEC ---------------------------------------------------------------------------
    def index_exists(self, name):
        response = self._request("GET", "/services/data/indexes/%s" % quote(name, safe=""), ok=(200, 404))
        return response.status_code == 200

    def create_index(self, name):
        if not _INDEX_NAME.match(name):
            raise SplunkError("%r is not a valid Splunk index name" % name)
        if not self.index_exists(name):
            self._request("POST", "/services/data/indexes", data={"name": name}, ok=(200, 201, 409))

    def delete_index(self, name):
        self._request("DELETE", "/services/data/indexes/%s" % quote(name, safe=""), ok=(200, 404))

    def allow_hec_index(self, index):
        """Let the HEC token write to ``index`` (the image creates the token for its default index)."""
        data = self._json(self._request("GET", "/services/data/inputs/http", params={"count": 0}),
                          "data/inputs/http")
        for entry in data.get("entry", []):
            content = entry.get("content", {})
            if content.get("token") != self.hec_token:
                continue
            allowed = content.get("indexes") or []
            if isinstance(allowed, str):
                allowed = [i for i in allowed.split(",") if i]
            if index in allowed:
                return
            edit = (entry.get("links") or {}).get("edit")
            if not edit:
                raise SplunkError("the HEC token's configuration has no edit link")
            self._request("POST", edit, data={"indexes": ",".join(list(allowed) + [index])})
            return
        raise SplunkError("no HEC input has the token from docker/.env (SPLUNK_HEC_TOKEN); was the "
                          "container created with another docker/.env? run `awssignin docker down` and `up`")

    def send_hec(self, records, index, source):
        """POST the records to ``/services/collector/event``; returns the number sent."""
        if not records:
            return 0
        url = self.hec_url + "/services/collector/event"
        headers = {"Authorization": "Splunk %s" % self.hec_token, "Content-Type": "application/json"}
        try:
            response = requests.post(url, data=hec_body(records, index, source), headers=headers,
                                     verify=tls_verify(url), timeout=self.timeout)
        except requests.RequestException as err:
            raise SplunkError("HEC %s: %s" % (url, _short(err)))
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or answer.get("code") != 0:
            raise SplunkError("HEC refused the events: HTTP %d %s" % (response.status_code, answer.get("text") or response.text[:200]))
        return len(records)

    # -- searching ---------------------------------------------------------------------------------
    def search(self, spl, earliest, latest):
        """Run ``spl`` in the app's context over [earliest, latest] (epoch seconds) and return its rows.
        A job that failed or reported an ERROR (a failing custom command does) raises SplunkError."""
        owner = self.username
        created = self._json(self._request(
            "POST", self._ns("search/v2/jobs", owner),
            data={"search": spl, "earliest_time": "%.3f" % earliest, "latest_time": "%.3f" % latest,
                  "exec_mode": "blocking", "adhoc_search_level": "smart"}), "search/v2/jobs")
        sid = created.get("sid")
        if not sid:
            raise SplunkError("search/v2/jobs returned no sid: %r" % created)
        job = self._job(owner, sid)
        errors = job_errors(job)
        if job.get("isFailed") or errors:
            raise SplunkError("the search failed: %s\n  search: %s" % ("; ".join(errors) or "isFailed", spl))
        rows = []
        offset = 0
        while True:
            page = self._json(self._request(
                "GET", self._ns("search/v2/jobs/%s/results" % quote(sid, safe=""), owner),
                params={"count": 10000, "offset": offset}), "results")
            batch = page.get("results", [])
            rows.extend(batch)
            if len(batch) < 10000:
                break
            offset += len(batch)
        return rows

    def _job(self, owner, sid, timeout=300, sleep=time.sleep):
        deadline = time.monotonic() + timeout
        while True:
            data = self._json(self._request("GET", self._ns("search/v2/jobs/%s" % quote(sid, safe=""), owner)), "job")
            entries = data.get("entry") or [{}]
            content = entries[0].get("content", {})
            if content.get("isDone") or content.get("isFailed") or content.get("dispatchState") in ("DONE", "FAILED"):
                return content
            if time.monotonic() > deadline:
                raise SplunkError("search job %s did not finish within %ds" % (sid, timeout))
            sleep(0.5)

    def count_events(self, index, source, earliest, latest):
        rows = self.search('search index="%s" source="%s" | stats count' % (index, source), earliest, latest)
        return int(rows[0]["count"]) if rows else 0

    def wait_searchable(self, index, source, expected, earliest, latest, timeout=120, pause=2.0,
                        clock=time.monotonic, sleep=time.sleep):
        """Poll until ``expected`` events of ``source`` are searchable (HEC indexes asynchronously)."""
        deadline = clock() + timeout
        while True:
            found = self.count_events(index, source, earliest, latest)
            if found >= expected:
                return found
            if clock() >= deadline:
                raise SplunkError("only %d of %d events sent to index %s became searchable within %ds"
                                  % (found, expected, index, timeout))
            sleep(pause)

    # -- the app -----------------------------------------------------------------------------------
    def saved_search(self, stanza):
        """The ``search`` of a saved search of the app, as installed."""
        response = self._request("GET", self._ns("saved/searches/%s" % quote(stanza, safe="")), ok=(200, 404))
        if response.status_code == 404:
            raise SplunkError("the installed app has no saved search [%s]: is the app installed and current? "
                              "(`awssignin docker up` rebuilds and reinstalls it)" % stanza)
        data = self._json(response, "saved/searches")
        return data["entry"][0]["content"]["search"]

    def app_version(self):
        response = self._request("GET", "/services/apps/local/%s" % quote(self.app, safe=""), ok=(200, 404))
        if response.status_code == 404:
            return None
        return self._json(response, "apps/local")["entry"][0]["content"].get("version")

    def install_app(self, container_path):
        """Install or update the app from a package path inside the container (Splunk's installer)."""
        self._request("POST", "/services/apps/local",
                      data={"name": container_path, "filename": "true", "update": "true"}, timeout=300)

    def restart(self):
        self._request("POST", "/services/server/control/restart", ok=(200, 201, 202))


class SplunkDockerRunner(object):
    """Runs detection tests on the live splunkd: ``run(detection, records, params) -> alerts``, the
    interface of the local runners (harness/testing.py)."""

    platform = "splunk"

    def __init__(self, client, index=None, minutes_ago=2, now=time.time, keep_data=False):
        self.client = client
        self.index = index or "awssignin_test_%s" % uuid.uuid4().hex[:8]
        self.minutes_ago = minutes_ago
        self.now = now
        self.keep_data = keep_data
        self.ready = False
        self.runs = 0

    def setup(self, app_package=None, detections=()):
        """Wait for splunkd; when ``app_package`` (the package's path inside the container) is given,
        reinstall the app from it so that a rebuilt dist/ is what runs, and restart splunkd once if
        the saved searches of ``detections`` are still not the built ones (conf changes may need it);
        then create the session's index and let the HEC token write to it."""
        self.client.wait_ready()
        if app_package:
            self.client.install_app(app_package)
            self.client.wait_ready(consecutive=2)
            if detections and self.stale(detections):
                self.client.restart()
                time.sleep(5)  # let splunkd go down before probing it
                self.client.wait_ready()
        self.client.create_index(self.index)
        self.client.allow_hec_index(self.index)
        self.ready = True

    def stale(self, detections):
        """Detections whose installed saved search differs from the build (or is missing)."""
        out = []
        for det in detections:
            try:
                self.search_text(det)
            except SplunkError:
                out.append(det.id)
        return out

    def search_text(self, detection):
        from ..splunk.appbuild import saved_search_text, stanza_name

        installed = self.client.saved_search(stanza_name(detection))
        expected = saved_search_text(detection)
        if _normal(installed) != _normal(expected):
            raise SplunkError("%s: the saved search installed in Splunk differs from the build; run "
                              "`awssignin docker up` to rebuild and reinstall the app\n  installed: %s\n  built:     %s"
                              % (detection.id, installed, expected))
        return installed

    def run(self, detection, records, params=None):
        if not self.ready:
            self.setup()
        self.runs += 1
        text = self.search_text(detection)
        shifted, delta = timeshift.shift_records(records, self.now(), self.minutes_ago)
        oldest, newest = timeshift.time_range(shifted)
        earliest, latest = oldest - 1, newest + 1
        source = "awssignin-test:%s:%d:%s" % (detection.id, self.runs, uuid.uuid4().hex[:8])
        self.client.send_hec(shifted, self.index, source)
        self.client.wait_searchable(self.index, source, len(shifted), earliest, latest)
        spl = scoped_search(text, self.index, source, params)
        rows = self.client.search(spl, earliest, latest)
        from ..splunk.runner import RunnerError, row_to_alert
        try:
            alerts = [row_to_alert(r, detection.id) for r in rows]
        except RunnerError as err:
            raise SplunkError(str(err))
        return [unshift_alert(a, delta) for a in alerts]

    def close(self):
        if self.ready and not self.keep_data:
            self.client.delete_index(self.index)
        self.ready = False


def _normal(text):
    return " ".join(text.split())


def _short(err):
    text = str(err)
    return text if len(text) < 300 else text[:297] + "..."


def _messages(response):
    """Splunk's error text from a JSON or XML answer, shortened."""
    try:
        data = response.json()
        texts = [m.get("text", "") for m in data.get("messages", []) if isinstance(m, dict)]
        if texts:
            return "; ".join(texts)[:300]
    except ValueError:
        pass
    return response.text[:300]
