"""The live Splunk runner (harness/containers/splunk.py) against a stand-in splunkd on 127.0.0.1.

The stand-in answers as Splunk's REST API reference describes the endpoints the runner uses (Search
endpoints: ``saved/searches/{name}``, ``saved/searches/{name}/dispatch`` returning a ``sid``,
``search/v2/jobs/{sid}`` whose content carries ``dispatchState`` / ``isDone`` / ``isFailed`` /
``messages`` / ``resultCount``, ``search/v2/jobs/{sid}/results`` paged by ``count`` / ``offset``,
``alerts/fired_alerts/{name}``; Configuration endpoints: ``configs/conf-macros/{stanza}``; HEC:
``/services/collector/event`` refusing an index the token may not write to, code 7 "Incorrect
index"; inputs.conf.spec: a token with an empty ``indexes`` list may write to any index). It models
Splunk's alerting on its own (condition, tracking, per-result suppression) so that a runner that
mis-reads fired alerts fails here. Nothing here reached a real splunkd: see docker/README.md.
"""

import json
import re

import pytest

from harness.containers import splunk as live
from harness.containers import timeshift
from harness.detections import load_all
from harness.project import Layout
from harness.splunk.appbuild import saved_search_text, stanza_name
from httpstandin import FakeServer

from fixturedata import ROOT

PASSWORD = "Adminpass123Adminpass"
TOKEN = "11111111-2222-4333-8444-555555555555"
APP = "/servicesNS/nobody/awssignin"


@pytest.fixture(scope="module")
def detections():
    return dict((d.id, d) for d in load_all(Layout(ROOT).detections))


@pytest.fixture(scope="module")
def stanzas():
    return live.packaged_stanzas(Layout(ROOT))


def _records(path):
    with open(str(ROOT / "detections" / "fixtures" / path), "r", encoding="utf-8") as handle:
        return json.load(handle)["Records"]


def _error(status, text):
    return status, {"messages": [{"type": "ERROR", "text": text}]}


