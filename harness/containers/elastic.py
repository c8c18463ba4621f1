"""The Elastic side of the Docker tier: real Elasticsearch + Kibana (docker/compose.yml).

Set-up (once per session): wait for Elasticsearch (authenticated ``GET /``) and Kibana
(``/api/status`` level ``available``), install the composable index template of
``harness.elastic.mapping`` (no Fleet: the AWS integration cannot be installed offline) and the
de-duplicating ingest pipeline the rules' setup asks users for (``harness.elastic.pipeline``; the
documents go through it as the integration's ``@custom`` hook would send them), and import the built
rules (``dist/elastic/rules.ndjson``) through the import API, which must accept every one.

For each detection test:

1. the fixture records are moved into the recent past by a whole number of the rule's intervals
   (``run_plan``): the local runner puts Kibana's runs at multiples of the interval since the epoch,
   so the live runs then fall at the same places relative to the events. They are mapped to the
   documents the AWS integration indexes (``harness.elastic.ecs.to_ecs``) with ``event.ingested`` =
   the moved event time (the rules' ``timestamp_override``, set as the local runner sets it), and
   bulk-indexed with ``create`` operations (data streams accept no other) into
   ``logs-aws.cloudtrail-awssignintest`` with ``refresh=wait_for``;
2. the detection's rule (``harness.elastic.rules.kibana_rule``, with the test's params) goes through
   the rule preview API: Kibana runs the real rule executor ``invocationCount`` times, ``interval``
   apart, from the first run whose window reaches the oldest event to the last whose window holds
   the newest (``timeframeEnd``); every run's ``logs[].errors`` must be empty;
3. the preview's alerts are read from ``.preview.alerts-security.alerts-default`` by
   ``kibana.alert.rule.uuid == previewId`` and read as the local runner reads Kibana's output:
   - query, single-event EQL and new_terms rules: one alert per source document; its eventID comes
     from ``kibana.alert.ancestors`` (the source document's ``_id``, known from the bulk response);
   - EQL sequences: the building-block alerts of one ``kibana.alert.group.id`` make one alert, in
     ``kibana.alert.group.index`` order; the group is what the shell alert holds (the fields every
     member shares);
   - threshold rules: Kibana reports the group (``threshold_result.terms``), the count and the time
     span (``threshold_result.from`` .. ``original_time``, the bucket's min and max time) but not the
     events. The events are those in the group and span that match the rule's query, which Kibana
     itself tells: the same query is previewed once as a ``query`` rule over all the data. The
     number found must equal Kibana's count. A bucket's alerts from successive runs are then merged
     into bursts exactly as the local runner merges its simulated ones (``schedule.BurstMerger``);
4. the test's data stream and preview alerts are deleted.

The alerts' first_seen / last_seen are moved back to the fixture's time line.
"""

import copy
import json
import math
import time
import warnings

import requests

from awssignin.timeutil import format_time, parse_duration, parse_time

from . import timeshift

NAMESPACE = "awssignintest"
DATA_STREAM = "logs-aws.cloudtrail-%s" % NAMESPACE
SPACE = "default"
PREVIEW_INDEX = ".preview.alerts-security.alerts-%s" % SPACE
KIBANA_HEADERS = {"kbn-xsrf": "true", "elastic-api-version": "2023-10-31"}
# Fields the rule preview does not take (they identify or version a stored rule).
PREVIEW_STRIP = ("rule_id", "id", "immutable", "rule_source", "revision", "version")
# Kibana aborts a preview after 60 s in total, so the number of simulated runs is bounded.
MAX_INVOCATIONS = 400
MATCH_MAX_SIGNALS = 1000   # xpack.alerting.rules.run.alerts.max default: the most one run may create


class ElasticError(RuntimeError):
    """Elasticsearch or Kibana answered something the harness cannot use."""


# ------------------------------------------------------------------------------------------------
# Pure parts: documents, request bodies, preview planning, alert conversion
# ------------------------------------------------------------------------------------------------

