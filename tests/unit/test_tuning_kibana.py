"""The deploy hook that brings Kibana's exception lists to the tuning file, against an in-memory
exception API written from Kibana's documented endpoints (harness/tuning/kibana.py cites them)."""

import ipaddress
from pathlib import Path

import pytest

from harness.detections import load_all
from harness.elastic.kibana_api import Answer
from harness.elastic.rules import rule_id
from harness.tuning.kibana import deploy_hook, ensure
from harness.tuning.elastic import elastic_plan
from harness.tuning.model import Entry, Tuning

ROOT = Path(__file__).resolve().parents[2]


class ExceptionApi(object):
    """Containers by (list_id, namespace_type) and items by (item_id, namespace_type); 404 when
    missing, 409 on a duplicate create, as Kibana's exception API answers."""

    def __init__(self):
        self.lists, self.items, self.writes, self.serial = {}, {}, [], 0

    def refusal(self, answer, what):
        return "%s: HTTP %d" % (what, answer.status)

    def json_object(self, answer, what):
        return answer.body

    def request(self, method, path, what, params=None, json_body=None):
        params = params or {}
        if method != "GET":
            self.writes.append((method, path, (json_body or params).get("item_id") or (json_body or {}).get("list_id")))
        if path == "/api/exception_lists":
            key = (params.get("list_id") or json_body["list_id"], "single")
            if method == "GET":
                return self._answer(self.lists.get(key))
            if key in self.lists:
                return Answer(409, {"message": "exists"}, "exists", "", {})
            self.serial += 1
            self.lists[key] = dict(json_body, id="so-%d" % self.serial)
            return self._answer(self.lists[key])
        if path == "/api/exception_lists/items":
            key = ((params.get("item_id") or (json_body or {}).get("item_id")), "single")
            if method == "GET":
                return self._answer(self.items.get(key))
            if method == "POST":
                if (json_body["list_id"], "single") not in self.lists:
                    return Answer(404, {"message": "no list"}, "no list", "", {})
                self.items[key] = dict(json_body)
                return self._answer(self.items[key])
            if method == "PUT":
                if key not in self.items:
                    return Answer(404, {"message": "missing"}, "missing", "", {})
                self.items[key].update(json_body)
                return self._answer(self.items[key])
            if method == "DELETE":
                return self._answer(self.items.pop(key, None))
        if path == "/api/exception_lists/items/_find":
            data = sorted((i for i in self.items.values() if i["list_id"] == params["list_id"]),
                          key=lambda i: i["item_id"])
            page, per = int(params["page"]), int(params["per_page"])
            return self._answer({"data": data[(page - 1) * per:page * per], "page": page, "per_page": per,
                                 "total": len(data)})
        raise AssertionError("unexpected %s %s" % (method, path))

    @staticmethod
    def _answer(body):
        return Answer(404, {"message": "not found"}, "not found", "", {}) if body is None else Answer(200, body, "", "", {})


def entry(name, scope=None, ip="203.0.113.0/24"):
    return Entry(name, scope, None, [ipaddress.ip_network(ip)], [], [], [], None)


@pytest.fixture(scope="module")
def dets():
    return load_all(ROOT / "detections")


def test_a_deploy_creates_the_lists_and_items_and_links_every_rule(dets):
    api = ExceptionApi()
    tuning = Tuning("site.yml", [entry("office"), entry("ci", "token_relay", "192.0.2.10/32")], {})
    links, errors = deploy_hook(tuning, dets)(api, False)
    assert errors == []
    assert set(k[0] for k in api.lists) == {"awssignin-tuning-shared", "awssignin-tuning-token_relay"}
    assert set(k[0] for k in api.items) == {"awssignin-tuning-office", "awssignin-tuning-token_relay-ci"}
    relay = links[rule_id("token_relay")]
    assert [r["list_id"] for r in relay] == ["awssignin-tuning-shared", "awssignin-tuning-token_relay"]
    assert all(r["id"].startswith("so-") and r["type"] == "detection" for r in relay)
    assert [r["list_id"] for r in links[rule_id("root_console_login")]] == ["awssignin-tuning-shared"]


def test_a_second_deploy_changes_nothing_and_a_changed_file_updates_and_prunes_only_ours(dets):
    api = ExceptionApi()
    api.lists[("my-list", "single")] = {"list_id": "my-list", "id": "mine"}
    api.items[("my-item", "single")] = {"item_id": "my-item", "list_id": "my-list", "entries": []}
    first = Tuning("site.yml", [entry("office"), entry("lab")], {})
    deploy_hook(first, dets)(api, False)
    api.writes = []
    deploy_hook(first, dets)(api, False)
    assert api.writes == []
    second = Tuning("site.yml", [entry("office", ip="198.51.100.0/24")], {})
    actions = []
    links, errors = ensure(api, elastic_plan(second, dets), False, actions)
    assert errors == [] and sorted(actions) == ["deleted exception item awssignin-tuning-lab",
                                                "updated exception item awssignin-tuning-office"]
    assert api.items[("awssignin-tuning-office", "single")]["entries"][0]["value"] == "198.51.100.0/24"
    assert ("my-item", "single") in api.items and ("my-list", "single") in api.lists


def test_a_dry_run_only_reads(dets):
    api = ExceptionApi()
    actions = []
    links, errors = ensure(api, elastic_plan(Tuning("site.yml", [entry("office")], {}), dets), True, actions)
    assert api.writes == [] and errors == []
    assert actions == ["create exception list awssignin-tuning-shared", "create exception item awssignin-tuning-office"]
    assert links[rule_id("token_relay")][0]["list_id"] == "awssignin-tuning-shared"
