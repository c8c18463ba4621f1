"""A stand-in for Kibana 8.19's detection-engine rules API, written from Kibana's documentation and
source, for tests of ``awssignin deploy elastic`` and ``awssignin status``.

What it implements, and where the behaviour comes from:

- ``GET R/_find?filter=&page=&per_page=`` -> ``{page, perPage, total, data}``; ``per_page`` defaults
  to 20 (no maximum), ``page`` to 1 (docs: rules-api-find.html; the OpenAPI schema
  .../rule_management/find_rules/find_rules_route.schema.yaml). ``filter`` is KQL over the rule saved object; only the two forms deploy uses
  are understood, ``alert.attributes.params.ruleId: ("a" OR "b")`` and
  ``alert.attributes.params.author: "x"`` (``params`` is a flattened field,
  x-pack/plugins/alerting/server/saved_objects/mappings.ts); anything else is a 400, so a test
  fails loudly rather than matching everything.
- ``POST R`` creates; a taken rule_id is 409; ``enabled`` absent means **true** on create (the
  create-rule docs: "enabled ... No, defaults to true", rules-api-create.html; later sources default
  it to false in RULE_DEFAULTS: deploy always sends it, and the stand-in takes the riskier default);
  other absent fields take ``RULE_DEFAULTS`` (elastic/kibana .../detection_rules_client/mergers/
  apply_rule_defaults.ts: ``exceptions_list: []``, ``actions: []``, ``interval: 5m``...).
- ``PUT R`` replaces: every field the body lacks is reset to its default, ``enabled`` absent means
  false (docs: "PUT replaces the original rule and deletes fields that are not specified").
- ``PATCH R`` changes only the fields sent (``patch.field ?? existing.field``,
  mergers/apply_rule_patch.ts) and refuses a type change with 400 (patch_rule.ts: "PATCH cannot
  change a rule's type").
- ``DELETE R?rule_id=``; 404 for an unknown rule_id (``rule_id: "x" not found``).
- ``POST R/_import?overwrite=true`` replaces each whole rule from the file (Kibana >= 8.15.2
  honours ``enabled``, elastic/kibana#192272/#192302; a missing ``enabled`` is false, a missing
  ``exceptions_list`` unlinks every list, #269435); HTTP 200 with per-rule ``errors``.
- Responses add ``id``, ``revision`` (+1 per write), ``immutable: false``, ``rule_source
  {type: internal}``, ``created_*``/``updated_*`` and ``ecs`` in ``required_fields``
  (``addEcsToRequiredFields``); non-GET requests need ``kbn-xsrf``; a wrong or missing
  ``Authorization`` is 401; an unknown space is 404.

``fail[rule_id] = (status, message)`` makes writes of that rule fail, for partial-failure tests.
``edit(rule_id, **fields)`` changes a rule as a user would in the UI. ``small_pack`` writes a
rules file of a few minimal rules for tests that do not need the real pack.
"""

import base64
import copy
import email.parser
import email.policy
import itertools
import json
import re
import threading
from httpstandin import FakeServer
from urllib.parse import parse_qs, urlsplit

RULES = "/api/detection_engine/rules"
EXCEPTIONS = "/api/exception_lists"

RULE_DEFAULTS = {
    "enabled": False, "risk_score_mapping": [], "severity_mapping": [], "interval": "5m", "to": "now",
    "from": "now-6m", "exceptions_list": [], "false_positives": [], "max_signals": 100, "actions": [],
    "related_integrations": [], "required_fields": [], "setup": "", "references": [], "threat": [],
    "tags": [], "author": [], "output_index": "", "version": 1,
}
REQUIRED = ("name", "description", "risk_score", "severity", "type")
RESPONSE_ONLY = ("id", "revision", "immutable", "rule_source", "created_at", "created_by", "updated_at",
                 "updated_by", "execution_summary")

_FILTER = re.compile(r'^alert\.attributes\.params\.(ruleId|author):\s*(.+)$', re.S)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