def iso_ms(epoch):
    """Epoch seconds -> '2026-01-15T09:12:00.000Z' (what Kibana and Elasticsearch print)."""
    ms = int(round(epoch * 1000))
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def ecs_documents(records):
    """The integration's documents for (already shifted) records, with ``event.ingested`` = the event
    time (as the local runner assumes: indexed as they occur) and ``data_stream.namespace`` the test
    stream's (as Fleet would set it)."""
    from ..elastic.ecs import to_ecs

    docs = []
    for i, record in enumerate(records):
        epoch = timeshift.event_epoch(record, i)
        try:
            doc = to_ecs(record, ingested=iso_ms(epoch))
        except ValueError as err:
            raise ElasticError("record %d: %s" % (i, err))
        doc.setdefault("data_stream", {})["namespace"] = NAMESPACE
        docs.append(doc)
    return docs


def bulk_operations(docs, data_stream=DATA_STREAM):
    """The ``_bulk`` operations: a ``create`` action before each document."""
    ops = []
    for doc in docs:
        ops.append({"create": {"_index": data_stream}})
        ops.append(doc)
    return ops


def bulk_body(docs, data_stream=DATA_STREAM):
    """The NDJSON body ``_bulk`` receives for ``docs`` (one action line and one source line each)."""
    return "".join(json.dumps(op, separators=(",", ":")) + "\n" for op in bulk_operations(docs, data_stream))


def preview_body(rule, invocation_count, timeframe_end):
    """The rule preview request: the rule's create body without stored-rule identity, plus the run plan."""
    body = dict((k, copy.deepcopy(v)) for k, v in rule.items() if k not in PREVIEW_STRIP)
    body["invocationCount"] = int(invocation_count)
    body["timeframeEnd"] = timeframe_end
    return body


def _seconds(duration_text, what):
    text = str(duration_text)
    if text.startswith("now-"):
        text = text[4:]
    try:
        return parse_duration(text)
    except ValueError as err:
        raise ElasticError("rule %s: %s" % (what, err))


class RunPlan(object):
    """Where a test's data and Kibana's simulated runs go on the present time line.

    The local runner (harness/elastic/schedule.py) puts a rule's runs at multiples of its interval
    since the epoch on the fixture's own time line. Moving the fixture by a whole number of
    intervals keeps the runs at the same places relative to the events, so the live preview runs
    where the local simulation runs: from the first run whose window reaches the oldest event to the
    last run whose window still holds the newest, ``interval`` apart (``to - from`` = look-back, both
    ends inclusive). The data is moved so that this last run is ``minutes_ago`` before now.
    """

    def __init__(self, delta, first_run, last_run, interval, lookback):
        self.delta = delta
        self.first_run = first_run
        self.last_run = last_run
        self.interval = interval
        self.lookback = lookback

    @property
    def invocations(self):
        return int(round((self.last_run - self.first_run) / float(self.interval))) + 1

    @property
    def timeframe_end(self):
        return iso_ms(self.last_run)


def rule_schedule(rule):
    """(interval, look-back) of a rule in seconds; only ``to: now`` rules, and no gaps between runs."""
    if rule.get("to", "now") != "now":
        raise ElasticError("rule to=%r: only rules that search up to now are supported" % rule.get("to"))
    interval = _seconds(rule.get("interval", "5m"), "interval")
    lookback = _seconds(rule.get("from", "now-6m"), "from")
    if lookback < interval:
        raise ElasticError("rule from=%s looks back less than its interval %s: runs would leave gaps"
                           % (rule.get("from"), rule.get("interval")))
    return interval, lookback


def run_plan(rule, oldest, newest, now, minutes_ago=2):
    """The RunPlan for fixture events spanning [oldest, newest] (epoch seconds on the fixture's
    time line, on the rule's time field)."""
    interval, lookback = rule_schedule(rule)
    latest_end = now - minutes_ago * 60
    # the last run (a multiple of the interval at most newest + lookback) must be in the past
    delta = int(math.floor((latest_end - lookback - newest) / interval)) * interval
    first = int(math.ceil((oldest + delta) / float(interval))) * interval
    last = int(math.floor((newest + delta + lookback) / float(interval))) * interval
    plan = RunPlan(delta, first, last, interval, lookback)
    if plan.invocations > MAX_INVOCATIONS:
        raise ElasticError("the fixture spans %ds: a preview would need %d runs of %s (Kibana allows a "
                           "preview 60 s; the harness stops at %d)" % (newest - oldest, plan.invocations,
                                                                      rule.get("interval"), MAX_INVOCATIONS))
    return plan