def _seconds(period):
    m = re.match(r"^(\d+)([smhd])$", period)
    return int(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


class StandInSplunkd(object):
    """splunkd's REST + HEC for the live runner. ``evaluate(search, events, form) -> rows`` plays the
    search itself: ``events`` are the HEC events the data macro's index/source and the dispatch time
    range select."""

    def __init__(self, saved, evaluate=None, version="9.4.10", hec_indexes=(), fail_with=None,
                 alerting=True, not_ready_first=False):
        self.saved = dict((name, dict(content)) for name, content in saved.items())
        self.macros = {"aws_signin_cloudtrail": "sourcetype=aws:cloudtrail"}
        self.evaluate = evaluate or (lambda search, events, form: [])
        self.version = version
        self.hec_indexes = list(hec_indexes)
        self.fail_with = fail_with
        self.alerting = alerting
        self.not_ready_first = not_ready_first
        self.indexes = {"main"}
        self.events = []
        self.jobs = {}
        self.fired = {}
        self.suppressed_until = {}
        self.clock = 1_900_000_000.0

    # -- helpers --------------------------------------------------------------------------------
    def _in_scope(self, index, source, earliest, latest):
        return [e for e in self.events if e["index"] == index and e["source"] == source
                and earliest <= e["time"] < latest]

    def _new_job(self, rows, form, stanza=None):
        sid = "%s%d" % ("scheduler__admin__awssignin__RMD5" if stanza else "adhoc", len(self.jobs) + 1)
        failed = self.fail_with if stanza else None
        self.jobs[sid] = {"rows": [] if failed else rows, "form": form, "stanza": stanza, "polled": 0,
                          "failed": failed}
        return sid

    def _alert(self, stanza, sid, rows):
        """Splunk's alerting for a dispatch with trigger_actions=1, per-result (digest_mode 0)."""
        content = self.saved[stanza]
        if not self.alerting or content.get("alert.track") != "1":
            return
        if content.get("counttype") != "number of events" or content.get("relation") != "greater than":
            return
        if not len(rows) > int(content["quantity"]):
            return
        fields = [f for f in content.get("alert.suppress.fields", "").split(",") if f]
        firing = []
        for row in rows:
            key = (stanza, tuple(str(row.get(f)) for f in fields))
            if content.get("alert.suppress") == "1" and self.suppressed_until.get(key, 0) > self.clock:
                continue
            if content.get("alert.suppress") == "1":
                self.suppressed_until[key] = self.clock + _seconds(content["alert.suppress.period"])
            firing.append(row)
        for _ in firing:
            self.fired.setdefault(stanza, []).append(
                {"sid": sid, "savedsearch_name": stanza, "trigger_time": int(self.clock), "severity": 3,
                 "digest_mode": 0, "triggered_alerts": 1})

    # -- routes ---------------------------------------------------------------------------------
    def route(self, req):
        path = req.path
        if path == "/services/collector/event":
            assert req.headers["Authorization"] == "Splunk " + TOKEN
            for line in req.body.decode().splitlines():
                event = json.loads(line)
                if self.hec_indexes and event["index"] not in self.hec_indexes:
                    return 400, {"text": "Incorrect index", "code": 7, "invalid-event-number": 0}
                self.events.append(event)
            return 200, {"text": "Success", "code": 0}
        assert req.basic_auth() == "admin:" + PASSWORD, "every REST call authenticates as admin"
        if path == "/services/server/info":
            return 200, {"entry": [{"content": {"version": self.version, "instance_type": "download"}}]}
        m = re.match(r"^/services/data/indexes/([^/]+)$", path)
        if m:
            if req.method == "DELETE":
                self.indexes.discard(m.group(1))
                return 200, {}
            return (200, {"entry": [{"name": m.group(1)}]}) if m.group(1) in self.indexes else _error(404, "not found")
        if path == "/services/data/indexes" and req.method == "POST":
            self.indexes.add(req.form()["name"])
            return 201, {}
        if path == "/services/data/inputs/http" and req.method == "GET":
            return 200, {"entry": [
                {"content": {"token": "another"}, "links": {"edit": "/servicesNS/nobody/x/data/inputs/http/other"}},
                {"content": {"token": TOKEN, "indexes": list(self.hec_indexes)},
                 "links": {"edit": "/servicesNS/nobody/splunk_httpinput/data/inputs/http/splunk_hec_token"}}]}
        if path == "/servicesNS/nobody/splunk_httpinput/data/inputs/http/splunk_hec_token":
            self.hec_indexes = [i for i in req.form()["indexes"].split(",") if i]
            return 200, {}
        m = re.match(r"^%s/configs/conf-macros/([^/]+)$" % APP, path)
        if m:
            if req.method == "POST":
                self.macros[m.group(1)] = req.form()["definition"]
            return 200, {"entry": [{"name": m.group(1), "content": {"definition": self.macros[m.group(1)]}}]}
        m = re.match(r"^%s/saved/searches/([^/]+)(/dispatch)?$" % APP, path)
        if m:
            stanza = m.group(1)
            if stanza not in self.saved:
                return _error(404, "Could not find object id=%s" % stanza)
            if m.group(2):
                return self._dispatch(stanza, req.form())
            if req.method == "POST":
                self.saved[stanza].update(req.form())
            return 200, {"entry": [{"name": stanza, "content": self.saved[stanza]}]}
        if path == "/servicesNS/admin/awssignin/search/v2/jobs" and req.method == "POST":
            form = req.form()
            scope = re.search(r'index="([^"]+)" source="([^"]+)"', form["search"])
            events = self._in_scope(scope.group(1), scope.group(2), float(form["earliest_time"]),
                                    float(form["latest_time"]))
            return 201, {"sid": self._new_job([{"count": str(len(events))}], form)}
        m = re.match(r"^/services/search/(v2/)?jobs/([^/]+)(/results)?$", path)
        if m:
            return self._job(m.group(2), bool(m.group(1)), bool(m.group(3)), req)
        m = re.match(r"^%s/alerts/fired_alerts/([^/]+)$" % APP, path)
        if m:
            fired = self.fired.get(m.group(1))
            if not fired:
                return _error(404, "Could not find object id=%s" % m.group(1))
            return 200, {"entry": [{"name": "%s" % a["sid"], "content": a} for a in fired]}
        return _error(404, "no route for %s %s" % (req.method, path))

    def _dispatch(self, stanza, form):
        content = self.saved[stanza]
        scope = re.match(r'^index="([^"]+)" source="([^"]+)" \(', self.macros["aws_signin_cloudtrail"])
        events = (self._in_scope(scope.group(1), scope.group(2), float(form["dispatch.earliest_time"]),
                                 float(form["dispatch.latest_time"])) if scope else [])
        rows = self.evaluate(content["search"], events, form)
        sid = self._new_job(rows, form, stanza)
        if form.get("trigger_actions") == "1" and not self.fail_with:
            self._alert(stanza, sid, rows)
        return 201, {"sid": sid}

    def _job(self, sid, v2, results, req):
        job = self.jobs.get(sid)
        if job is None:
            return _error(404, "Unknown sid.")
        if v2 != self.v2:
            return _error(404, "search API %s is not on this server" % ("v2" if v2 else "v1"))
        if not results:
            job["polled"] += 1
            if job["polled"] == 1 and self.not_ready_first:
                return 204, b""                           # not ready to be queried yet
            failed = job["failed"]
            return 200, {"entry": [{"name": sid, "content": {
                "sid": sid, "dispatchState": "FAILED" if failed else "DONE", "isDone": True,
                "isFailed": bool(failed), "resultCount": len(job["rows"]),
                "messages": [{"type": "FATAL", "text": failed}] if failed else []}}]}
        params = req.form() if req.method == "POST" else req.query
        assert (req.method == "POST") == v2, "v2 results are POSTed (splunklib Job.results), v1 read with GET"
        if params.get("output_mode") != "json":
            return 200, b"<?xml version='1.0'?><results/>", {"Content-Type": "text/xml"}
        count, offset = int(params.get("count", 100)), int(params.get("offset", 0))
        rows = job["rows"][offset:] if count == 0 else job["rows"][offset:offset + count]
        return 200, {"preview": False, "init_offset": offset, "messages": [], "results": rows}

    @property
    def v2(self):
        return live.uses_search_api_v2(self.version)


def _saved(detections, **overrides):
    """Each detection's saved search as the packaged conf holds it (the settings the runner reads)."""
    from ksconf.conf.parser import PARSECONF_MID_NC, parse_conf
    conf = parse_conf(str(ROOT / "addon" / "default" / "savedsearches.conf"), profile=PARSECONF_MID_NC)
    out = {}
    for name, keys in conf.items():
        if isinstance(name, str) and "search" in keys:
            content = dict(keys)
            content.update(overrides)
            out[name] = content
    return out


def _as_splunk_row(alert):
    """An alert as splunkd's JSON results carry the command's row: strings, lists only for 2+ values."""
    row = {}
    for key, value in alert.items():
        if key == "group":
            row[key] = json.dumps(value, separators=(",", ":"))
            for k, v in value.items():
                row["group_" + k] = v
        elif isinstance(value, list):
            value = [str(v) for v in value]
            row[key] = value if len(value) > 1 else value[0]
        else:
            row[key] = str(value)
    return row


def _runner(server, stanzas, now=1_800_000_000.0, **kw):
    client = live.SplunkClient(server.url, server.url, PASSWORD, TOKEN)
    runner = live.SplunkDockerRunner(client, stanzas, index="awssignin_test_unit", now=lambda: now, **kw)
    client.wait_ready = lambda **k: None
    return client, runner


def _brute_force_rows(shifted, detection_id="root_console_brute_force"):
    failures = sorted((r for r in shifted if r["responseElements"]["ConsoleLogin"] == "Failure"),
                      key=lambda r: r["eventTime"])
    return [_as_splunk_row({"detection": detection_id, "title": "t", "severity": "high", "risk_score": 73,
                            "mitre": ["T1110.001"], "platform": "splunk",
                            "first_seen": failures[0]["eventTime"], "last_seen": failures[-1]["eventTime"],
                            "group": {"account_id": "111122223333"}, "count": len(failures),
                            "event_ids": [r["eventID"] for r in failures]})]


# ------------------------------------------------------------------------------------------------

def test_stanza_names_come_from_the_packaged_conf_not_from_titles(tmp_path, detections):
    found = live.packaged_stanzas(Layout(ROOT))
    assert set(found) == set(detections)
    text = (ROOT / "addon" / "default" / "savedsearches.conf").read_text(encoding="utf-8")
    for ident, stanza in found.items():
        assert "[%s]" % stanza in text
    # a checkout whose stanza is named by the detection id (not its title): the runner follows the conf
    (tmp_path / "detections").mkdir()
    (tmp_path / "addon" / "default").mkdir(parents=True)
    det = detections["root_console_login"]
    renamed = text.replace("[%s]" % stanza_name(det), "[root_console_login]")
    (tmp_path / "addon" / "default" / "savedsearches.conf").write_text(renamed, encoding="utf-8")
    assert live.packaged_stanzas(Layout(tmp_path))["root_console_login"] == "root_console_login"
    # two stanzas running one detection cannot be told apart
    twice = renamed + "\n[copy]\nsearch = %s\n" % saved_search_text(det)
    (tmp_path / "addon" / "default" / "savedsearches.conf").write_text(twice, encoding="utf-8")
    with pytest.raises(live.SplunkError, match="root_console_login: 2 saved searches run it"):
        live.packaged_stanzas(Layout(tmp_path))


def test_runner_dispatches_the_installed_saved_search_as_documented(detections, stanzas):
    det = detections["root_console_brute_force"]
    stanza = stanzas[det.id]
    records = _records("root_console_brute_force/four_failures.json")
    now = 1_800_000_000.0
    shifted, delta = timeshift.shift_records(records, now, 2)
    seen = {}

    def evaluate(search, events, form):
        seen["search"], seen["events"] = search, events
        return _brute_force_rows(shifted)

    splunkd = StandInSplunkd(_saved(detections), evaluate, not_ready_first=True)
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas, now)
        runner.setup()
        [alert] = runner.run(det, records, {"threshold": 4})
        runner.close()
    # the test's parameter reached the command through the saved search, which is restored afterwards
    stage = re.search(r"\| awssignin ([^|]*)", seen["search"]).group(1).split()
    assert stage.count("threshold=4") == 1 and not any(a.startswith("threshold=") and a != "threshold=4" for a in stage)
    assert seen["search"].replace(" threshold=4", "", 1) == saved_search_text(det)
    assert splunkd.saved[stanza]["search"] == saved_search_text(det)
    # the data macro selected exactly the test's events, and is back to the shipped definition
    assert len(seen["events"]) == len(records)
    assert splunkd.macros["aws_signin_cloudtrail"] == "sourcetype=aws:cloudtrail"
    [macro_edit] = [r for r in server.find("POST", APP + "/configs/conf-macros/aws_signin_cloudtrail")][:1]
    source = splunkd.events[0]["source"]
    assert macro_edit.form() == {"definition": 'index="awssignin_test_unit" source="%s" (sourcetype=aws:cloudtrail)'
                                 % source}
    # the dispatch request: the documented parameters, nothing else
    [dispatch] = server.find("POST", "%s/saved/searches/%s/dispatch" % (APP, stanza))
    oldest, newest = timeshift.time_range(shifted)
    expected = {"dispatch.now": "%.3f" % (newest + 1), "dispatch.earliest_time": "%.3f" % (oldest - 1),
                "dispatch.latest_time": "%.3f" % (newest + 1), "trigger_actions": "1", "force_dispatch": "1"}
    content = splunkd.saved[stanza]
    if content.get("dispatch.index_earliest") or content.get("dispatch.index_latest"):
        expected.update({"dispatch.index_earliest": "%.3f" % (now - 60), "dispatch.index_latest": "%.3f" % (now + 60)})
    assert dispatch.form() == expected
    assert dispatch.query == {"output_mode": "json"}
    # results read as splunklib's Job.results reads them on search API v2: POST, every parameter in the body
    [sid] = [s for s, j in splunkd.jobs.items() if j["stanza"] == stanza]
    [results] = server.find("POST", "/services/search/v2/jobs/%s/results" % sid)
    assert results.query == {}
    assert results.form() == {"output_mode": "json", "segmentation": "none", "count": "10000", "offset": "0"}
    # the job was polled until it could be read (204 first), then the fired alerts of the saved search
    assert len(server.find("GET", "/services/search/v2/jobs/%s" % sid)) == 2
    assert server.find("GET", "%s/alerts/fired_alerts/%s" % (APP, stanza))
    assert runner.fired[-1][1] == sid and len(runner.fired[-1][2]) == 1
    ids = _brute_force_rows(shifted)[0]["event_ids"]
    assert alert["group"] == {"account_id": "111122223333"} and alert["event_ids"] == ids and alert["count"] == 4
    original = sorted(r["eventTime"] for r in records if r["responseElements"]["ConsoleLogin"] == "Failure")
    assert (alert["first_seen"], alert["last_seen"]) == (original[0], original[-1])


