"""The Splunk side of the Docker tier: a real splunkd (docker/compose.yml) driven over REST and HEC.

For each detection test the runner

1. moves the fixture records to the present (``timeshift``) and sends them through the HTTP Event
   Collector (``/services/collector/event``) with an explicit ``time`` (the shifted eventTime), the
   sourcetype ``aws:cloudtrail``, a test index created for the session and a ``source`` unique to
   the test, so tests never see each other's events;
2. polls a search until every event is searchable;
3. finds the detection's saved search by the stanza the packaged ``addon/default/savedsearches.conf``
   gives it (the stanza whose search runs ``awssignin detection=<id>``), checks that the installed
   search equals what ``awssignin build`` generates, and points the app's data macro at the test's
   index and source (``index=... source=... (<shipped definition>)``: the local/macros.conf edit the
   README asks admins to make); a test's ``threshold=`` / ``window=`` are written into the saved
   search (as an admin tunes it) and the shipped text is put back afterwards;
4. dispatches the installed saved search (``saved/searches/<name>/dispatch``) with ``dispatch.now``
   and the event-time bounds of the shifted records (and index-time bounds when the saved search has
   them) and ``trigger_actions=1``, so its own macros, filter macro, alert condition, suppression and
   tracking run as Splunk's scheduler would run them;
5. waits for the job, reads every result row as splunklib's ``Job.results`` does (``output_mode=json``,
   ``segmentation=none``, ``count``/``offset`` paging; POST on search API v2, GET on v1), reads the
   saved search's fired alerts (``alerts/fired_alerts/<name>``) and checks that an alert fired exactly
   when the saved search's condition and suppression say it must;
6. turns the rows into the alert schema with the local runner's ``row_to_alert``; first_seen /
   last_seen are moved back to the fixture's time line so that live and local output read alike.

At the end (``close``) the data macro and the HEC token's index list are put back as they were and
the session's index is deleted.

REST references: Splunk REST API Reference, Search endpoints (``saved/searches/{name}/dispatch``:
``dispatch.*``, ``dispatch.now``, ``trigger_actions``, ``force_dispatch``; ``search/v2/jobs/{sid}``
and ``/results``; ``alerts/fired_alerts/{name}``), https://docs.splunk.com/Documentation/Splunk/9.4.0/RESTREF/RESTsearch;
splunk/splunk-sdk-python ``splunklib/client.py`` (``SavedSearch.dispatch``, ``Job.results``,
``Service.disable_v2_api``, ``SavedSearch.fired_alerts``; the vendored copy is addon/lib/splunklib).
Not checked against a running splunkd here (no Docker engine): see docker/README.md.

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
from awssignin.timeutil import format_time, parse_duration, parse_time

from ..splunk.appbuild import APP_ID as APP, COMMAND, DATA_MACRO
from . import timeshift

SOURCETYPE = "aws:cloudtrail"
HOST = "awssignin-harness"
LOOPBACK = ("127.0.0.1", "::1", "localhost")

_COMMAND_STAGE = re.compile(r"\|\s*%s\b([^|]*)" % COMMAND)
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


def apply_params(text, params):
    """The saved search ``text`` with ``params`` given to its awssignin command (replacing the same
    options if present), as an admin tuning the saved search would write it."""
    if not params:
        return text
    stages = list(_COMMAND_STAGE.finditer(text))
    if len(stages) != 1:
        raise SplunkError("the saved search must run `%s` exactly once to take test parameters, found %d: %s"
                          % (COMMAND, len(stages), text))
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise SplunkError("parameter(s) %s are not options of `%s` (only %s)"
                          % (", ".join(unknown), COMMAND, ", ".join(PARAMS)))
    m = stages[0]
    # only the options being set are replaced; the shipped ones the test does not touch stay
    replaced = re.compile(r"\s+(%s)=(\"[^\"]*\"|\S+)" % "|".join(re.escape(k) for k in sorted(params)))
    args = replaced.sub("", m.group(1)).rstrip()
    for key in PARAMS:
        if key in params:
            args += " %s=%s" % (key, params[key])
    return (text[:m.start(1)] + args + " " + text[m.end(1):].lstrip()).rstrip()


def scoped_macro(definition, index, source):
    """The data macro's definition restricted to one test's ``index`` and ``source``: the shipped
    definition still applies (in parentheses), the test only ANDs its index and source in front."""
    if not _INDEX_NAME.match(index) or '"' in source or "\\" in source:
        raise SplunkError("cannot scope a search to index %r / source %r" % (index, source))
    return 'index="%s" source="%s" (%s)' % (index, source, definition)


def uses_search_api_v2(version, instance_type=""):
    """True when splunkd has search API v2 (``search/v2/jobs``), by splunklib's rule
    (``Service.disable_v2_api``): Splunk Enterprise 9.0.2 and later, Splunk Cloud 9.0.2209 and later."""
    try:
        parts = tuple(int(p) for p in str(version).split(".")[:3])
    except ValueError:
        return True          # an unreadable version: current servers all have v2
    return parts >= ((9, 0, 2209) if str(instance_type).lower() == "cloud" else (9, 0, 2))


_RELATIONS = {"greater than": lambda n, q: n > q, "less than": lambda n, q: n < q,
              "equal to": lambda n, q: n == q, "not equal to": lambda n, q: n != q}


def alert_condition(content, result_count):
    """Whether a saved search's alert condition (savedsearches.conf ``counttype`` / ``relation`` /
    ``quantity``; ``alert_condition`` not supported) holds for ``result_count`` results: True, False,
    or None when the condition is one this model does not evaluate (then nothing is checked)."""
    counttype = str(content.get("counttype") or "").strip().lower()
    if counttype == "always":
        return True
    if counttype not in ("number of events", "number of results") or content.get("alert_condition"):
        return None
    relation = _RELATIONS.get(str(content.get("relation") or "").strip().lower())
    try:
        quantity = int(str(content.get("quantity")).strip())
    except ValueError:
        return None
    return None if relation is None else relation(result_count, quantity)


def _flag(value):
    return str(value).strip().lower() in ("1", "true", "t", "yes", "y")


class Suppression(object):
    """What ``alert.suppress`` / ``alert.suppress.fields`` / ``alert.suppress.period`` let fire, for
    the triggers of one session (savedsearches.conf.spec): with per-result alerting
    (``alert.digest_mode = 0``) a result whose suppress-field values fired within the period does not
    fire again; a digest alert, or one without fields, is suppressed whole for the period after it
    fired. Triggers before the session (a reused container) are unknown here."""

    def __init__(self, clock=time.time):
        self.clock = clock
        self.fired = {}                    # (stanza, key) -> time it fired

    def fresh_rows(self, stanza, content, rows):
        """The rows that may fire now; records them as fired."""
        if not _flag(content.get("alert.suppress", "0")):
            return list(rows)
        # the fields apply to per-result alerting; a digest alert is suppressed as a whole
        # (savedsearches.conf.spec, alert.suppress.fields)
        per_result = not _flag(content.get("alert.digest_mode", "1"))
        fields = [f.strip() for f in str(content.get("alert.suppress.fields") or "").split(",")
                  if f.strip()] if per_result else []
        text = str(content.get("alert.suppress.period") or "").strip()
        try:
            period = int(text) if text.isdigit() else parse_duration(text)   # a bare number is seconds
        except ValueError:
            raise SplunkError("[%s] alert.suppress.period %r is not a duration"
                              % (stanza, content.get("alert.suppress.period")))
        now = self.clock()
        keyed = [((stanza, tuple(json.dumps(row.get(f), sort_keys=True) for f in fields)), row) for row in rows]
        fresh = [(key, row) for key, row in keyed if not (key in self.fired and now - self.fired[key] < period)]
        for key, _ in fresh:
            self.fired[key] = now
        return [row for _, row in fresh]


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
        self.page_size = 10000
        self._version = None

    # -- transport ---------------------------------------------------------------------------------
    def _request(self, method, path, ok=(200, 201), **kwargs):
        url = self.api_url + path
        kwargs.setdefault("timeout", self.timeout)
        if kwargs.get("params", {}) is not None:    # params=None: every parameter is in the body
            kwargs.setdefault("params", {}).setdefault("output_mode", "json")
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

    def version(self):
        """(version, instance_type) of splunkd, read once (server/info)."""
        if self._version is None:
            entries = self.server_info().get("entry") or [{}]
            content = entries[0].get("content", {})
            self._version = (str(content.get("version", "")), str(content.get("instance_type", "")))
        return self._version

    def _jobs_path(self, sid=None, tail=""):
        v2 = uses_search_api_v2(*self.version())
        path = "/services/search/%sjobs" % ("v2/" if v2 else "")
        if sid is not None:
            path += "/" + quote(sid, safe="")
        return path + tail

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
        """Let the HEC token write to ``index``. A token with an empty index list may write to any
        index (inputs.conf.spec, ``[http://<name>] indexes``: "If you do not specify this value, the
        index list is empty, and any index can be used"), so it is left alone: listing only the test
        index would narrow it, and the index is deleted afterwards. Returns ``(edit link, original
        list)`` to give to ``restore_hec_indexes``, or None when nothing was changed."""
        data = self._json(self._request("GET", "/services/data/inputs/http", params={"count": 0}),
                          "data/inputs/http")
        for entry in data.get("entry", []):
            content = entry.get("content", {})
            if content.get("token") != self.hec_token:
                continue
            allowed = content.get("indexes") or []
            if isinstance(allowed, str):
                allowed = [i for i in allowed.split(",") if i]
            if not allowed or index in allowed:
                return None
            edit = (entry.get("links") or {}).get("edit")
            if not edit:
                raise SplunkError("the HEC token's configuration has no edit link")
            self._request("POST", edit, data={"indexes": ",".join(list(allowed) + [index])})
            return edit, list(allowed)
        raise SplunkError("no HEC input has the token from docker/.env (SPLUNK_HEC_TOKEN); was the "
                          "container created with another docker/.env? run `awssignin docker down` and `up`")

    def restore_hec_indexes(self, change):
        if change:
            edit, allowed = change
            self._request("POST", edit, data={"indexes": ",".join(allowed)})

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

    # -- jobs --------------------------------------------------------------------------------------
    def search(self, spl, earliest, latest):
        """Run ``spl`` ad hoc in the app's context over [earliest, latest] (epoch seconds) and return
        its rows (used to wait for indexing; detections run through ``dispatch``)."""
        created = self._json(self._request(
            "POST", self._ns("search/%sjobs" % ("v2/" if uses_search_api_v2(*self.version()) else ""),
                             self.username),
            data={"search": spl, "earliest_time": "%.3f" % earliest, "latest_time": "%.3f" % latest,
                  "exec_mode": "blocking", "adhoc_search_level": "smart"}), "search/jobs")
        sid = created.get("sid")
        if not sid:
            raise SplunkError("search/jobs returned no sid: %r" % created)
        return self.results(sid, self.finished_job(sid, spl))

    def finished_job(self, sid, what):
        """The job's content once it is done; SplunkError when it failed or reported an ERROR (a
        failing custom command does), naming ``what`` ran."""
        job = self._job(sid)
        errors = job_errors(job)
        if _flag(job.get("isFailed", False)) or job.get("dispatchState") == "FAILED" or errors:
            raise SplunkError("the search failed: %s\n  search: %s" % ("; ".join(errors) or "isFailed", what))
        return job

    def _job(self, sid, timeout=300, sleep=time.sleep, clock=time.monotonic):
        deadline = clock() + timeout
        while True:
            response = self._request("GET", self._jobs_path(sid), ok=(200, 204, 404))
            if response.status_code == 404:
                raise SplunkError("search job %s does not exist (expired or never created)" % sid)
            content = {}
            if response.status_code == 200:      # 204: not ready to be queried yet (splunklib Job.is_ready)
                entries = self._json(response, "search job").get("entry") or [{}]
                content = entries[0].get("content", {})
            if _flag(content.get("isDone", False)) or _flag(content.get("isFailed", False)) \
                    or content.get("dispatchState") in ("DONE", "FAILED"):
                return content
            if clock() > deadline:
                raise SplunkError("search job %s did not finish within %ds" % (sid, timeout))
            sleep(0.5)

    def results(self, sid, job=None):
        """Every result row of a finished job, page by page, as splunklib's ``Job.results`` asks for
        them: ``output_mode=json``, ``segmentation=none``, ``count``/``offset``; with search API v2 a
        POST whose parameters travel in the form body (a long post-process ``search`` fits there), a
        GET on v1 servers. Stops at the job's ``resultCount`` (or at a short page)."""
        v2 = uses_search_api_v2(*self.version())
        total = None
        if job is not None and str(job.get("resultCount", "")).strip().isdigit():
            total = int(job["resultCount"])
        rows = []
        while total is None or len(rows) < total:
            query = {"output_mode": "json", "segmentation": "none", "count": self.page_size, "offset": len(rows)}
            if v2:
                response = self._request("POST", self._jobs_path(sid, "/results"), data=query, params=None)
            else:
                response = self._request("GET", self._jobs_path(sid, "/results"), params=query)
            batch = self._json(response, "results").get("results", []) if response.content else []
            rows.extend(batch)
            if len(batch) < self.page_size:
                break
        if total is not None and len(rows) != total:
            raise SplunkError("job %s reported %d results but %d were read" % (sid, total, len(rows)))
        return rows

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

    # -- the app's saved searches and macros -------------------------------------------------------
    def saved_search_content(self, stanza):
        """The saved search's settings as installed (``search``, ``dispatch.*``, ``alert.*`` ...)."""
        response = self._request("GET", self._ns("saved/searches/%s" % quote(stanza, safe="")), ok=(200, 404))
        if response.status_code == 404:
            raise SplunkError("the installed app has no saved search [%s]: is the app installed and current? "
                              "(`awssignin docker up` rebuilds and reinstalls it)" % stanza)
        entries = self._json(response, "saved/searches").get("entry") or [{}]
        return entries[0].get("content", {})

    def saved_search(self, stanza):
        """The ``search`` of a saved search of the app, as installed."""
        return self.saved_search_content(stanza).get("search", "")

    def update_saved_search(self, stanza, **fields):
        self._request("POST", self._ns("saved/searches/%s" % quote(stanza, safe="")), data=fields)

    def macro_definition(self, name):
        response = self._request("GET", self._ns("configs/conf-macros/%s" % quote(name, safe="")), ok=(200, 404))
        if response.status_code == 404:
            raise SplunkError("the installed app has no macro `%s`" % name)
        entries = self._json(response, "configs/conf-macros").get("entry") or [{}]
        return entries[0].get("content", {}).get("definition", "")

    def set_macro(self, name, definition):
        """Write the macro's definition (what an admin's local/macros.conf holds)."""
        self._request("POST", self._ns("configs/conf-macros/%s" % quote(name, safe="")),
                      data={"definition": definition})

    def dispatch(self, stanza, now, earliest, latest, index_earliest=None, index_latest=None):
        """Run the installed saved search now, as the scheduler would at ``now``, over event times
        [earliest, latest) (and index times, when given), with its alert actions; returns the sid."""
        data = {"dispatch.now": "%.3f" % now, "dispatch.earliest_time": "%.3f" % earliest,
                "dispatch.latest_time": "%.3f" % latest, "trigger_actions": "1", "force_dispatch": "1"}
        if index_earliest is not None:
            data["dispatch.index_earliest"] = "%.3f" % index_earliest
            data["dispatch.index_latest"] = "%.3f" % index_latest
        response = self._request("POST", self._ns("saved/searches/%s/dispatch" % quote(stanza, safe="")),
                                 data=data, ok=(200, 201, 404))
        if response.status_code == 404:
            raise SplunkError("cannot dispatch [%s]: the installed app has no such saved search (%s)"
                              % (stanza, _messages(response)))
        sid = self._json(response, "dispatch").get("sid")
        if not sid:
            raise SplunkError("dispatching [%s] returned no sid" % stanza)
        return sid

    def fired_alerts(self, stanza):
        """The alerts the saved search has fired (Triggered Alerts; only for ``alert.track = 1``):
        the entries of ``alerts/fired_alerts/<name>`` in the app's namespace, their content."""
        response = self._request("GET", self._ns("alerts/fired_alerts/%s" % quote(stanza, safe="")),
                                 params={"count": 0}, ok=(200, 404))
        if response.status_code == 404:      # nothing fired yet
            return []
        return [e.get("content", {}) for e in self._json(response, "fired_alerts").get("entry", [])]

    def wait_fired(self, stanza, sid, timeout=30, pause=1.0, clock=time.monotonic, sleep=time.sleep):
        """The fired alerts of job ``sid`` (alert actions run after the job finishes, so poll)."""
        deadline = clock() + timeout
        while True:
            mine = [a for a in self.fired_alerts(stanza) if a.get("sid") == sid]
            if mine or clock() >= deadline:
                return mine
            sleep(pause)

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


def packaged_stanzas(layout):
    """{detection id: saved search stanza} from the packaged addon/default/savedsearches.conf (the
    stanza whose search runs ``awssignin detection=<id>``), read with the local runner's reader."""
    from ..splunk.runner import RunnerError, SplunkLocalRunner
    try:
        found = SplunkLocalRunner(layout).searches_in_conf()
    except RunnerError as err:
        raise SplunkError(str(err))
    out = {}
    for ident, entries in found.items():
        if len(entries) != 1:
            raise SplunkError("%s: %d saved searches run it in addon/default/savedsearches.conf (%s)"
                              % (ident, len(entries), ", ".join(stanza for stanza, _ in entries)))
        out[ident] = entries[0][0]
    return out


class SplunkDockerRunner(object):
    """Runs detection tests on the live splunkd: ``run(detection, records, params) -> alerts``, the
    interface of the local runners (harness/testing.py)."""

    platform = "splunk"

    def __init__(self, client, stanzas, index=None, minutes_ago=2, now=time.time, keep_data=False):
        self.client = client
        self.stanzas = stanzas
        self.index = index or "awssignin_test_%s" % uuid.uuid4().hex[:8]
        self.minutes_ago = minutes_ago
        self.now = now
        self.keep_data = keep_data
        self.ready = False
        self.runs = 0
        self.suppression = Suppression(now)
        self.fired = []                     # (detection id, sid, fired alert contents) per run
        self._macro = None                  # the data macro's definition before the session
        self._hec_change = None

    def setup(self, app_package=None, detections=()):
        """Wait for splunkd; when ``app_package`` (the package's path inside the container) is given,
        reinstall the app from it so that a rebuilt dist/ is what runs, and restart splunkd once if
        the saved searches of ``detections`` are still not the built ones (conf changes may need it);
        then create the session's index, let the HEC token write to it and remember the data macro."""
        self.client.wait_ready()
        if app_package:
            self.client.install_app(app_package)
            self.client.wait_ready(consecutive=2)
            if detections and self.stale(detections):
                self.client.restart()
                time.sleep(5)  # let splunkd go down before probing it
                self.client.wait_ready()
        self.client.create_index(self.index)
        self._hec_change = self.client.allow_hec_index(self.index)
        self._macro = self.client.macro_definition(DATA_MACRO)
        self.ready = True

    def stale(self, detections):
        """Detections whose installed saved search differs from the build (or is missing)."""
        out = []
        for det in detections:
            try:
                self.saved_search(det)
            except SplunkError:
                out.append(det.id)
        return out

    def stanza(self, detection):
        try:
            return self.stanzas[detection.id]
        except KeyError:
            raise SplunkError("%s: addon/default/savedsearches.conf has no saved search running it; "
                              "run `awssignin build`" % detection.id)

    def saved_search(self, detection):
        """(stanza, installed settings), checked against the build."""
        from ..splunk.appbuild import saved_search_text

        stanza = self.stanza(detection)
        content = self.client.saved_search_content(stanza)
        installed, expected = content.get("search", ""), saved_search_text(detection)
        if _normal(installed) != _normal(expected):
            raise SplunkError("%s: the saved search installed in Splunk differs from the build; run "
                              "`awssignin docker up` to rebuild and reinstall the app\n  installed: %s\n  built:     %s"
                              % (detection.id, installed, expected))
        return stanza, content

    def run(self, detection, records, params=None):
        if not self.ready:
            self.setup()
        self.runs += 1
        stanza, content = self.saved_search(detection)
        tuned = apply_params(content["search"], params)
        sent_at = self.now()
        shifted, delta = timeshift.shift_records(records, sent_at, self.minutes_ago)
        oldest, newest = timeshift.time_range(shifted)
        earliest, latest = oldest - 1, newest + 1
        source = "awssignin-test:%s:%d:%s" % (detection.id, self.runs, uuid.uuid4().hex[:8])
        self.client.send_hec(shifted, self.index, source)
        self.client.wait_searchable(self.index, source, len(shifted), earliest, latest)
        self.client.set_macro(DATA_MACRO, scoped_macro(self._macro, self.index, source))
        if tuned != content["search"]:
            self.client.update_saved_search(stanza, search=tuned)
        try:
            by_index_time = bool(content.get("dispatch.index_earliest") or content.get("dispatch.index_latest"))
            sid = self.client.dispatch(stanza, now=latest, earliest=earliest, latest=latest,
                                       index_earliest=sent_at - 60 if by_index_time else None,
                                       index_latest=self.now() + 60 if by_index_time else None)
            job = self.client.finished_job(sid, "saved search [%s]" % stanza)
            rows = self.client.results(sid, job)
        finally:
            if tuned != content["search"]:
                self.client.update_saved_search(stanza, search=content["search"])
        self._check_fired(detection, stanza, content, sid, rows)
        from ..splunk.runner import RunnerError, row_to_alert
        try:
            alerts = [row_to_alert(r, detection.id) for r in rows]
        except RunnerError as err:
            raise SplunkError(str(err))
        return [unshift_alert(a, delta) for a in alerts]

    def _check_fired(self, detection, stanza, content, sid, rows):
        """An alert fired for the job exactly when the saved search's condition held for results that
        suppression lets through. Only tracked alerts (``alert.track = 1``) are listed by Splunk."""
        condition = alert_condition(content, len(rows))
        fresh = self.suppression.fresh_rows(stanza, content, rows) if condition else []
        if not _flag(content.get("alert.track", "0")) or condition is None:
            self.fired.append((detection.id, sid, None))
            return
        expect = bool(fresh)
        fired = self.client.wait_fired(stanza, sid, timeout=30 if expect else 3)
        self.fired.append((detection.id, sid, fired))
        if expect and not fired:
            raise SplunkError("%s: [%s] found %d result(s), its alert condition holds and suppression lets "
                              "%d through, but Splunk fired no alert for job %s (a container reused from an "
                              "earlier session may still suppress them: `awssignin docker down`)"
                              % (detection.id, stanza, len(rows), len(fresh), sid))
        if not expect and fired:
            raise SplunkError("%s: [%s] fired an alert for job %s although %s"
                              % (detection.id, stanza, sid, "its condition does not hold" if not condition
                                 else "every result is suppressed"))

    def close(self):
        if self.ready:
            try:
                if self._macro is not None:
                    self.client.set_macro(DATA_MACRO, self._macro)
                self.client.restore_hec_indexes(self._hec_change)
            finally:
                if not self.keep_data:
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