def matching_query_body(rule, oldest, end):
    """A ``query`` rule with the same KQL, index and time field as a threshold ``rule``, one run at
    ``end`` looking back past ``oldest``: Kibana's answer to "which documents match the query"."""
    body = dict((k, copy.deepcopy(v)) for k, v in rule.items()
                if k not in PREVIEW_STRIP and k not in ("threshold", "type", "from", "interval", "max_signals"))
    lookback = int(math.ceil(end - oldest)) + 120
    body.update({"type": "query", "from": "now-%ds" % lookback, "interval": "5m",
                 "max_signals": MATCH_MAX_SIGNALS})
    return preview_body(body, 1, iso_ms(end))


def get_field(doc, name):
    from ..elastic.ecs import get_field as _get
    value = _get(doc, name)
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def source_ids(alert):
    """``_id``s of the source documents of a per-document alert (depth-0 ancestors)."""
    ancestors = get_field(alert, "kibana.alert.ancestors") or []
    if isinstance(ancestors, dict):
        ancestors = [ancestors]
    ids = [a.get("id") for a in ancestors if isinstance(a, dict) and a.get("depth", 0) == 0]
    return [i for i in ids if i]


def _group(detection, read):
    from ..elastic.querygen import alert_user

    fields = detection.data["elastic"]["group_fields"]
    out = {}
    for name in detection.data["logic"]["group_by"]:
        if name == "user" and detection.data["elastic"].get("user_from_document"):
            out[name] = alert_user(read)
            continue
        value = read(fields[name])
        if isinstance(value, list):
            value = value[0] if len(value) == 1 else value
        out[name] = None if value is None else str(value) if not isinstance(value, (list, dict)) else value
    return out


def _alert(detection, group, event_ids, first, last, count=None):
    data = detection.data
    return {
        "detection": detection.id,
        "title": data["title"],
        "severity": data["severity"],
        "risk_score": data["risk_score"],
        "mitre": [m["technique"] for m in data["mitre"]],
        "platform": "elastic",
        "first_seen": format_time(first),
        "last_seen": format_time(last),
        "group": group,
        "count": len(event_ids) if count is None else count,
        "event_ids": list(event_ids),
    }


class IndexedData(object):
    """What was indexed for one test: ``_id`` -> (eventID, document), and the rule's time field."""

    def __init__(self, ids, docs, time_field="@timestamp"):
        if len(ids) != len(docs):
            raise ElasticError("%d _ids for %d documents" % (len(ids), len(docs)))
        self.by_id = {}
        for i, d in zip(ids, docs):
            self.by_id.setdefault(i, d)   # a copy the de-dup pipeline dropped shares the first's _id
        self.time_field = time_field

    def event_id(self, doc_id):
        doc = self.by_id.get(doc_id)
        if doc is None:
            raise ElasticError("an alert names source document %s, which the test did not index" % doc_id)
        return get_field(doc, "event.id")

    def doc(self, doc_id):
        self.event_id(doc_id)
        return self.by_id[doc_id]

    def time_of(self, doc_id, field=None):
        value = get_field(self.by_id[doc_id], field or self.time_field)
        if value is None and field is None:
            value = get_field(self.by_id[doc_id], "@timestamp")   # Kibana's fallback for the override
        return parse_time(value)