def test_index_time_bounds_are_sent_when_the_saved_search_windows_by_index_time(detections, stanzas):
    det = detections["root_console_login"]
    saved = _saved(detections, **{"dispatch.index_earliest": "-70m@m", "dispatch.index_latest": "-10m@m"})
    splunkd = StandInSplunkd(saved)
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas)
        client.wait_fired = _no_wait(client.wait_fired)
        runner.setup()
        assert runner.run(det, _records("root_console_login/root_success.json")) == []
    [dispatch] = server.find("POST", "%s/saved/searches/%s/dispatch" % (APP, stanzas[det.id]))
    form = dispatch.form()
    # the events were indexed during the test: the bounds cover that, around the runner's clock
    assert float(form["dispatch.index_earliest"]) == 1_800_000_000.0 - 60
    assert float(form["dispatch.index_latest"]) == 1_800_000_000.0 + 60


def test_results_are_read_page_by_page_with_count_and_offset(detections, stanzas):
    rows = [{"n": str(i)} for i in range(5)]
    splunkd = StandInSplunkd(_saved(detections), lambda search, events, form: rows)
    with FakeServer(splunkd.route) as server:
        client = live.SplunkClient(server.url, server.url, PASSWORD, TOKEN)
        client.page_size = 2
        stanza = stanzas["root_console_login"]
        sid = client.dispatch(stanza, now=10, earliest=1, latest=10)
        got = client.results(sid, client.finished_job(sid, stanza))
    assert got == rows
    pages = server.find("POST", "/services/search/v2/jobs/%s/results" % sid)
    assert [(p.form()["count"], p.form()["offset"]) for p in pages] == [("2", "0"), ("2", "2"), ("2", "4")]


