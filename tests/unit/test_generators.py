"""The per-platform generators: what each makes of the predicate language, and what it refuses."""

import pytest

from harness.elastic import eql, kql, querygen
from harness.splunk import searchgen
from harness.splunk.spl import compile_search

SIGNIN = {"field": "event_source", "equals": "signin.amazonaws.com"}


def event(where, group_by=("account_id",)):
    return {"type": "event", "where": where, "group_by": list(group_by)}


def test_kql_quotes_values_and_parenthesises_alternatives():
    logic = event({"all": [SIGNIN, {"any": [{"field": "event_name", "equals": 'Say "hi"\\'},
                                            {"field": "event_name", "in": ["A", "B"]}]},
                           {"not": {"field": "user_agent", "contains": "Jersey/${project.version}"}}]})
    query = querygen.generate(logic).query
    assert query == ('data_stream.dataset: "aws.cloudtrail" and event.provider: "signin.amazonaws.com" and '
                     '(event.action: "Say \\"hi\\"\\\\" or event.action: ("A" or "B")) and '
                     'not user_agent.original: *Jersey/$\\{project.version\\}*')
    kql.check(query)
    match = kql.compile_kql(query)
    base = {"data_stream": {"dataset": "aws.cloudtrail"}, "event": {"provider": "signin.amazonaws.com", "action": "A"}}
    assert match(base)
    assert not match(dict(base, user_agent={"original": "aws-internal Jersey/${project.version}"}))
    assert match(dict(base, event={"provider": "signin.amazonaws.com", "action": 'Say "hi"\\'}))


def test_mfa_used_becomes_the_integrations_boolean_and_other_values_are_refused():
    query = querygen.generate(event({"field": "mfa_used", "equals": "No"})).query
    assert query.endswith("aws.cloudtrail.console_login.additional_eventdata.mfa_used: false")
    with pytest.raises(querygen.Untranslatable, match="mfa_used is written as true / false"):
        querygen.generate(event({"field": "mfa_used", "equals": "Maybe"}))


def test_user_exists_is_spelled_per_identity_type_and_other_user_operators_are_refused():
    query = querygen.generate(event({"field": "user", "exists": True})).query
    match = kql.compile_kql(query)
    ds = {"data_stream": {"dataset": "aws.cloudtrail"}}

    def doc(kind, name=None, arn=None):
        d = dict(ds, aws={"cloudtrail": {"user_identity": {"type": kind}}})
        if arn:
            d["aws"]["cloudtrail"]["user_identity"]["arn"] = arn
        if name:
            d["user"] = {"name": name}
        return d

    assert match(doc("IAMUser", "alice"))
    assert not match(doc("IAMUser", "HIDDEN_DUE_TO_SECURITY_REASONS"))
    assert not match(doc("IAMUser"))
    assert match(doc("AssumedRole", "Role", "arn:aws:sts::1:assumed-role/Role/s"))
    assert not match(doc("AssumedRole", "Role"))
    with pytest.raises(querygen.Untranslatable, match="only `exists` is supported on `user`"):
        querygen.generate(event({"field": "user", "equals": "alice"}))


def test_a_field_comparison_is_left_out_and_reported_and_refused_under_not():
    logic = event({"all": [SIGNIN, {"field": "request_user_name", "differs_from": "user_name"}]})
    generated = querygen.generate(logic)
    assert "user_name" not in generated.query and generated.approximations
    assert "cannot compare two fields" in generated.approximations[0]
    with pytest.raises(querygen.Untranslatable, match="negated field comparison"):
        querygen.generate(event({"not": {"field": "request_user_name", "differs_from": "user_name"}}))


def test_user_maps_to_the_field_that_means_user_for_the_identities_admitted():
    iam = querygen.generate(event({"all": [SIGNIN, {"field": "identity_type", "equals": "IAMUser"}]}, ["user"]))
    assert iam.group_fields == {"user": "user.name"} and not iam.approximate_user
    sessions = querygen.generate(event({"all": [SIGNIN, {"field": "event_name", "equals": "GetSigninToken"}]}, ["user"]))
    assert sessions.group_fields == {"user": "aws.cloudtrail.user_identity.arn"}
    burst = {"type": "threshold", "where": SIGNIN, "group_by": ["user"], "threshold": 3, "window": "5m"}
    mixed = querygen.generate(burst)
    assert mixed.group_fields == {"user": "user.name"} and mixed.approximate_user
    assert querygen.group_notes(burst, mixed)
    # a per-document alert holds every identity field: its user is told exactly, no note
    single = querygen.generate(event(SIGNIN, ["user"]))
    assert single.user_from_document and not querygen.group_notes(event(SIGNIN, ["user"]), single)


def test_alert_user_reads_the_views_user_from_a_document():
    def reader(**fields):
        return lambda name: fields.get(name)

    kind, arn, name = "aws.cloudtrail.user_identity.type", "aws.cloudtrail.user_identity.arn", "user.name"
    assert querygen.alert_user(reader(**{kind: "IAMUser", name: "alice"})) == "alice"
    assert querygen.alert_user(reader(**{kind: "IAMUser", name: "HIDDEN_DUE_TO_SECURITY_REASONS"})) is None
    assert querygen.alert_user(reader(**{kind: "Root", "cloud.account.id": "111122223333"})) == \
        "arn:aws:iam::111122223333:root"
    role = "arn:aws:sts::111122223333:assumed-role/Admin/jane"
    assert querygen.alert_user(reader(**{kind: "AssumedRole", name: "Admin", arn: role})) == role