def convert_alerts(detection, hits, data, matched_ids=None, params=None):
    """Preview alert documents (``_source``s) -> the alert schema, read the way the local runner
    (harness/elastic/runner.py) reads what Kibana writes, so the two can be compared.

    ``data``: the test's IndexedData; ``matched_ids``: for a threshold rule, the ``_id``s of the
    documents its query matches (``matching_query_body`` preview); ``params``: the test's overrides
    (the window decides which threshold alerts make one burst). Raises ElasticError when an alert
    cannot be explained by the indexed documents.
    """
    kind = detection.data["elastic"]["type"]
    if kind == "threshold":
        if matched_ids is None:
            raise ElasticError("%s: a threshold rule's alerts need the documents its query matches" % detection.id)
        return _threshold_bursts(detection, hits, data, matched_ids, params)
    groups, shells, singles = {}, {}, []
    for hit in hits:
        group_id = get_field(hit, "kibana.alert.group.id")
        if group_id is None:
            singles.append(hit)
        elif get_field(hit, "kibana.alert.group.index") is not None:
            groups.setdefault(group_id, []).append(hit)
        else:
            shells[group_id] = hit      # a sequence's shell alert: links its building blocks
    alerts = []
    for hit in singles:
        ids = source_ids(hit)
        if len(ids) != 1:
            raise ElasticError("%s: an alert with %d source documents: %r" % (detection.id, len(ids), ids))
        doc_id = ids[0]
        source = data.doc(doc_id)
        group = _group(detection, lambda f: _first_present(get_field(hit, f), get_field(source, f)))
        t = data.time_of(doc_id, "@timestamp")
        alerts.append(_alert(detection, group, [data.event_id(doc_id)], t, t))
    for group_id, blocks in sorted(groups.items()):
        blocks.sort(key=lambda h: int(get_field(h, "kibana.alert.group.index")))
        doc_ids = []
        for block in blocks:
            doc_ids.extend(source_ids(block))
        if not doc_ids:
            raise ElasticError("%s: sequence %s has no source documents" % (detection.id, group_id))
        members = [data.doc(i) for i in doc_ids]
        shell = shells.get(group_id)
        if shell is not None:
            # Kibana's shell alert holds the fields every member shares: a differing field is absent
            group = _group(detection, lambda f: get_field(shell, f))
        else:
            group = _group(detection, lambda f: _shared([get_field(m, f) for m in members]))
        times = [data.time_of(i, "@timestamp") for i in doc_ids]
        event_ids = []
        for i in doc_ids:
            eid = data.event_id(i)
            if eid not in event_ids:
                event_ids.append(eid)
        alerts.append(_alert(detection, group, event_ids, min(times), max(times), count=len(doc_ids)))
    return alerts


def _shared(values):
    return values[0] if values and all(v == values[0] for v in values) else None


def _first_present(*values):
    for value in values:
        if value is not None:
            return value
    return None


def _threshold_bursts(detection, hits, data, matched_ids, params):
    """Kibana writes one threshold alert per bucket per run; the local runner merges the alerts of a
    bucket whose documents are within the window into one burst (harness/elastic/schedule.py
    BurstMerger). The same merge, on what Kibana really counted."""
    from ..elastic.rules import effective_logic
    from ..elastic.schedule import BurstMerger

    window = parse_duration(effective_logic(detection, params)["window"])
    run_alerts = [_threshold_run_alert(detection, hit, data, matched_ids) for hit in hits]
    run_alerts.sort(key=lambda a: (a.first, a.run_time))
    merger = BurstMerger(window)
    bursts = []
    for run_alert in run_alerts:
        bursts.extend(merger.add(run_alert))
    bursts.extend(merger.finish())
    names = detection.data["logic"]["group_by"]
    alerts = []
    for burst in sorted(bursts, key=lambda b: (b.first, b.key)):
        event_ids = []
        for d in burst.docs:
            if d.event_id not in event_ids:
                event_ids.append(d.event_id)
        group = dict(zip(names, burst.key))
        alerts.append(_alert(detection, group, event_ids, burst.first, burst.last, count=len(burst.docs)))
    return alerts


class _Counted(object):
    """A document a threshold run counted, as schedule.Burst orders them."""
    __slots__ = ("ts", "event_id")

    def __init__(self, ts, event_id):
        self.ts = ts
        self.event_id = event_id