def parse_filter(text):
    """(field, [values]) for the two filter forms deploy sends, or None."""
    match = _FILTER.match(text.strip())
    if not match:
        return None
    field, rest = match.group(1), match.group(2).strip()
    if rest.startswith("(") and rest.endswith(")"):
        inner = rest[1:-1].strip()
        values = _QUOTED.findall(inner)
        if re.sub(r'"(?:[^"\\]|\\.)*"', "", inner).replace("OR", "").replace("or", "").strip():
            return None
    else:
        values = _QUOTED.findall(rest)
        if len(values) != 1 or _QUOTED.sub("", rest).strip():
            return None
    return field, [re.sub(r"\\(.)", r"\1", v) for v in values]


class KibanaStandIn(object):
    def __init__(self, api_key=None, basic=None, spaces=("default",), tls_context=None):
        self.api_key = api_key
        self.basic = basic                      # (user, password)
        self.spaces = {s: {} for s in spaces}   # space -> {rule_id: stored rule}
        # space -> {"lists": {list_id: container}, "items": {item_id: item}} (namespace "single")
        self.exceptions = {s: {"lists": {}, "items": {}} for s in spaces}
        self.requests = []
        self.fail = {}
        self._ids = itertools.count(1)
        self._clock = itertools.count(1)
        self.lock = threading.Lock()
        self.http = FakeServer(self._serve, tls_context=tls_context).__enter__()
        self.url = self.http.url

    def _serve(self, req):
        """The request as the routes read it (the target parsed as sent, headers lower-cased),
        recorded and answered under the lock."""
        parts = urlsplit(req.target)
        request = {"method": req.method, "path": parts.path, "query": parse_qs(parts.query),
                   "headers": dict(req.headers), "body": req.body}
        with self.lock:
            self.requests.append(request)
            status, answer = self.route(request)
        return status, answer, {"Content-Type": "application/json; charset=utf-8"}

    def close(self):
        self.http.__exit__(None, None, None)

    # -- helpers for tests -----------------------------------------------------------------------

    def rules(self, space="default"):
        return self.spaces[space]

    def rule(self, rule_id, space="default"):
        return self.spaces[space][rule_id]

    def edit(self, rule_id, space="default", **fields):
        """A user's change in the UI: fields set as given."""
        with self.lock:
            rule = self.spaces[space][rule_id]
            rule.update(copy.deepcopy(fields))
            self._touch(rule)

    def writes(self):
        return [r for r in self.requests if r["method"] != "GET"]

    # -- the API -----------------------------------------------------------------------------------

    def _authorised(self, headers):
        value = headers.get("authorization", "")
        if self.api_key and value == "ApiKey " + self.api_key:
            return True
        if self.basic:
            pair = "%s:%s" % self.basic
            if value == "Basic " + base64.b64encode(pair.encode()).decode():
                return True
        return False

    def route(self, request):
        path = request["path"]
        space = "default"
        match = re.match(r"^/s/([^/]+)(/.*)$", path)
        if match:
            space, path = match.group(1), match.group(2)
        if not self._authorised(request["headers"]):
            return 401, {"statusCode": 401, "error": "Unauthorized",
                         "message": "[security_exception] unable to authenticate user"}
        if space not in self.spaces:
            return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}
        method = request["method"]
        if method != "GET" and "kbn-xsrf" not in request["headers"]:
            return 400, {"statusCode": 400, "error": "Bad Request", "message": "Request must contain a kbn-xsrf header."}
        rules = self.spaces[space]
        query = {k: v[-1] for k, v in request["query"].items()}
        if path.startswith(EXCEPTIONS):
            return self._exceptions(self.exceptions[space], method, path, query, request["body"])
        if path == RULES + "/_find" and method == "GET":
            return self._find(rules, query)
        if path == RULES + "/_import" and method == "POST":
            return self._import(rules, request, query)
        if path == RULES:
            if method == "DELETE":
                return self._delete(rules, query)
            try:
                body = json.loads(request["body"] or b"null")
            except ValueError:
                return 400, {"message": "invalid JSON body", "status_code": 400}
            if not isinstance(body, dict):
                return 400, {"message": "expected a JSON object", "status_code": 400}
            handler = {"POST": self._create, "PUT": self._update, "PATCH": self._patch}.get(method)
            if handler:
                rid = body.get("rule_id")
                if rid in self.fail:
                    status, message = self.fail[rid]
                    return status, {"message": message, "status_code": status}
                return handler(rules, body)
        return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}

    # -- exception lists (Elastic Security "Exceptions API": containers by list_id, items by
    # item_id; 404 when missing, 409 on a duplicate create; _find pages a list's items) -----------

    def _exceptions(self, store, method, path, query, raw):
        body = json.loads(raw or b"null") if method in ("POST", "PUT") else None
        lists, items = store["lists"], store["items"]
        if path == EXCEPTIONS and method == "GET":
            found = lists.get(query.get("list_id"))
            return (200, found) if found else (404, {"message": "list not found", "status_code": 404})
        if path == EXCEPTIONS and method == "POST":
            if body["list_id"] in lists:
                return 409, {"message": "exception list id: %s already exists" % body["list_id"], "status_code": 409}
            lists[body["list_id"]] = dict(body, id="list-%d" % next(self._ids))
            return 200, lists[body["list_id"]]
        if path == EXCEPTIONS + "/items/_find" and method == "GET":
            if query.get("list_id") not in lists:
                return 404, {"message": "list not found", "status_code": 404}
            page, per_page = int(query.get("page", 1)), int(query.get("per_page", 20))
            mine = [i for _, i in sorted(items.items()) if i["list_id"] == query["list_id"]]
            return 200, {"data": mine[(page - 1) * per_page:page * per_page], "page": page, "per_page": per_page,
                         "total": len(mine)}
        if path == EXCEPTIONS + "/items":
            item_id = (body or {}).get("item_id") or query.get("item_id")
            if method == "GET" or method == "DELETE":
                found = items.get(item_id) if method == "GET" else items.pop(item_id, None)
                return (200, found) if found else (404, {"message": "item not found", "status_code": 404})
            if method == "POST":
                if body.get("list_id") not in lists:
                    return 404, {"message": "list not found", "status_code": 404}
                if item_id in items:
                    return 409, {"message": "item id: %s already exists" % item_id, "status_code": 409}
                items[item_id] = dict(body, id="item-%d" % next(self._ids))
                return 200, items[item_id]
            if method == "PUT":
                if item_id not in items:
                    return 404, {"message": "item not found", "status_code": 404}
                items[item_id].update(body)
                return 200, items[item_id]
        return 404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"}

    def _touch(self, rule, created=False):
        stamp = "2026-12-01T00:00:%02d.000Z" % (next(self._clock) % 60)
        if created:
            rule.update(id="so-%d" % next(self._ids), created_at=stamp, created_by="elastic", revision=0,
                        immutable=False, rule_source={"type": "internal"})
        else:
            rule["revision"] = rule.get("revision", 0) + 1
        rule.update(updated_at=stamp, updated_by="elastic")
        rule["required_fields"] = [dict(f, ecs=f.get("ecs", True)) for f in rule.get("required_fields") or []]

    def _missing(self, body):
        missing = [k for k in REQUIRED if k not in body]
        if body.get("type") in ("query", "threshold", "eql", "new_terms") and "query" not in body:
            missing.append("query")
        return missing

    def _complete(self, body, enabled_default):
        rule = dict(RULE_DEFAULTS)
        rule["enabled"] = enabled_default
        rule["language"] = "kuery" if body.get("type") != "eql" else "eql"
        rule.update({k: copy.deepcopy(v) for k, v in body.items() if k not in RESPONSE_ONLY})
        return rule

    def _create(self, rules, body):
        missing = self._missing(body)
        if missing:
            return 400, {"message": "%s: Required" % ", ".join(missing), "status_code": 400}
        rid = body.get("rule_id") or "generated-%d" % next(self._ids)
        if rid in rules:
            return 409, {"message": 'rule_id: "%s" already exists' % rid, "status_code": 409}
        rule = self._complete(dict(body, rule_id=rid), enabled_default=True)
        self._touch(rule, created=True)
        rules[rid] = rule
        return 200, copy.deepcopy(rule)

    def _replace(self, rules, body, enabled_default=False):
        old = rules[body["rule_id"]]
        rule = self._complete(body, enabled_default=enabled_default)
        for key in ("id", "created_at", "created_by", "revision", "immutable", "rule_source"):
            rule[key] = old[key]
        self._touch(rule)
        rules[body["rule_id"]] = rule
        return rule

    def _update(self, rules, body):
        rid = body.get("rule_id")
        if rid not in rules:
            return 404, {"message": 'rule_id: "%s" not found' % rid, "status_code": 404}
        missing = self._missing(body)
        if missing:
            return 400, {"message": "%s: Required" % ", ".join(missing), "status_code": 400}
        return 200, copy.deepcopy(self._replace(rules, body))

    def _patch(self, rules, body):
        rid = body.get("rule_id")
        if rid not in rules:
            return 404, {"message": 'rule_id: "%s" not found' % rid, "status_code": 404}
        rule = rules[rid]
        if "type" in body and body["type"] != rule["type"]:
            return 400, {"message": "Cannot change an existing rule's type", "status_code": 400}
        for key, value in body.items():
            if value is not None and key not in RESPONSE_ONLY:
                rule[key] = copy.deepcopy(value)
        self._touch(rule)
        return 200, copy.deepcopy(rule)

    def _delete(self, rules, query):
        rid = query.get("rule_id")
        if rid not in rules:
            return 404, {"message": 'rule_id: "%s" not found' % rid, "status_code": 404}
        return 200, rules.pop(rid)

    def _find(self, rules, query):
        selected = list(rules.values())
        if query.get("filter"):
            parsed = parse_filter(query["filter"])
            if parsed is None:
                return 400, {"message": "the stand-in does not understand the filter %r" % query["filter"],
                             "status_code": 400}
            field, values = parsed
            if field == "ruleId":
                selected = [r for r in selected if r["rule_id"] in values]
            else:
                selected = [r for r in selected if set(values) & set(r.get("author") or [])]
        try:
            page, per_page = int(query.get("page", 1)), int(query.get("per_page", 20))
        except ValueError:
            return 400, {"message": "page and per_page must be numbers", "status_code": 400}
        data = selected[(page - 1) * per_page: page * per_page]
        return 200, {"page": page, "perPage": per_page, "total": len(selected), "data": copy.deepcopy(data)}

    def _import(self, rules, request, query):
        content_type = request["headers"].get("content-type", "")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request["body"])
        part = next(iter(message.iter_parts()))
        lines = [json.loads(l) for l in part.get_payload(decode=True).decode().splitlines() if l.strip()]
        errors, ok = [], 0
        overwrite = query.get("overwrite") == "true"
        for body in lines:
            rid = body.get("rule_id")
            if rid in rules and not overwrite:
                errors.append({"rule_id": rid, "error": {"status_code": 409,
                                                         "message": "Rule with this rule_id already exists"}})
                continue
            if rid in rules:
                self._replace(rules, body, enabled_default=False)
            else:
                rule = self._complete(body, enabled_default=False)
                self._touch(rule, created=True)
                rules[rid] = rule
            ok += 1
        return 200, {"success": not errors, "success_count": ok, "rules_count": len(lines), "errors": errors}


def small_pack(path, versions=(1, 1, 1), **fields):
    """A rules NDJSON of ``len(versions)`` minimal query rules r-0, r-1, ... of the pack's author."""
    rules = [dict({"rule_id": "r-%d" % i, "name": "Rule %d" % i, "type": "query", "description": "d",
                   "risk_score": 1, "severity": "low", "query": "*", "version": v, "enabled": False,
                   "author": ["awssignin"]}, **fields)
             for i, v in enumerate(versions)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rules), encoding="utf-8")
    return path