def test_eql_sequence_with_runs_and_a_shared_join():
    failed = {"all": [SIGNIN, {"field": "outcome", "equals": "failure"}]}
    ok = {"all": [SIGNIN, {"field": "outcome", "equals": "success"}, {"field": "user_agent", "starts_with": "Mo"}]}
    logic = {"type": "sequence", "group_by": ["account_id"], "window": "15m", "differ": ["source_ip"], "steps": [
        {"name": "f", "where": failed, "by": ["account_id"], "min_count": 3},
        {"name": "s", "where": ok, "by": ["account_id"]}]}
    generated = querygen.generate(logic)
    assert generated.query.splitlines() == [
        "sequence by cloud.account.id with maxspan={window}",
        '  [any where data_stream.dataset == "aws.cloudtrail" and event.provider == "signin.amazonaws.com" and '
        'event.outcome == "failure"] with runs=3',
        '  [any where data_stream.dataset == "aws.cloudtrail" and event.provider == "signin.amazonaws.com" and '
        'event.outcome == "success" and startsWith(user_agent.original, "Mo")]']
    assert any("logic.differ" in a for a in generated.approximations)
    eql.parse_eql(generated.query.replace("{window}", "15m"))


def test_splunk_prefilter_keeps_positive_raw_terms_and_never_narrows():
    where = {"all": [SIGNIN, {"field": "event_name", "in": ["ConsoleLogin", "GetSigninToken"]},
                     {"field": "outcome", "equals": "success"},                  # derived: the command's
                     {"not": {"field": "user_agent", "contains": "Jersey"}},      # negation: never a prefilter
                     {"any": [{"field": "identity_type", "equals": "Root"}, {"field": "user", "exists": True}]},
                     {"field": "principal_id", "contains": ":i-"}]}
    search = searchgen.base_search(event(where))
    assert search == ('eventSource="signin.amazonaws.com" eventName IN ("ConsoleLogin", "GetSigninToken") '
                      'userIdentity.principalId="*:i-*"')
    compile_search(search)
    assert searchgen.base_search(event({"not": SIGNIN})) == "*"


def test_splunk_prefilter_of_a_sequence_is_the_union_of_its_steps():
    logic = {"type": "sequence", "group_by": ["account_id"], "window": "1h", "steps": [
        {"name": "a", "where": {"field": "event_source", "equals": "iam.amazonaws.com"}, "by": ["account_id"]},
        {"name": "b", "where": SIGNIN, "by": ["account_id"]}]}
    search = searchgen.base_search(logic)
    assert search == '(eventSource="iam.amazonaws.com") OR (eventSource="signin.amazonaws.com")'
    match = compile_search(search)
    assert match({"eventSource": "iam.amazonaws.com"}) and match({"eventSource": "signin.amazonaws.com"})
    assert not match({"eventSource": "s3.amazonaws.com"})


def test_an_untestable_part_only_ever_widens_the_rule():
    compare = {"field": "request_user_name", "differs_from": "user_name"}
    other = {"field": "event_name", "equals": "X"}
    # any [X, untestable] is "true": writing only X would be narrower than the logic
    assert querygen.generate(event({"all": [SIGNIN, {"any": [other, compare]}]})).query == \
        'data_stream.dataset: "aws.cloudtrail" and event.provider: "signin.amazonaws.com"'
    # under a negation, dropping it would narrow the rule: refused
    with pytest.raises(querygen.Untranslatable, match="negated field comparison"):
        querygen.generate(event({"all": [SIGNIN, {"not": {"all": [other, compare]}}]}))
    # two negations are positive again
    assert querygen.generate(event({"not": {"not": compare}})).approximations


def test_successful_logins_per_user_are_split_by_session_arn_on_elastic():
    logins = {"all": [SIGNIN, {"field": "outcome", "equals": "success"}]}
    burst = {"type": "distinct", "where": logins, "group_by": ["account_id", "user"], "distinct": "source_ip",
             "threshold": 2, "window": "10m"}
    generated = querygen.generate(burst)
    assert generated.group_fields["user"] == "user.name"
    assert generated.partition_fields == ["aws.cloudtrail.user_identity.arn"]
    assert not generated.approximate_user and any("arn" in n for n in querygen.group_notes(burst, generated))
    # failures may lack the ARN (AWS omits it on many failed logins): never split those by it
    failures = dict(burst, where={"all": [SIGNIN, {"field": "outcome", "equals": "failure"}]})
    assert querygen.generate(failures).partition_fields == []


def test_elasticsearch_refuses_the_field_comparison_the_generator_leaves_out():
    # the reason equals_field / differs_from are approximated, not written: Elasticsearch's EQL
    # verifier refuses a field on both sides of a comparison (reproduced by the local checker)
    from harness.elastic import mapping

    with pytest.raises(eql.EqlError, match="Comparisons against fields are not"):
        eql.compile_eql('any where user.target.name != user.name', field_type=mapping.field_type)