def _threshold_run_alert(detection, hit, data, matched_ids):
    """One Kibana threshold alert as a schedule.RunAlert: its bucket and the documents it counted
    (those of its group, in [threshold_result.from, original_time], that the rule's query matches)."""
    from ..elastic.schedule import RunAlert

    result = get_field(hit, "kibana.alert.threshold_result") or {}
    terms = get_field(hit, "kibana.alert.threshold_result.terms") or result.get("terms") or []
    if isinstance(terms, dict):
        terms = [terms]
    by_field = dict((t.get("field"), t.get("value")) for t in terms if isinstance(t, dict))
    count = get_field(hit, "kibana.alert.threshold_result.count")
    if count is None:
        count = result.get("count")
    start = get_field(hit, "kibana.alert.threshold_result.from") or result.get("from")
    end = get_field(hit, "kibana.alert.original_time")
    if count is None or start is None or end is None:
        raise ElasticError("%s: a threshold alert without count / from / original_time: %r" % (detection.id, hit))
    start, end = parse_time(start), parse_time(end)
    fields = detection.data["elastic"]["group_fields"]
    names = detection.data["logic"]["group_by"]
    # the bucket is every threshold field, the partition fields beyond the group included
    bucket = [fields[n] for n in names] + list(detection.data["elastic"].get("partition_fields", []))
    key = tuple(_as_text(by_field.get(f)) for f in bucket)
    members = []
    for doc_id in sorted(matched_ids):
        if doc_id not in data.by_id:
            continue
        doc = data.by_id[doc_id]
        if tuple(_as_text(get_field(doc, f)) for f in bucket) != key:
            continue
        t = data.time_of(doc_id)
        if start - 0.0005 <= t <= end + 0.0005:     # Elasticsearch keeps dates to the millisecond
            members.append(_Counted(t, data.event_id(doc_id)))
    if len(members) != int(count):
        raise ElasticError("%s: Kibana counted %s events for %s between %s and %s, the documents show %d"
                           % (detection.id, count, dict(zip(bucket, key)), iso_ms(start), iso_ms(end), len(members)))
    members.sort(key=lambda d: (d.ts, d.event_id or ""))
    return RunAlert(end, key, members)


def _as_text(value):
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return None if value is None else str(value)


def preview_errors(answer):
    """Problems a preview answer reports: run errors, an aborted preview, no previewId."""
    problems = []
    for n, log in enumerate(answer.get("logs") or []):
        for err in log.get("errors") or []:
            problems.append("run %d (%s): %s" % (n + 1, log.get("startedAt", "?"), err))
    if answer.get("isAborted"):
        problems.append("the preview was aborted (Kibana stops previews after 60 s)")
    if not answer.get("previewId") and not problems:
        problems.append("no previewId in the answer")
    return problems


def unshift_alert(alert, delta):
    out = dict(alert)
    for key in ("first_seen", "last_seen"):
        out[key] = format_time(parse_time(out[key]) - delta)
    return out


# ------------------------------------------------------------------------------------------------
# Clients
# ------------------------------------------------------------------------------------------------

class KibanaClient(object):
    """Kibana's HTTP API as the ``elastic`` user."""

    def __init__(self, url, password, username="elastic", session=None, timeout=120):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = session or requests.Session()
        self.session.auth = (username, password)
        self.session.headers.update(KIBANA_HEADERS)

    def _request(self, method, path, ok=(200,), **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, self.url + path, **kwargs)
        except requests.RequestException as err:
            raise ElasticError("Kibana %s %s: %s" % (method, path, _short(err)))
        if response.status_code not in ok:
            raise ElasticError("Kibana %s %s: HTTP %d %s" % (method, path, response.status_code, response.text[:400]))
        try:
            return response.json()
        except ValueError:
            raise ElasticError("Kibana %s %s: the answer is not JSON: %r" % (method, path, response.text[:200]))

    def status_level(self):
        data = self._request("GET", "/api/status", ok=(200, 503), timeout=15)
        return ((data.get("status") or {}).get("overall") or {}).get("level")

    def wait_ready(self, timeout=600, consecutive=2, pause=5.0, clock=time.monotonic, sleep=time.sleep):
        deadline = clock() + timeout
        streak, last = 0, "no answer yet"
        while True:
            try:
                level = self.status_level()
                last = "overall level %s" % level
                streak = streak + 1 if level == "available" else 0
                if streak >= consecutive:
                    return
            except ElasticError as err:
                streak, last = 0, str(err)
            if clock() >= deadline:
                raise ElasticError("Kibana at %s was not available within %ds (last: %s)" % (self.url, timeout, last))
            sleep(pause)

    def import_rules(self, ndjson_text, filename="rules.ndjson"):
        """Import rules (overwrite); every rule must be accepted (the API answers 200 on failures too)."""
        answer = self._request("POST", "/api/detection_engine/rules/_import", params={"overwrite": "true"},
                               files={"file": (filename, ndjson_text.encode("utf-8"), "application/ndjson")})
        errors = answer.get("errors") or []
        if not answer.get("success") or errors or answer.get("success_count") != answer.get("rules_count"):
            details = "; ".join("%s: %s" % (e.get("rule_id"), (e.get("error") or {}).get("message")) for e in errors)
            raise ElasticError("Kibana imported %s of %s rules: %s" % (answer.get("success_count"),
                                                                        answer.get("rules_count"), details or answer))
        return answer

    def preview(self, body):
        answer = self._request("POST", "/api/detection_engine/rules/preview", json=body, timeout=180)
        problems = preview_errors(answer)
        if problems:
            raise ElasticError("rule preview failed: %s" % "; ".join(problems))
        return answer["previewId"]