def test_a_server_without_search_api_v2_is_read_with_get_as_splunklib_does(detections, stanzas):
    splunkd = StandInSplunkd(_saved(detections), lambda search, events, form: [{"a": "1"}], version="9.0.1")
    with FakeServer(splunkd.route) as server:
        client = live.SplunkClient(server.url, server.url, PASSWORD, TOKEN)
        stanza = stanzas["root_console_login"]
        sid = client.dispatch(stanza, now=10, earliest=1, latest=10)
        assert client.results(sid, client.finished_job(sid, stanza)) == [{"a": "1"}]
    [get] = server.find("GET", "/services/search/jobs/%s/results" % sid)
    assert get.query == {"output_mode": "json", "segmentation": "none", "count": "10000", "offset": "0"}
    assert live.uses_search_api_v2("9.0.2") and not live.uses_search_api_v2("9.0.1")
    assert live.uses_search_api_v2("9.0.2209", "cloud") and not live.uses_search_api_v2("9.0.2208", "cloud")


def test_an_unknown_saved_search_is_a_clear_error_and_sends_nothing(detections, stanzas):
    det = detections["root_console_login"]
    saved = _saved(detections)
    del saved[stanzas[det.id]]
    splunkd = StandInSplunkd(saved)
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas)
        runner.setup()
        with pytest.raises(live.SplunkError, match=r"has no saved search \[%s\]" % re.escape(stanzas[det.id])):
            runner.run(det, _records("root_console_login/root_success.json"))
        with pytest.raises(live.SplunkError, match="cannot dispatch .*no such saved search.*Could not find object"):
            client.dispatch(stanzas[det.id], now=10, earliest=1, latest=10)
    assert splunkd.events == []


