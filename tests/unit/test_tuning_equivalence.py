"""Both platforms' allowlists suppress the same records.

For allowlist entries built from the values the fixtures hold (addresses, their networks, accounts,
principals, principal + user agent), every fixture record is judged three ways: the Splunk allowlist
text by the SPL evaluator on the record's aws:cloudtrail field view, the Kibana exception items on
its ECS document, and the meaning docs/tuning.md gives an entry, on the engine's sign-in view. They
must agree, except for the differences the docs declare: Splunk compares text case-insensitively,
Elastic exactly; Elastic's ``cloud.account.id`` falls back to ``awsAccountId``.
"""

import ipaddress
import json
from pathlib import Path

import pytest

from awssignin.normalize import BadRecord, from_cloudtrail
from harness.detections import load_all
from harness.elastic.ecs import EcsMappingError, to_ecs
from harness.splunk.fieldview import FieldViewError, field_view
from harness.splunk.spl import compile_search
from harness.testing import planned, run_tests
from harness.tuning import elastic as tuned_elastic
from harness.tuning import splunk as tuned_splunk
from harness.tuning.apply import TestRunTuning
from harness.tuning.model import Entry, Tuning

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"


def corpus():
    out = []
    for path in sorted(FIXTURES.rglob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8"))["Records"]:
            try:
                out.append((record, from_cloudtrail(record), field_view(record), to_ecs(record)))
            except (BadRecord, FieldViewError, EcsMappingError):
                continue       # a record a platform cannot read is the readers' business, not tuning's
    return out


RECORDS = corpus()


def entry(n, **conditions):
    return Entry("e%d" % n, None, None, conditions.get("networks", []), conditions.get("accounts", []),
                 conditions.get("principals", []), conditions.get("user_agents", []), None)


def entries():
    """Entries from the values in the fixtures: every kind of condition, and combinations."""
    ips, accounts, arns, users, pairs = set(), set(), set(), set(), set()
    for _, view, _, _ in RECORDS:
        try:
            ip = ipaddress.ip_address(view.get("source_ip") or "")
            ips.add(ip)
        except ValueError:
            pass
        if view.get("account_id"):
            accounts.add(view["account_id"])
        if view.get("arn"):
            arns.add(view["arn"])
            if view.get("user_agent"):
                pairs.add((view["arn"], view["user_agent"]))
        if view.get("identity_type") == "IAMUser" and view.get("user_name") and view.get("account_id"):
            users.add((view["account_id"], view["user_name"]))
    out = []
    for ip in sorted(ips, key=str):
        out.append(entry(len(out), networks=[ipaddress.ip_network(ip)]))
        out.append(entry(len(out), networks=[ipaddress.ip_network("%s/%d" % (ip, 24 if ip.version == 4 else 64),
                                                                  strict=False)]))
    for account in sorted(accounts):
        out.append(entry(len(out), accounts=[account]))
    for arn in sorted(arns):
        out.append(entry(len(out), principals=[{"arn": arn}]))
    for account, name in sorted(users):
        out.append(entry(len(out), principals=[{"account": account, "user_name": name}]))
    for arn, agent in sorted(pairs):
        out.append(entry(len(out), principals=[{"arn": arn}], user_agents=[agent]))
    # conditions ANDed, values ORed
    nets = sorted(ips, key=str)[:3]
    out.append(entry(len(out), networks=[ipaddress.ip_network(i) for i in nets], accounts=sorted(accounts)[:1]))
    return out


ENTRIES = entries()


def meaning(e, view, fold, account_fallback=None):
    """docs/tuning.md's meaning of an entry on the sign-in view; ``fold`` compares text case-insensitively."""
    same = (lambda a, b: a is not None and a.lower() == b.lower()) if fold else (lambda a, b: a == b)
    account = view.get("account_id") or account_fallback
    ok = True
    if e.networks:
        try:
            ip = ipaddress.ip_address(view.get("source_ip") or "")
            ok = ok and any(ip in n for n in e.networks)
        except ValueError:
            ok = False
    if e.accounts:
        ok = ok and any(same(account, a) for a in e.accounts)
    if e.principals:
        ok = ok and any(same(view.get("arn"), p["arn"]) if "arn" in p else (
            same(view.get("identity_type"), "IAMUser") and same(view.get("user_name"), p["user_name"])
            and same(account, p["account"])) for p in e.principals)
    if e.user_agents:
        ok = ok and any(same(view.get("user_agent"), u) for u in e.user_agents)
    return ok


def test_the_corpus_and_the_entries_cover_every_kind_of_condition():
    assert len(RECORDS) > 500
    kinds = set()
    for e in ENTRIES:
        kinds.update(k for k in ("networks", "accounts", "principals", "user_agents") if getattr(e, k))
        kinds.update("network /%d" % n.prefixlen for n in e.networks if n.prefixlen not in (32, 128))
        kinds.update("by name" for p in e.principals if "user_name" in p)
    assert {"networks", "accounts", "principals", "user_agents", "network /24", "network /64", "by name"} <= kinds


@pytest.mark.parametrize("e", ENTRIES, ids=lambda e: e.name)
def test_splunk_and_elastic_suppress_the_same_records(e):
    spl = compile_search(tuned_splunk.entry_search(e))
    exc = tuned_elastic.entry_matcher(e)
    hits = 0
    for record, view, fields, doc in RECORDS:
        on_splunk, on_elastic = spl(fields), exc(doc)
        exact = meaning(e, view, fold=False, account_fallback=record.get("awsAccountId") if not view.get("account_id") else None)
        assert on_elastic == exact, (e.name, record["eventID"])
        assert on_splunk == meaning(e, view, fold=True), (e.name, record["eventID"])
        hits += on_splunk
    assert hits, "an entry built from the fixtures matches some fixture record"


def test_the_declared_case_difference_is_real_and_only_that():
    record, view, fields, doc = next(r for r in RECORDS if r[1].get("identity_type") == "IAMUser" and r[1].get("user_name"))
    upper = entry(0, principals=[{"account": view["account_id"], "user_name": view["user_name"].upper()}])
    assert view["user_name"] != view["user_name"].upper()
    assert compile_search(tuned_splunk.entry_search(upper))(fields)       # Splunk: case-insensitive
    assert not tuned_elastic.entry_matcher(upper)(doc)                     # Elastic: exact


SITE_ENTRIES = [
    Entry("office", None, None, [ipaddress.ip_network("203.0.113.0/24")], [], [], [], None),
    Entry("sandbox", None, None, [], ["444455556666"], [], [], None),
    Entry("bob", None, None, [], [], [{"account": "111122223333", "user_name": "bob"}], [], None),
    Entry("ci", None, None, [], [], [{"arn": "arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-4411"}],
          ["python-requests/2.32.3"], None),
]


def test_on_the_pack_tests_both_platforms_remove_the_same_events_and_alerts(layout):
    dets = load_all(ROOT / "detections", ["failed_logins_for_user", "token_relay", "password_spray_from_source",
                                          "root_console_brute_force", "login_success_after_failures"])
    tested = TestRunTuning(layout, Tuning("site.yml", SITE_ENTRIES, {}), dets)
    try:
        outcomes = run_tests(layout, dets, tuning=tested, workers=2)
    finally:
        tested.close()
    assert all(o.status == "pass" for o in outcomes)
    rows = dict(((d, t, p), (before, after, events)) for d, t, p, before, after, events, _ in tested.rows)
    both = set((d.id, t["name"]) for d, _, t, p in planned(dets, ["elastic"]))
    compared = [(d, t) for d, t in both if (d, t, "splunk") in rows or (d, t, "elastic") in rows]
    assert len(compared) >= 5
    for d, t in compared:
        splunk, elastic = rows.get((d, t, "splunk")), rows.get((d, t, "elastic"))
        assert splunk is not None and elastic is not None, (d, t)
        assert splunk[2] == elastic[2], (d, t)                       # events removed, per entry
        assert (splunk[0] - splunk[1] > 0) == (elastic[0] - elastic[1] > 0), (d, t)   # some alert removed
