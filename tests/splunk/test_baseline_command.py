"""The awssignin command with a new_terms detection's baseline, over the chunked protocol: rows of the
KV store lookup appended to the events (``inputlookup append=true``) seed the engine, and
``output=baseline`` returns the merged baseline for ``outputlookup`` (harness/splunk/baselinesearch.py)."""

import json
from pathlib import Path

import pytest

from awssignin import catalog
from harness.splunk.fieldview import field_view
from harness.splunk.scp import ScpError, run_command

DETECTION = "login_new_country_for_user"
DAY = 86400
NOW = "2026-04-07T09:40:05Z"
NOW_EPOCH = 1775554805


@pytest.fixture
def script(make_app):
    return make_app(catalog.select(catalog.load(), [DETECTION]))


def login(event_id, when, country, user="alice", ip="203.0.113.20"):
    record = {
        "eventVersion": "1.09", "eventTime": when, "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin", "awsRegion": "us-east-1", "sourceIPAddress": ip,
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSERID0001", "accountId": "111122223333",
                         "arn": "arn:aws:iam::111122223333:user/%s" % user, "userName": user},
        "responseElements": {"ConsoleLogin": "Success"}, "additionalEventData": {"MFAUsed": "Yes"},
        "eventID": event_id, "eventType": "AwsConsoleSignIn", "recipientAccountId": "111122223333",
    }
    view = field_view(record)
    view["Country"] = country          # what `iplocation sourceIPAddress` adds (a name)
    return view


def seed(country, last_seen, user="alice", detection=DETECTION):
    group = {"account_id": "111122223333", "user": user, "source_country": country}
    return {"baseline_detection": detection, "baseline_group": json.dumps(group, separators=(",", ":")),
            "baseline_last_seen": str(last_seen), "group_account_id": "111122223333", "group_user": user,
            "group_source_country": country}


def countries(result):
    return sorted(json.loads(r["group"])["source_country"] for r in result.records)


def test_a_group_in_the_baseline_within_the_history_does_not_alert(script):
    events = [login("e-de", NOW, "Germany"), login("e-gb", NOW, "United Kingdom", ip="203.0.113.140"),
              login("e-jp", NOW, "Japan", ip="192.0.2.10")]
    rows = [seed("DE", NOW_EPOCH - 3 * DAY), seed("GB", NOW_EPOCH - 31 * DAY), seed("JP", NOW_EPOCH + 60)]
    result = run_command(script, ["detection=%s" % DETECTION], events + rows)
    # DE seen 3 days ago; JP already in the baseline at a later time (an earlier run judged it)
    assert countries(result) == ["GB"]
    assert run_command(script, ["detection=%s" % DETECTION], events).records and \
        countries(run_command(script, ["detection=%s" % DETECTION], events)) == ["DE", "GB", "JP"]


def test_output_baseline_merges_the_lookup_and_the_events_and_drops_what_is_a_year_old(script):
    events = [login("e-de", NOW, "Germany"), login("e-de-old", "2026-04-01T10:00:00Z", "Germany")]
    rows = [seed("DE", NOW_EPOCH - 2 * DAY), seed("US", NOW_EPOCH - 10 * DAY, user="bob"),
            seed("FR", NOW_EPOCH - 367 * DAY), seed("GB", NOW_EPOCH - 40 * DAY),
            seed("SE", NOW_EPOCH - DAY, detection="other_detection")]
    result = run_command(script, ["detection=%s" % DETECTION, "output=baseline"], events + rows)
    got = sorted((json.loads(r["baseline_group"])["user"], json.loads(r["baseline_group"])["source_country"],
                  float(r["baseline_last_seen"]), r["group_source_country"]) for r in result.records)
    # kept for a year whatever the history, so a longer window= on the alert finds them
    assert got == [("alice", "DE", NOW_EPOCH, "DE"), ("alice", "GB", NOW_EPOCH - 40 * DAY, "GB"),
                   ("bob", "US", NOW_EPOCH - 10 * DAY, "US")]
    assert all(r["baseline_detection"] == DETECTION for r in result.records)


def test_a_bad_baseline_row_is_skipped_naming_the_field_and_costs_no_neighbour(script):
    bad_time = dict(seed("DE", 0), baseline_last_seen="yesterday")
    bad_group = dict(seed("GB", 0), baseline_group="{not json")
    events = [login("e-de", NOW, "Germany")]
    result = run_command(script, ["detection=%s" % DETECTION], events + [bad_time, bad_group])
    assert countries(result) == ["DE"]
    warning = " ".join(m for _, m in result.messages)
    assert "baseline_last_seen: not a number of epoch seconds" in warning and "baseline_group: not JSON" in warning


@pytest.mark.parametrize("args, message", [
    (["output=rows"], "output must be alerts or baseline, not 'rows'"),
    (["output=baseline", "indexed_within=10m"], "output=baseline returns the whole baseline"),
])
def test_bad_output_options_are_refused_at_getinfo(script, args, message):
    with pytest.raises(ScpError) as err:
        run_command(script, ["detection=%s" % DETECTION] + args, [])
    assert message in str(err.value)


def test_the_documented_bootstrap_is_the_generated_one_and_the_baseline_slices_tile_index_time():
    from harness.detections import load_all
    from harness.project import Layout
    from harness.splunk import appbuild, baselinesearch

    layout = Layout(Path(__file__).resolve().parents[2])
    det = next(d for d in load_all(layout.detections) if d.id == DETECTION)
    assert baselinesearch.bootstrap_search(det) in (layout.addon / "README.md").read_text(encoding="utf-8")
    settings = dict(baselinesearch.baseline_settings(det))
    now = 1775554800
    start = appbuild.resolve_relative(settings["dispatch.index_earliest"], now)
    end = appbuild.resolve_relative(settings["dispatch.index_latest"], now)
    # hourly runs over one hour of index time each: consecutive slices meet
    assert settings["cron_schedule"] == "0 * * * *" and end - start == 3600
    # an event enters the baseline only after every alert run that can judge it has run
    alert = appbuild.schedule(det)
    assert now - end >= appbuild.SEARCHABLE_DELAY + alert.interval