def elasticsearch_client(url, password, username="elastic", timeout=120):
    """An elasticsearch-py 8.x client (8.x talks to 8.x and 9.x servers; 9.x only to 9.x)."""
    from elasticsearch import Elasticsearch

    return Elasticsearch(url, basic_auth=(username, password), request_timeout=timeout)


class ElasticStack(object):
    """Elasticsearch (elasticsearch-py) and Kibana (HTTP) of the test stack."""

    def __init__(self, es, kibana):
        self.es = es
        self.kibana = kibana

    def wait_ready(self, timeout=600, pause=5.0, clock=time.monotonic, sleep=time.sleep):
        deadline = clock() + timeout
        last = "no answer yet"
        while True:
            try:
                self.es.info()
                break
            except Exception as err:  # connection refused, 401 while security starts, ...
                last = _short(err)
            if clock() >= deadline:
                raise ElasticError("Elasticsearch was not ready within %ds (last: %s)" % (timeout, last))
            sleep(pause)
        self.kibana.wait_ready(timeout=max(1, deadline - clock()), pause=pause, clock=clock, sleep=sleep)

    def put_template(self):
        from ..elastic.mapping import TEMPLATE_NAME, index_template

        self.es.indices.put_index_template(name=TEMPLATE_NAME, body=index_template())

    def deploy(self, rules_path):
        """Import a rules NDJSON file through the project's deploy (harness.elastic.deploy), the code
        users run; without it, through the same import request made here."""
        try:
            from ..elastic.deploy import ENV_PASSWORD, ENV_USERNAME, DeployError, deploy_rules
        except ImportError:
            with open(str(rules_path), "r", encoding="utf-8") as handle:
                return self.kibana.import_rules(handle.read())
        username, password = self.kibana.session.auth
        try:
            result = deploy_rules(self.kibana.url, rules_path,
                                  environ={ENV_USERNAME: username, ENV_PASSWORD: password})
        except DeployError as err:
            raise ElasticError("rule import: %s" % err)
        if not result.ok:
            problems = ["%s (%s): %s" % (r.name, r.rule_id, r.message) for r in result.failed]
            raise ElasticError("Kibana did not accept every rule: %s" % "; ".join(problems + list(result.other_errors)))
        return result

    def put_pipeline(self):
        """Install the project's de-duplicating ingest pipeline (what the rules' setup tells users
        to install); returns its name, or None when this checkout has no such pipeline."""
        try:
            from ..elastic.pipeline import NAME, dedup_pipeline
        except ImportError:
            return None
        self.es.ingest.put_pipeline(id=NAME, body=dedup_pipeline())
        return NAME

    def delete_stream(self, name=DATA_STREAM):
        self.es.options(ignore_status=404).indices.delete_data_stream(name=name)

    def index(self, docs, data_stream=DATA_STREAM, pipeline=None):
        """Bulk-create ``docs`` (through ``pipeline`` when given); returns their ``_id``s in order.

        With the de-dup pipeline a second copy of an eventID conflicts on its ``_id`` (409): that is
        the pipeline working, and the copy's ``_id`` is the first copy's. Any other refusal is an error.
        """
        kwargs = {"pipeline": pipeline} if pipeline else {}
        answer = self.es.bulk(operations=bulk_operations(docs, data_stream), refresh="wait_for", **kwargs)
        ids = []
        problems = []
        for n, item in enumerate(answer.get("items", [])):
            result = item.get("create") or {}
            status = result.get("status")
            conflict = (status == 409 and pipeline
                        and (result.get("error") or {}).get("type") == "version_conflict_engine_exception")
            if status not in (200, 201) and not conflict:
                problems.append("document %d: %s" % (n, json.dumps(result.get("error"))[:300]))
            ids.append(result.get("_id"))
        if problems or len(ids) != len(docs):
            raise ElasticError("Elasticsearch refused documents: %s" % ("; ".join(problems[:5]) or "item count differs"))
        return ids

    def preview_alerts(self, preview_id):
        """The ``_source`` of every alert of a preview."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # access to a hidden index may carry a deprecation header
            es = self.es.options(ignore_status=404)
            es.indices.refresh(index=PREVIEW_INDEX, ignore_unavailable=True)
            answer = es.search(index=PREVIEW_INDEX, ignore_unavailable=True, size=10000,
                               query={"bool": {"filter": [{"term": {"kibana.alert.rule.uuid": preview_id}}]}},
                               sort=[{"@timestamp": {"order": "asc", "unmapped_type": "date"}}])
        return [h["_source"] for h in answer.get("hits", {}).get("hits", [])]

    def delete_preview_alerts(self, preview_id):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.es.options(ignore_status=404).delete_by_query(
                index=PREVIEW_INDEX, ignore_unavailable=True, refresh=True, conflicts="proceed",
                query={"bool": {"filter": [{"term": {"kibana.alert.rule.uuid": preview_id}}]}})


class ElasticDockerRunner(object):
    """Runs detection tests on the live stack: ``run(detection, records, params) -> alerts``."""

    platform = "elastic"

    def __init__(self, stack, minutes_ago=2, now=time.time, keep_data=False):
        self.stack = stack
        self.minutes_ago = minutes_ago
        self.now = now
        self.keep_data = keep_data
        self.ready = False
        self.pipeline = None

    def setup(self, rules_path=None):
        """Wait for the stack, install the template and the de-dup pipeline, and import the rules
        file ``rules_path`` as ``awssignin deploy elastic`` does (every rule must be accepted)."""
        self.stack.wait_ready()
        self.stack.put_template()
        self.pipeline = self.stack.put_pipeline()
        if rules_path is not None:
            self.stack.deploy(rules_path)
        self.ready = True

    def run(self, detection, records, params=None):
        from ..elastic.rules import kibana_rule

        if not self.ready:
            self.setup()
        rule = kibana_rule(detection, params)
        oldest, newest = timeshift.time_range(records)   # event.ingested = event time (as locally)
        plan = run_plan(rule, oldest, newest, self.now(), self.minutes_ago)
        shifted = [timeshift.shift_record(r, plan.delta) for r in records]
        docs = ecs_documents(shifted)
        self.stack.delete_stream()
        previews = []
        try:
            ids = self.stack.index(docs, pipeline=self.pipeline)
            data = IndexedData(ids, docs, rule.get("timestamp_override") or "@timestamp")
            preview_id = self.stack.kibana.preview(preview_body(rule, plan.invocations, plan.timeframe_end))
            previews.append(preview_id)
            hits = self.stack.preview_alerts(preview_id)
            matched = None
            if rule["type"] == "threshold":
                match_id = self.stack.kibana.preview(matching_query_body(rule, oldest + plan.delta, plan.last_run))
                previews.append(match_id)
                matched = set()
                for hit in self.stack.preview_alerts(match_id):
                    matched.update(source_ids(hit))
            alerts = convert_alerts(detection, hits, data, matched, params)
        finally:
            if not self.keep_data:
                self.stack.delete_stream()
                for p in previews:
                    self.stack.delete_preview_alerts(p)
        return [unshift_alert(a, plan.delta) for a in alerts]

    def close(self):
        self.ready = False


def _short(err):
    text = str(err)
    return text if len(text) < 300 else text[:297] + "..."