def test_a_failed_job_reports_its_messages_and_the_tuned_search_is_put_back(detections, stanzas):
    det = detections["root_console_brute_force"]
    splunkd = StandInSplunkd(_saved(detections), fail_with="Error in 'awssignin' command: cannot import splunklib")
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas)
        runner.setup()
        with pytest.raises(live.SplunkError, match="cannot import splunklib"):
            runner.run(det, _records("root_console_brute_force/four_failures.json"), {"threshold": 4})
    assert splunkd.saved[stanzas[det.id]]["search"] == saved_search_text(det)


def test_a_stale_installed_app_is_refused_before_any_event_is_sent(detections, stanzas):
    det = detections["root_console_login"]
    saved = _saved(detections)
    saved[stanzas[det.id]]["search"] = "`aws_signin_cloudtrail` eventName=ConsoleLogin | awssignin detection=root_console_login"
    splunkd = StandInSplunkd(saved)
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas)
        runner.setup()
        with pytest.raises(live.SplunkError, match="differs from the build"):
            runner.run(det, _records("root_console_login/root_success.json"))
    assert splunkd.events == []


def test_fired_alerts_must_match_the_condition_and_suppression(detections, stanzas):
    det = detections["root_console_brute_force"]
    records = _records("root_console_brute_force/four_failures.json")
    shifted, _ = timeshift.shift_records(records, 1_800_000_000.0, 2)
    rows = _brute_force_rows(shifted)
    saved = _saved(detections, **{"alert.track": "1", "alert.digest_mode": "0", "alert.suppress": "1",
                                  "alert.suppress.fields": "group_account_id", "alert.suppress.period": "30m"})
    splunkd = StandInSplunkd(saved, lambda search, events, form: rows)
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas)
        client.wait_fired = _no_wait(client.wait_fired)
        runner.setup()
        runner.run(det, records)
        # the same group again within alert.suppress.period: Splunk suppresses it, and so must the check
        runner.run(det, records)
    assert len(runner.fired[0][2]) == 1 and runner.fired[1][2] == []
    # a Splunk that fires nothing although it should: the test fails, naming the saved search
    silent = StandInSplunkd(saved, lambda search, events, form: rows, alerting=False)
    with FakeServer(silent.route) as server:
        client, runner = _runner(server, stanzas)
        client.wait_fired = _no_wait(client.wait_fired)
        runner.setup()
        with pytest.raises(live.SplunkError, match=r"fired no alert for job"):
            runner.run(det, records)


