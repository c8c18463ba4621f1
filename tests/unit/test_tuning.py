"""The site tuning file: validation, the Splunk local/ merge, the Elastic plan, and its local use by
`awssignin test --tuning` and `replay --tuning`."""

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from fixturedata import fixture_records
from harness.cli import main
from harness.detections import load_all
from harness.elastic.ecs import to_ecs
from harness.elastic.rules import rule_id
from harness.splunk import appbuild
from harness.splunk.appbuild import stanza_name
from harness.splunk.fieldview import field_view
from harness.splunk.spl import compile_search
from harness.tuning import TuningError, load
from harness.tuning import elastic as tuned_elastic
from harness.tuning import splunk as tuned_splunk
from harness.tuning.apply import TestRunTuning
from harness.tuning.localconf import LocalConfError, read_conf
from harness.testing import run_tests

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "detections" / "fixtures"


@pytest.fixture(scope="module")
def dets():
    return load_all(ROOT / "detections")


def by_id(dets, ident):
    return next(d for d in dets if d.id == ident)


def tuning_file(tmp_path, text, name="site.yml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_error(tmp_path, dets, text):
    path = tuning_file(tmp_path, text)
    with pytest.raises(TuningError) as info:
        load(path, dets)
    return path, str(info.value), info.value


# -- validation ---------------------------------------------------------------------------------

def test_an_unknown_detection_id_is_an_error_with_file_line_and_field(tmp_path, dets):
    path, text, err = load_error(tmp_path, dets, """\
        allow:
          - {name: office, source_ip: 203.0.113.8}
        detections:
          failed_login_for_user:
            threshold: 20
        """)
    assert text.startswith("%s:4: detections.failed_login_for_user: unknown detection id" % path)
    assert "failed_logins_for_user" in text      # the known ids are listed


def test_a_bad_cidr_is_an_error_at_its_line(tmp_path, dets):
    _, text, err = load_error(tmp_path, dets, """\
        allow:
          - name: office
            source_ip:
              - 203.0.113.0/24
              - 203.0.113.300
        """)
    assert err.line == 3 and err.field == "allow[0].source_ip"
    assert "203.0.113.300" in text


def test_a_network_with_host_bits_is_refused_with_the_network_it_means(tmp_path, dets):
    _, text, _ = load_error(tmp_path, dets, "allow:\n  - {name: office, source_ip: 10.1.2.3/8}\n")
    assert "did you mean 10.0.0.0/8" in text


def test_a_user_agent_alone_is_an_error(tmp_path, dets):
    _, text, err = load_error(tmp_path, dets, """\
        allow:
          - name: scanner
            source_ip: 192.0.2.1
            user_agent: Nessus
        """)
    assert err.field == "allow[0].user_agent" and err.line == 4
    assert "only together with a principal" in text


def test_an_account_written_as_a_number_is_refused(tmp_path, dets):
    _, text, err = load_error(tmp_path, dets, "allow:\n  - {name: sandbox, account: 111122223333}\n")
    assert err.field == "allow[0].account" and "in quotes" in text


def test_a_threshold_on_a_detection_without_one_is_an_error(tmp_path, dets):
    _, text, err = load_error(tmp_path, dets, "detections:\n  root_console_login:\n    threshold: 3\n")
    assert err.field == "detections.root_console_login.threshold" and err.line == 3
    assert "has no threshold" in text


def test_unknown_keys_wildcards_and_duplicate_names_are_errors(tmp_path, dets):
    _, text, err = load_error(tmp_path, dets, "allow:\n  - {name: x, source_ip: 192.0.2.1, sourceip: 192.0.2.2}\n")
    assert err.line == 2 and "sourceip" in text
    _, text, err = load_error(tmp_path, dets, """\
        allow:
          - name: ci
            principal: {arn: "arn:aws:sts::111122223333:assumed-role/CI/*"}
        """)
    assert "may not hold '*'" in text and err.field == "allow[0].principal.arn"
    _, text, err = load_error(tmp_path, dets, """\
        allow:
          - {name: office, source_ip: 192.0.2.1}
        detections:
          token_relay:
            allow:
              - {name: office, account: "111122223333"}
        """)
    assert err.field == "detections.token_relay.allow[0].name" and "already used by allow[0]" in text


def test_yaml_aliases_are_refused_like_in_detection_files(tmp_path, dets):
    _, text, _ = load_error(tmp_path, dets, """\
        allow:
          - &office {name: office, source_ip: 192.0.2.1}
          - *office
        """)
    assert "aliases" in text


def test_a_valid_file_gives_entries_and_checked_parameters(tmp_path, dets):
    tuning = load(tuning_file(tmp_path, """\
        allow:
          - {name: office, source_ip: [203.0.113.0/24, "2001:db8::/32"]}
        detections:
          failed_logins_for_user:
            threshold: 20
            window: 1800s
            allow:
              - name: monitor
                principal: {account: "111122223333", user_name: monitor}
                user_agent: Monitoring/1.0
        """), dets)
    assert [e.label for e in tuning.entries_for("failed_logins_for_user")] == ["office", "failed_logins_for_user/monitor"]
    assert [e.label for e in tuning.entries_for("token_relay")] == ["office"]
    # the engine's own check normalises the window, as the command and the rule receive it
    assert tuning.params_for("failed_logins_for_user") == {"threshold": 20, "window": "30m"}


# -- Splunk ---------------------------------------------------------------------------------------

SITE = """\
allow:
  - {name: office, source_ip: 203.0.113.8}
detections:
  failed_logins_for_user:
    threshold: 3
    allow:
      - name: monitor
        principal: {account: "111122223333", user_name: bob}
  token_relay:
    allow:
      - name: ci-broker
        principal: {arn: "arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-4411"}
        user_agent: python-requests/2.32.3
"""


def test_the_allowlist_macro_drops_exactly_the_allowed_events_on_the_field_view(tmp_path, dets):
    tuning = load(tuning_file(tmp_path, SITE), dets)
    definition = tuned_splunk.allowlist_definition(tuning.entries_for("token_relay"))
    assert definition.startswith("search NOT ")
    keep = compile_search(definition[len("search "):])
    records = fixture_records("token_relay/relay.json")
    dropped = [r["eventID"] for r in records if not keep(field_view(r))]
    ci = [r["eventID"] for r in records if r["userIdentity"].get("arn", "").endswith("ci-run-4411")
          and r.get("userAgent") == "python-requests/2.32.3"]
    assert ci and dropped == ci       # the console login of the same role has a browser user agent: kept


def test_the_tuned_search_calls_the_allowlist_before_the_command_and_passes_the_parameters(tmp_path, dets):
    tuning = load(tuning_file(tmp_path, SITE), dets)
    det = by_id(dets, "failed_logins_for_user")
    search = tuned_splunk.tuned_search(det, tuning.params_for(det.id))
    head, tail = search.split("| `failed_logins_for_user_allowlist` |")
    assert head.startswith("`aws_signin_cloudtrail` ")
    assert tail.strip().startswith("awssignin detection=failed_logins_for_user")
    assert "threshold=3" in tail and tail.endswith("| `failed_logins_for_user_filter`")


USER_MACROS = """\
# my indexes
[aws_signin_cloudtrail]
definition = (index=aws) sourcetype=aws:cloudtrail

[failed_logins_for_user_filter]
definition = search NOT group_user=svc
"""

USER_SEARCHES = """\
[%s]
# turned on by the SOC
disabled = 0
action.email.to = soc@example.com
"""


def test_tune_splunk_merges_into_local_and_keeps_the_users_stanzas_and_keys(tmp_path, dets):
    local = tmp_path / "awssignin" / "local"
    local.mkdir(parents=True)
    det = by_id(dets, "failed_logins_for_user")
    (local / "macros.conf").write_text(USER_MACROS, encoding="utf-8")
    (local / "savedsearches.conf").write_text(USER_SEARCHES % stanza_name(det), encoding="utf-8")
    path = tuning_file(tmp_path, SITE)
    result = CliRunner().invoke(main, ["tune", "splunk", "--tuning", str(path), "--out", str(local)])
    assert result.exit_code == 0, result.output
    macros, searches = read_conf(str(local / "macros.conf")), read_conf(str(local / "savedsearches.conf"))
    assert macros["aws_signin_cloudtrail"]["definition"] == "(index=aws) sourcetype=aws:cloudtrail"
    assert macros["failed_logins_for_user_filter"]["definition"] == "search NOT group_user=svc"
    assert macros["failed_logins_for_user_allowlist"]["definition"].startswith("search NOT ")
    stanza = searches[stanza_name(det)]
    assert stanza["disabled"] == "0" and stanza["action.email.to"] == "soc@example.com"
    assert "`failed_logins_for_user_allowlist`" in stanza["search"]
    text = (local / "macros.conf").read_text()
    assert text.startswith(USER_MACROS)          # the user's lines, comments included, byte for byte
    # a second run changes nothing
    again = CliRunner().invoke(main, ["tune", "splunk", "--tuning", str(path), "--out", str(local)])
    assert again.exit_code == 0 and again.output.count("unchanged") == 2


def test_dropping_a_detection_from_the_tuning_takes_back_only_what_tune_wrote(tmp_path, dets):
    local = tmp_path / "local"
    local.mkdir()
    det = by_id(dets, "failed_logins_for_user")
    (local / "savedsearches.conf").write_text(USER_SEARCHES % stanza_name(det), encoding="utf-8")
    tuned_splunk.write_local(load(tuning_file(tmp_path, SITE), dets), dets, local)
    smaller = tuning_file(tmp_path, "detections:\n  token_relay:\n    window: 20m\n", "smaller.yml")
    tuned_splunk.write_local(load(smaller, dets), dets, local)
    searches, macros = read_conf(str(local / "savedsearches.conf")), read_conf(str(local / "macros.conf"))
    assert searches[stanza_name(det)] == {"disabled": "0", "action.email.to": "soc@example.com"}
    assert "failed_logins_for_user_allowlist" not in macros
    assert "window=20m" in searches[stanza_name(by_id(dets, "token_relay"))]["search"]


def test_tune_splunk_never_writes_default_nor_over_a_users_own_search(tmp_path, dets):
    tuning = load(tuning_file(tmp_path, SITE), dets)
    with pytest.raises(LocalConfError, match="never to default"):
        tuned_splunk.write_local(tuning, dets, tmp_path / "app" / "default")
    local = tmp_path / "local"
    local.mkdir()
    det = by_id(dets, "token_relay")
    mine = "[%s]\nsearch = index=aws my own search | awssignin detection=token_relay\n" % stanza_name(det)
    (local / "savedsearches.conf").write_text(mine, encoding="utf-8")
    with pytest.raises(LocalConfError, match="already overrides search"):
        tuned_splunk.write_local(tuning, dets, local)
    assert (local / "savedsearches.conf").read_text() == mine
    assert not (local / "macros.conf").exists() or "allowlist" not in (local / "macros.conf").read_text()


# -- Elastic --------------------------------------------------------------------------------------

def test_exception_items_use_the_documented_entry_types_and_ecs_fields(tmp_path, dets):
    tuning = load(tuning_file(tmp_path, """\
        allow:
          - {name: office, source_ip: [203.0.113.0/24, 198.51.100.7]}
          - name: people
            principal: [{arn: "arn:aws:iam::111122223333:user/a"}, {account: "111122223333", user_name: b}]
            user_agent: Monitoring/1.0
        """), dets)
    office, people = tuning.entries
    [item] = tuned_elastic.items_of(office)
    assert item["list_id"] == tuned_elastic.SHARED_LIST_ID and item["type"] == "simple"
    assert item["entries"] == [{"field": "source.ip", "operator": "included", "type": "match_any",
                                "value": ["203.0.113.0/24", "198.51.100.7"]}]
    first, second = tuned_elastic.items_of(people)      # OR between principals: two items
    assert [e["field"] for e in first["entries"]] == ["aws.cloudtrail.user_identity.arn", "user_agent.original"]
    assert [e["field"] for e in second["entries"]] == ["aws.cloudtrail.user_identity.type", "user.name",
                                                       "cloud.account.id", "user_agent.original"]
    assert {e["type"] for item in (first, second) for e in item["entries"]} == {"match"}


def test_the_plan_links_lists_to_rules_and_overrides_rule_fields(tmp_path, dets):
    plan = tuned_elastic.elastic_plan(load(tuning_file(tmp_path, SITE), dets), dets)
    assert {lst["list_id"] for lst in plan["lists"]} == {
        "awssignin-tuning-shared", "awssignin-tuning-failed_logins_for_user", "awssignin-tuning-token_relay"}
    relay = plan["rules"][rule_id("token_relay")]
    assert relay["exception_lists"] == ["awssignin-tuning-shared", "awssignin-tuning-token_relay"]
    assert plan["rules"][rule_id("root_console_login")]["exception_lists"] == ["awssignin-tuning-shared"]
    assert plan["rules"][rule_id("failed_logins_for_user")]["fields"]["threshold"]["value"] == 3
    assert plan["rules"][rule_id("root_console_login")]["fields"] == {}


def test_linking_keeps_the_users_own_exception_lists():
    theirs = {"id": "u1", "list_id": "my-exceptions", "namespace_type": "single", "type": "detection"}
    stale = {"id": "old", "list_id": "awssignin-tuning-token_relay", "namespace_type": "single", "type": "detection"}
    linked = tuned_elastic.linked_exceptions([theirs, stale], ["awssignin-tuning-shared"],
                                             {"awssignin-tuning-shared": "s1"})
    assert linked == [theirs, {"id": "s1", "list_id": "awssignin-tuning-shared", "namespace_type": "single",
                               "type": "detection"}]
    with pytest.raises(ValueError, match="create it first"):
        tuned_elastic.linked_exceptions([], ["awssignin-tuning-x"], {})


def test_an_exception_item_matches_the_ecs_document_by_network_and_exact_value(tmp_path, dets):
    tuning = load(tuning_file(tmp_path, SITE), dets)
    office = tuning.entries[0]
    records = fixture_records("failed_logins_for_user/distributed_guessing.json")
    match = tuned_elastic.entry_matcher(office)
    assert [r["eventID"] for r in records if match(to_ecs(r))] == [
        r["eventID"] for r in records if r.get("sourceIPAddress") == "203.0.113.8"]


# -- local use --------------------------------------------------------------------------------------

def test_test_tuning_removes_the_alert_on_both_platforms_and_counts_it_per_entry(layout, tmp_path, dets):
    tuning = load(tuning_file(tmp_path, "allow:\n  - {name: office, source_ip: 203.0.113.0/24}\n"), dets)
    det = by_id(dets, "failed_logins_for_user")
    tested = TestRunTuning(layout, tuning, [det])
    try:
        outcomes = run_tests(layout, [det], tuning=tested, workers=1)
    finally:
        tested.close()
    assert all(o.status == "pass" for o in outcomes)        # the pack's own expectations still hold
    first = det.data["tests"][0]["name"]
    rows = dict(((d, t, p), (before, after, events)) for d, t, p, before, after, events, _ in tested.rows)
    for platform in ("splunk", "elastic"):
        before, after, events = rows[(det.id, first, platform)]
        assert (before, after) == (1, 0)                    # alice's 11 failures drop to 4
        assert tested.alerts[(platform, "office")] >= 1
    # on the tests both platforms run, the entry removed the same events on each
    both = [(d, t) for d, t, p in rows if p == "elastic"]
    assert both and all(rows[(d, t, "splunk")][2] == rows[(d, t, "elastic")][2] for d, t in both)


def test_tuned_parameters_reach_the_splunk_command_and_the_kibana_rule(layout, tmp_path, dets):
    tuning = load(tuning_file(tmp_path, "detections:\n  failed_logins_for_user:\n    threshold: 9\n"), dets)
    det = by_id(dets, "failed_logins_for_user")
    records = fixture_records("failed_logins_for_user/nine_failures_duplicate_delivery.json")
    tested = TestRunTuning(layout, tuning, [det])
    try:
        test = {"name": "bob", "expect": []}
        for platform in ("splunk", "elastic"):
            alerts = tested.run(platform, tested.runner(platform), det, test, records, [])
            assert [a["group"]["user"] for a in alerts] == ["bob"], platform
    finally:
        tested.close()


def test_replay_with_tuning_suppresses_and_reports_per_entry(tmp_path):
    path = tuning_file(tmp_path, "allow:\n  - {name: office, source_ip: 203.0.113.0/24}\n")
    args = ["replay", str(FIXTURES / "failed_logins_for_user" / "distributed_guessing.json"), "--format", "jsonl",
            "--detections", "failed_logins_for_user"]
    plain = CliRunner().invoke(main, args, catch_exceptions=False)
    tuned = CliRunner().invoke(main, args + ["--tuning", str(path)], catch_exceptions=False)
    assert plain.exit_code == 0 and tuned.exit_code == 0, tuned.stderr
    count = lambda r: len([line for line in r.stdout.splitlines() if line.startswith("{")])
    assert count(plain) == 2 and count(tuned) == 0
    for platform in ("splunk", "elastic"):
        assert "%s allowlist office removed events of failed_logins_for_user:" % platform in tuned.stderr


def test_a_bad_tuning_file_stops_test_and_replay_with_its_location(tmp_path):
    path = tuning_file(tmp_path, "detections:\n  nope: {threshold: 2}\n")
    for args in (["test", "root_console_login", "--tuning", str(path)],
                 ["replay", str(FIXTURES / "root_console_login"), "--tuning", str(path)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert "%s:2: detections.nope: unknown detection id" % path in result.output + (result.stderr or "")


def test_the_documented_example_is_a_valid_tuning_file(dets):
    tuning = load(ROOT / "docs" / "tuning.example.yml", dets)
    assert {e.label for e in tuning.entries} >= {"office-egress", "token_relay/identity-broker"}
    assert tuning.params_for("failed_logins_for_user") == {"threshold": 20, "window": "30m"}


def test_a_tuned_window_also_widens_the_searched_range_and_is_taken_back_with_it(tmp_path, dets):
    det = by_id(dets, "failed_logins_for_user")
    local = tmp_path / "local"
    wide = tuning_file(tmp_path, "detections:\n  failed_logins_for_user:\n    window: 45m\n")
    tuned_splunk.write_local(load(wide, dets), dets, local)
    stanza = read_conf(str(local / "savedsearches.conf"))[stanza_name(det)]
    shipped = dict(appbuild.saved_search_settings(det))
    assert stanza["dispatch.earliest_time"] != shipped["dispatch.earliest_time"]
    assert int(stanza["dispatch.earliest_time"].strip("-m@")) - int(shipped["dispatch.earliest_time"].strip("-m@")) == 30
    assert "window=45m" in stanza["search"]
    narrow = tuning_file(tmp_path, "detections:\n  failed_logins_for_user:\n    threshold: 12\n", "narrow.yml")
    tuned_splunk.write_local(load(narrow, dets), dets, local)
    stanza = read_conf(str(local / "savedsearches.conf"))[stanza_name(det)]
    assert set(stanza) == {"search"} and "threshold=12" in stanza["search"]


def test_a_window_that_would_change_a_users_own_setting_is_an_error(tmp_path, dets):
    det = by_id(dets, "failed_logins_for_user")
    local = tmp_path / "local"
    local.mkdir()
    mine = "[%s]\ndispatch.earliest_time = -3h@h\n" % stanza_name(det)
    (local / "savedsearches.conf").write_text(mine, encoding="utf-8")
    wide = tuning_file(tmp_path, "detections:\n  failed_logins_for_user:\n    window: 45m\n")
    with pytest.raises(LocalConfError, match="already sets dispatch.earliest_time"):
        tuned_splunk.write_local(load(wide, dets), dets, local)
    assert (local / "savedsearches.conf").read_text() == mine


@pytest.mark.parametrize("text, field, words", [
    ("allow:\n  - {name: a, principal: {user_name: bob}}\n", "allow[0].principal", "a principal is {arn"),
    ("allow:\n  - {name: a}\n", "allow[0]", "at least one of source_ip"),
    ("allow:\n  - {name: a, account: \"12345\"}\n", "allow[0].account", "12 digits"),
    ("detections:\n  token_relay:\n    window: 15 minutes\n", "detections.token_relay.window", "does not match"),
])
def test_shape_errors_say_what_is_expected(tmp_path, dets, text, field, words):
    _, message, err = load_error(tmp_path, dets, text)
    assert err.field == field and words in message and err.line is not None


def test_tune_splunk_check_writes_nothing_and_fails_until_the_files_match(tmp_path):
    local = tmp_path / "local"
    path = tuning_file(tmp_path, SITE)
    args = ["tune", "splunk", "--tuning", str(path), "--out", str(local)]
    first = CliRunner().invoke(main, args + ["--check"])
    assert first.exit_code == 1 and "differs" in first.output and not local.exists()
    assert CliRunner().invoke(main, args).exit_code == 0
    again = CliRunner().invoke(main, args + ["--check"])
    assert again.exit_code == 0 and again.output.count("unchanged") == 2
