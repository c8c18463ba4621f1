"""Bringing a Kibana space's exception lists to what the tuning file asks, for ``deploy elastic``.

``deploy_hook(tuning, detections)`` returns the function ``deploy_rules(..., tuning=fn)`` calls
(harness/elastic/deploy.py): ``fn(client, dry_run) -> (links, errors)``. It reads, creates and
updates only the containers and items of ``elastic.elastic_plan`` (list_id ``awssignin-tuning*``,
tag ``awssignin-tuning``), deletes items in those lists that the tuning no longer has, and returns
the references each rule must hold. With ``dry_run`` it only reads.

Kibana's exception API (Elastic Security docs, "Exceptions API": create / get / update / delete
exception container and item, find exception items;
https://www.elastic.co/guide/en/security/8.4/exceptions-api-overview.html):

- ``GET /api/exception_lists?list_id=&namespace_type=`` -> the container (with its saved-object
  ``id``) or 404; ``POST /api/exception_lists`` creates one;
- ``GET /api/exception_lists/items?item_id=&namespace_type=`` -> the item or 404;
  ``POST /api/exception_lists/items`` creates, ``PUT /api/exception_lists/items`` (by ``item_id``)
  updates one; ``DELETE /api/exception_lists/items?item_id=&namespace_type=`` deletes;
- ``GET /api/exception_lists/items/_find?list_id=&namespace_type=&page=&per_page=`` pages through
  a list's items (``{data, page, per_page, total}``).
"""

from .elastic import LIST_PREFIX, NAMESPACE, elastic_plan

LISTS = "/api/exception_lists"
ITEMS = "/api/exception_lists/items"
FIND_ITEMS = "/api/exception_lists/items/_find"
PER_PAGE = 100
# the item fields the tuning owns (compared to decide whether an update is needed)
ITEM_FIELDS = ("name", "description", "type", "entries", "tags")
PLACEHOLDER_ID = "(created by this deploy)"


def deploy_hook(tuning, detections):
    return _Hook(elastic_plan(tuning, detections))


class _Hook(object):
    """``hook(client, dry_run) -> (links, errors)``; ``hook.actions`` then lists what the last call
    changed on that target (or, dry, would change), for deploy to print; ``hook.rule_fields``
    {rule_id: [field]} are the rule fields the tuning sets, which deploy applies even where the
    target's value looks like a user's customisation (the tuning file is the user's own word).
    A parameter taken out of the file is not put back to the pack's value until the next version
    of the rule or ``--overwrite-customised``: deploy cannot tell an old tuned value from a hand edit."""

    def __init__(self, plan):
        self.plan = plan
        self.actions = []
        self.rule_fields = dict((rid, sorted(r["fields"])) for rid, r in plan["rules"].items() if r["fields"])

    def __call__(self, client, dry_run):
        self.actions = []
        return ensure(client, self.plan, dry_run, self.actions)


def _get(client, path, params, what):
    answer = client.request("GET", path, what, params=params)
    if answer.status == 404:
        return None
    if not answer.ok:
        raise _Refused(client.refusal(answer, what))
    return client.json_object(answer, what)


class _Refused(Exception):
    pass


def ensure(client, plan, dry_run, actions=None):
    """``(links, errors)``: ``links`` {rule_id: [reference]} for the lists this plan links; ``errors``
    one line per refused request (the others still run). ``actions``, when a list, receives one line
    per change made (or, with ``dry_run``, that would be made)."""
    errors, ids = [], {}
    actions = actions if actions is not None else []
    for lst in plan["lists"]:
        what = "exception list %s" % lst["list_id"]
        try:
            found = _get(client, LISTS, {"list_id": lst["list_id"], "namespace_type": NAMESPACE}, what)
            if found is not None:
                ids[lst["list_id"]] = found.get("id")
            elif dry_run:
                ids[lst["list_id"]] = PLACEHOLDER_ID
                actions.append("create %s" % what)
            else:
                answer = client.request("POST", LISTS, what, json_body=lst)
                if not answer.ok:
                    raise _Refused(client.refusal(answer, what))
                ids[lst["list_id"]] = client.json_object(answer, what).get("id")
                actions.append("created %s" % what)
        except _Refused as err:
            errors.append(str(err))
    wanted = dict((item["item_id"], item) for item in plan["items"])
    for item in plan["items"]:
        if item["list_id"] not in ids:
            continue                          # its list could not be ensured: reported above
        what = "exception item %s" % item["item_id"]
        try:
            found = _get(client, ITEMS, {"item_id": item["item_id"], "namespace_type": NAMESPACE}, what)
            if found is None:
                method = "POST"
            elif any(found.get(k) != item[k] for k in ITEM_FIELDS) or found.get("list_id") != item["list_id"]:
                method = "PUT"
            else:
                continue
            if dry_run:
                actions.append("%s %s" % ("create" if method == "POST" else "update", what))
                continue
            body = dict(item)
            if method == "PUT":
                body.pop("list_id")           # an update names the item; its list does not change
            answer = client.request(method, ITEMS, what, json_body=body)
            if not answer.ok:
                raise _Refused(client.refusal(answer, what))
            actions.append("%s %s" % ("created" if method == "POST" else "updated", what))
        except _Refused as err:
            errors.append(str(err))
    for list_id in sorted(ids):
        if ids[list_id] == PLACEHOLDER_ID:
            continue
        try:
            for item_id in _stale_items(client, list_id, wanted):
                what = "exception item %s" % item_id
                if dry_run:
                    actions.append("delete %s" % what)
                    continue
                answer = client.request("DELETE", ITEMS, what,
                                        params={"item_id": item_id, "namespace_type": NAMESPACE})
                if not answer.ok and answer.status != 404:
                    raise _Refused(client.refusal(answer, what))
                actions.append("deleted %s" % what)
        except _Refused as err:
            errors.append(str(err))
    links = {}
    for rid, rule in plan["rules"].items():
        links[rid] = [{"id": ids[lid], "list_id": lid, "namespace_type": NAMESPACE, "type": "detection"}
                      for lid in rule["exception_lists"] if ids.get(lid)]
    return links, errors


def _stale_items(client, list_id, wanted):
    """item_ids in one of our lists that the plan does not hold (paged)."""
    if not list_id.startswith(LIST_PREFIX):
        return []
    stale, page = [], 1
    while True:
        what = "exception items of %s" % list_id
        found = _get(client, FIND_ITEMS, {"list_id": list_id, "namespace_type": NAMESPACE,
                                          "page": page, "per_page": PER_PAGE}, what)
        data = (found or {}).get("data") or []
        stale.extend(i.get("item_id") for i in data if i.get("item_id") not in wanted)
        total = (found or {}).get("total") or 0
        if not data or page * PER_PAGE >= total:
            return stale
        page += 1
