"""The engine's new_terms logic (awssignin/baseline.py) with the shipped login_new_country_for_user:
a group alerts when it was not seen in the history before it, the baseline is built from the events
themselves (a month of logs replayed in order, with bounded lateness) and can be seeded."""

import pytest

from awssignin import baseline, catalog
from awssignin.engine import Engine

DAY = 86400
T0 = 1775000000  # 2026-03-31T22:13:20Z


@pytest.fixture(scope="module")
def spec():
    return catalog.select(catalog.load(), ["login_new_country_for_user"])[0]


def view(n, t, country, user="alice", account="111122223333", outcome="success"):
    return {"event_id": "e%04d" % n, "event_time": t, "event_source": "signin.amazonaws.com",
            "event_name": "ConsoleLogin", "outcome": outcome, "user": user, "account_id": account,
            "source_country": country, "source_ip": "198.51.100.10"}


def run(spec, views, **kwargs):
    engine = Engine([spec], **kwargs)
    alerts = []
    for v in views:
        alerts.extend(engine.feed_view(v))
    alerts.extend(engine.finish())
    return engine, [(a["group"]["user"], a["group"]["source_country"], a["event_ids"][0]) for a in alerts]


def test_first_login_alerts_and_a_country_alerts_again_only_after_the_history(spec):
    views = [view(1, T0, "US"), view(2, T0 + 10 * DAY, "US"), view(3, T0 + 11 * DAY, "DE"),
             view(4, T0 + 11 * DAY + 60, "DE"), view(5, T0 + 42 * DAY, "DE"),
             view(6, T0 + 40 * DAY + 1, "US")]  # just over 30 days after the last US login: new again
    _, alerts = run(spec, views)
    assert sorted(alerts) == [("alice", "DE", "e0003"), ("alice", "DE", "e0005"), ("alice", "US", "e0001"),
                              ("alice", "US", "e0006")]


def test_the_history_is_inclusive_and_a_parameter(spec):
    seen = [view(1, T0, "GB"), view(2, T0 + 30 * DAY, "GB")]
    assert len(run(spec, seen)[1]) == 1                        # exactly 30 days later: seen
    late = [view(1, T0, "GB"), view(2, T0 + 30 * DAY + 1, "GB")]
    assert len(run(spec, late)[1]) == 2
    assert len(run(spec, late, overrides={spec["id"]: {"window": "31d"}})[1]) == 1


def test_no_country_failures_and_other_users_never_enter_the_baseline(spec):
    views = [view(1, T0, None), view(2, T0 + 60, "US", outcome="failure"), view(3, T0 + 120, "US", user="bob"),
             view(4, T0 + 180, "US", account="444455556666"), view(5, T0 + 240, "US")]
    _, alerts = run(spec, views)
    assert sorted(alerts) == [("alice", "US", "e0004"), ("alice", "US", "e0005"), ("bob", "US", "e0003")]


def test_a_month_replayed_in_order_with_bounded_lateness_builds_the_baseline(spec):
    # 46 days of daily logins from the US, trips to Japan on day 5 and day 40, slightly out of order
    views = [view(d, T0 + d * DAY + (d % 3) * 300, "US") for d in range(46)]
    views += [view(100, T0 + 5 * DAY + 3600, "JP"), view(101, T0 + 40 * DAY + 3600, "JP"),
              view(102, T0 + 40 * DAY + 1800, "JP")]
    views.sort(key=lambda v: v["event_time"])
    views[10], views[11] = views[11], views[10]
    engine, alerts = run(spec, views, max_lateness=3600)
    assert sorted(alerts) == [("alice", "JP", "e0100"), ("alice", "JP", "e0102"), ("alice", "US", "e0000")]
    assert engine.stats["late"] == 0
    # the baseline holds what the last history window needs, nothing older
    (det_corr,) = [c for c in engine.correlators if isinstance(c, baseline.NewTerms)]
    assert sorted(k[2] for k, _ in det_corr.terms()) == ["JP", "US"]


def test_seeds_are_occurrences_and_a_seed_at_or_after_the_event_means_already_judged(spec):
    engine = Engine([spec])
    corr = engine.correlators[0]
    corr.seed(("111122223333", "alice", "US"), T0 - 5 * DAY)
    corr.seed(("111122223333", "alice", "DE"), T0 - 31 * DAY)
    corr.seed(("111122223333", "alice", "FR"), T0 + 60)        # the baseline already absorbed it
    for n, country in enumerate(("US", "DE", "FR")):
        engine.feed_view(view(n, T0, country))
    alerts = engine.finish()
    assert [(a["group"]["source_country"]) for a in alerts] == ["DE"]
    assert dict((k[2], t) for k, t in corr.terms()) == {"US": T0, "DE": T0, "FR": T0 + 60}


def test_replay_over_a_month_builds_the_baseline_on_both_platforms(tmp_path, geoip_db):
    """`awssignin replay` over five weeks of one user's daily logins (a log tree, files per day, the
    records of a file newest first as CloudTrail writes them in no order): the first login, and the
    trips abroad more than 30 days apart, alert; every other day is known, on Splunk and on Elastic."""
    import json

    from click.testing import CliRunner

    from harness.cli import main

    geoip_db({"198.51.100.0/24": "US", "203.0.113.0/24": "DE"})
    root = tmp_path / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2026"
    expected = set()
    for day in range(36):
        records = [login("us-%02d" % day, day, 8, "198.51.100.10")]
        if day in (3, 35):      # 32 days apart: new again
            records.append(login("de-%02d" % day, day, 12, "203.0.113.20"))
            expected.add("de-%02d" % day)
        folder = root / ("%02d" % (3 + day // 30)) / ("%02d" % (1 + day % 30))
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ("111122223333_CloudTrail_us-east-1_%02d.json" % day)).write_text(
            json.dumps({"Records": list(reversed(records))}), encoding="utf-8")
    expected.add("us-00")
    result = CliRunner().invoke(main, ["replay", str(tmp_path / "AWSLogs"), "--detections",
                                       "login_new_country_for_user", "--format", "jsonl"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    for platform in ("splunk", "elastic"):
        assert set(a["event_ids"][0] for a in alerts if a["platform"] == platform) == expected, platform


def login(event_id, day, hour, ip):
    """A successful IAM-user ConsoleLogin of alice on 2026-03-01 + ``day`` at ``hour``."""
    import datetime

    when = datetime.datetime(2026, 3, 1, hour, tzinfo=datetime.timezone.utc) + datetime.timedelta(days=day)
    return {
        "eventVersion": "1.09", "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
        "sourceIPAddress": ip, "userAgent": "Mozilla/5.0",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEALICEXXXX", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"},
        "eventID": event_id, "eventType": "AwsConsoleSignIn", "recipientAccountId": "111122223333",
    }