def _no_wait(wait_fired):
    return lambda stanza, sid, timeout=30, **kw: wait_fired(stanza, sid, timeout=0, pause=0)


def test_test_parameters_replace_only_the_options_they_set(detections):
    text = "`aws_signin_cloudtrail` x=1 | awssignin detection=d threshold=3 indexed_within=10m | `d_filter`"
    assert live.apply_params(text, {"threshold": 9}) == (
        "`aws_signin_cloudtrail` x=1 | awssignin detection=d indexed_within=10m threshold=9 | `d_filter`")
    assert live.apply_params(text, None) == text
    with pytest.raises(live.SplunkError, match="not options"):
        live.apply_params(text, {"max": 1})
    with pytest.raises(live.SplunkError, match="exactly once"):
        live.apply_params("`m` | stats count", {"threshold": 1})
    assert live.scoped_macro("sourcetype=aws:cloudtrail", "awssignin_test_a", "s:1") == (
        'index="awssignin_test_a" source="s:1" (sourcetype=aws:cloudtrail)')
    with pytest.raises(live.SplunkError, match="cannot scope"):
        live.scoped_macro("d", "Bad Index", "s")


def test_suppression_follows_the_alert_settings():
    rows = [{"group_user": "a"}, {"group_user": "b"}]
    per_result = {"alert.suppress": "1", "alert.digest_mode": "0", "alert.suppress.fields": "group_user",
                  "alert.suppress.period": "30m"}
    clock = [0.0]
    model = live.Suppression(lambda: clock[0])
    assert model.fresh_rows("s", per_result, rows) == rows
    clock[0] = 60
    assert model.fresh_rows("s", per_result, rows + [{"group_user": "c"}]) == [{"group_user": "c"}]
    clock[0] = 31 * 60
    assert model.fresh_rows("s", per_result, rows[:1]) == rows[:1]          # the period has passed
    digest = dict(per_result, **{"alert.digest_mode": "1", "alert.suppress.period": "600"})
    assert model.fresh_rows("d", digest, rows) == rows
    assert model.fresh_rows("d", digest, [{"group_user": "new"}]) == []     # a digest is suppressed whole
    assert model.fresh_rows("o", {"alert.suppress": "0"}, rows) == rows
    with pytest.raises(live.SplunkError, match="not a duration"):
        model.fresh_rows("x", dict(per_result, **{"alert.suppress.period": "soon"}), rows)


def test_alert_condition_reads_the_saved_search_settings():
    assert live.alert_condition({"counttype": "number of events", "relation": "greater than", "quantity": "0"}, 1)
    assert not live.alert_condition({"counttype": "number of events", "relation": "greater than", "quantity": "0"}, 0)
    assert live.alert_condition({"counttype": "number of results", "relation": "equal to", "quantity": "2"}, 2)
    assert live.alert_condition({"counttype": "always"}, 0)
    assert live.alert_condition({"counttype": "custom", "alert_condition": "search count>1"}, 3) is None


def test_hec_index_list_is_never_narrowed_and_is_put_back(detections, stanzas):
    # an empty list means any index: nothing is edited, the test index is usable as it is
    open_token = StandInSplunkd(_saved(detections))
    with FakeServer(open_token.route) as server:
        client, runner = _runner(server, stanzas)
        runner.setup()
        assert not server.find("POST", "/servicesNS/nobody/splunk_httpinput/data/inputs/http/splunk_hec_token")
        client.send_hec([{"eventTime": "2026-01-01T00:00:00Z", "eventID": "a"}], runner.index, "s")
        runner.close()
    assert open_token.hec_indexes == [] and "awssignin_test_unit" not in open_token.indexes
    # a token limited to some indexes gets the test index for the session, and its list back afterwards
    limited = StandInSplunkd(_saved(detections), hec_indexes=["main", "aws"])
    with FakeServer(limited.route) as server:
        client, runner = _runner(server, stanzas)
        runner.setup()
        assert limited.hec_indexes == ["main", "aws", "awssignin_test_unit"]
        [create] = server.find("POST", "/services/data/indexes")
        assert create.form() == {"name": "awssignin_test_unit"} and create.query == {"output_mode": "json"}
        runner.close()
    assert limited.hec_indexes == ["main", "aws"]
    assert [r.method for r in server.requests if r.path == "/services/data/indexes/awssignin_test_unit"][-1] == "DELETE"


@pytest.mark.skipif(not (ROOT / "addon" / "lib" / "splunklib").is_dir(), reason="splunklib is not vendored")
def test_live_splunk_plumbing_changes_nothing_the_local_runner_decides(detections, stanzas):
    """A stand-in whose dispatched searches are evaluated by the local Splunk runner over the events
    HEC received and the data macro selects: the live runner's plumbing (shift, HEC, macro scoping,
    parameters through the saved search, dispatch, paging, unshift) must give the local alerts."""
    from harness.splunk.runner import SplunkLocalRunner
    from harness.testing import fixture_records, planned
    local = SplunkLocalRunner(Layout(ROOT))

    def evaluate(search, events, form):
        args = dict(a.split("=", 1) for a in re.search(r"\| awssignin ([^|]*)", search).group(1).split())
        det = detections[args.pop("detection")]
        # the options detection tests set (tests[].params); the shipped ones are the local runner's to read
        params = dict((k, v) for k, v in args.items() if k in ("threshold", "window"))
        return [_as_splunk_row(a) for a in local.run(det, [e["event"] for e in events], params or None)]

    splunkd = StandInSplunkd(_saved(detections), evaluate)
    checked = 0
    with FakeServer(splunkd.route) as server:
        client, runner = _runner(server, stanzas, now=1_800_000_000.5)
        client.page_size = 1                       # every multi-alert test reads several pages
        client.wait_fired = _no_wait(client.wait_fired)
        runner.setup()
        for det, _, test, _ in planned(list(detections.values()), ["splunk"]):
            records = fixture_records(det, test, ROOT / "detections" / "fixtures")
            expected = local.run(det, records, test.get("params"))
            assert runner.run(det, records, test.get("params")) == expected, (det.id, test["name"])
            checked += 1
    assert checked >= 10
    tuned = [r.form()["search"] for r in server.requests
             if r.method == "POST" and re.match(r"^%s/saved/searches/[^/]+$" % APP, r.path)]
    assert any("threshold=" in t for t in tuned)      # a test's params reached the command
    assert all(splunkd.saved[s]["search"] == saved_search_text(detections[i]) for i, s in stanzas.items())


def test_the_docker_cli_runner_names_saved_searches_from_the_checkout(tmp_path):
    from harness.containers import cli as docker_cli
    from harness.containers import secrets
    env = tmp_path / ".env"
    secrets.ensure_env_file(env)
    runner = docker_cli.splunk_runner(secrets.load(env), layout=Layout(ROOT))
    assert runner.stanzas == live.packaged_stanzas(Layout(ROOT))
    assert runner.client.api_url == "https://127.0.0.1:8089" and runner.client.hec_url == "https://127.0.0.1:8088"
