"""EQL evaluated with Elasticsearch's semantics (harness.elastic.eql).

Each test pins one behaviour documented for Elasticsearch EQL (EQL syntax reference, function
reference, "How sequence queries handle matches") that a rule author relies on.
"""
import pytest

from harness.elastic.eql import (
    EqlDataError, EqlSyntaxError, EqlUnknownField, EqlUnsupported, EqlVerificationError,
    check, compile_eql, fields_referenced, parse_eql,
)

# Mapping types as the AWS integration's CloudTrail data stream declares them (subset).
MAPPING = {
    "@timestamp": "date",
    "event.ingested": "date",
    "event.category": "keyword",
    "event.type": "keyword",
    "event.action": "keyword",
    "event.outcome": "keyword",
    "event.provider": "keyword",
    "event.dataset": "constant_keyword",
    "event.id": "keyword",
    "user.id": "keyword",
    "user.name": "keyword",
    "related.user": "keyword",
    "source.ip": "ip",
    "source.address": "keyword",
    "cloud.account.id": "keyword",
    "aws.cloudtrail.user_identity.type": "keyword",
    "aws.cloudtrail.user_identity.arn": "keyword",
    "aws.cloudtrail.user_identity.session_context.mfa_authenticated": "keyword",
    "aws.cloudtrail.console_login.additional_eventdata.mfa_used": "boolean",
    "aws.cloudtrail.flattened.response_elements.ConsoleLogin": "flattened",
}
field_type = MAPPING.get

ASSUMED_ROLE_RULE = (
    'info where event.dataset == "aws.cloudtrail" and event.provider == "signin.amazonaws.com"'
    ' and event.action in ("ConsoleLogin", "GetSigninToken") and event.outcome == "success"'
    ' and aws.cloudtrail.user_identity.type == "AssumedRole" and stringContains(user.id, ":i-")'
)


def ecs(action="ConsoleLogin", outcome="success", identity="IAMUser", user_id="AIDAEXAMPLE",
        user_name="alice", ts="2024-05-01T10:00:00.000Z", ip="198.51.100.7", event_id="e-1",
        account="123456789012", **extra):
    """An ECS document shaped like the AWS integration's logs-aws.cloudtrail-* _source."""
    doc = {
        "@timestamp": ts,
        "ecs": {"version": "8.11.0"},
        "data_stream": {"type": "logs", "dataset": "aws.cloudtrail", "namespace": "default"},
        "event": {
            "action": action, "provider": "signin.amazonaws.com", "outcome": outcome,
            "type": ["info"], "kind": "event", "dataset": "aws.cloudtrail", "module": "aws",
            "id": event_id, "created": "2024-05-01T10:05:00.000Z",
        },
        "cloud": {"account": {"id": account}, "region": "us-east-1", "provider": "aws"},
        "source": {"address": ip, "ip": ip},
        "user": {"id": user_id, "name": user_name},
        "related": {"user": [user_name]},
        "user_agent": {"original": "Mozilla/5.0 (X11; Linux x86_64)"},
        "aws": {"cloudtrail": {
            "event_type": "AwsConsoleSignIn",
            "user_identity": {"type": identity,
                              "arn": f"arn:aws:iam::{account}:user/{user_name}"},
        }},
    }
    if action == "ConsoleLogin":    # the pipeline categorises ConsoleLogin only
        doc["event"]["category"] = ["authentication"]
        doc["aws"]["cloudtrail"]["flattened"] = {
            "response_elements": {"ConsoleLogin": "Success" if outcome == "success" else "Failure"}}
    for dotted, value in extra.items():
        node = doc
        *path, last = dotted.split("__")
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return doc


def matches(query, doc, **kw):
    return compile_eql(query, **kw).match(doc)


def ids(results):
    return [[d["event"]["id"] for d in seq] for seq in results]


# --- comparisons and case sensitivity --------------------------------------------------------

def test_double_equals_is_case_sensitive_and_colon_is_not():
    doc = ecs(identity="AssumedRole")
    assert matches('any where aws.cloudtrail.user_identity.type == "AssumedRole"', doc)
    assert not matches('any where aws.cloudtrail.user_identity.type == "assumedrole"', doc)
    assert matches('any where aws.cloudtrail.user_identity.type : "assumedrole"', doc)


def test_double_equals_treats_star_literally_while_colon_expands_wildcards():
    doc = ecs(user_id="AROAEXAMPLE:i-0abc")
    assert not matches('any where user.id == "AROA*"', doc)
    assert matches('any where user.id : "aroa*:i-????"', doc)
    assert not matches('any where user.id : "aroa*:i-???"', doc)    # ? is exactly one character


def test_colon_list_form_is_case_insensitive_any_of():
    doc = ecs(action="GetSigninToken")
    assert matches('any where event.action : ("consolelogin", "getsignin*")', doc)
    assert not matches('any where event.action : ("consolelogin", "passwordupdated")', doc)


def test_in_is_case_sensitive_and_in_tilde_is_not():
    doc = ecs(action="ConsoleLogin")
    assert matches('any where event.action in ("ConsoleLogin", "GetSigninToken")', doc)
    assert not matches('any where event.action in ("consolelogin", "getsignintoken")', doc)
    assert matches('any where event.action in~ ("consolelogin", "getsignintoken")', doc)


def test_not_in_excludes_listed_values():
    assert not matches('any where event.action not in ("ConsoleLogin")', ecs())
    assert matches('any where event.action not in ("ConsoleLogin")', ecs(action="GetSigninToken"))
    assert not matches('any where event.action not in~ ("consolelogin")', ecs())


def test_like_is_case_sensitive_wildcard_and_like_tilde_is_not():
    doc = ecs(user_agent__original="Mozilla/5.0 (Macintosh)")
    assert matches('any where user_agent.original like "Mozilla/*"', doc)
    assert not matches('any where user_agent.original like "mozilla/*"', doc)
    assert matches('any where user_agent.original like~ "mozilla/*"', doc)
    assert matches('any where user_agent.original like ("curl*", "Mozilla/?.0*")', doc)


def test_string_functions_are_case_sensitive_unless_tilde():
    doc = ecs(user_id="AROAEXAMPLE:i-0abc")
    assert matches('any where stringContains(user.id, ":i-")', doc)
    assert not matches('any where stringContains(user.id, ":I-")', doc)
    assert matches('any where stringContains~(user.id, ":I-")', doc)
    assert matches('any where startsWith(user.id, "AROA") and endsWith(user.id, "0abc")', doc)
    assert not matches('any where startsWith(user.id, "aroa")', doc)
    assert matches('any where startsWith~(user.id, "aroa") and endsWith~(user.id, "0ABC")', doc)


def test_function_names_are_not_case_sensitive():
    assert matches('any where stringcontains(user.id, "EXAMPLE")', ecs(user_id="AIDAEXAMPLE"))


def test_cidr_match_on_ip_field():
    assert matches('any where cidrMatch(source.ip, "10.0.0.0/8", "198.51.100.0/24")', ecs())
    assert not matches('any where cidrMatch(source.ip, "10.0.0.0/8")', ecs())
    # a source.address that is a hostname never becomes source.ip: no value, no match
    doc = ecs(ip="signin.amazonaws.com")
    del doc["source"]["ip"]
    assert not matches('any where cidrMatch(source.ip, "0.0.0.0/0")', doc)


def test_ranges_compare_strings_lexicographically_case_sensitively():
    doc = ecs(user_name="bob")
    assert matches('any where user.name > "alice"', doc)
    assert not matches('any where user.name > "Zed" and user.name < "Zzz"', doc)


# --- arrays, missing fields, null --------------------------------------------------------------

def test_array_fields_match_on_any_element():
    doc = ecs(related__user=["alice", "AssumedRoleSession"])
    assert matches('any where related.user == "AssumedRoleSession"', doc)
    assert matches('any where related.user : "assumed*"', doc)
    # != is the negation of == (must_not): an array holding the value does not match
    assert not matches('any where related.user != "alice"', doc)


def test_not_and_not_equals_match_documents_without_the_field():
    doc = ecs()
    del doc["user"]["name"]
    assert not matches('any where user.name == "alice"', doc)
    assert matches('any where not user.name == "alice"', doc)
    assert matches('any where user.name != "alice"', doc)
    assert matches('any where not stringContains(user.name, "ali")', doc)


def test_null_comparisons_test_presence():
    doc = ecs()
    del doc["user"]["name"]
    assert matches("any where user.name == null", doc)
    assert not matches("any where user.name != null", doc)
    assert matches("any where user.id != null", doc)


def test_optional_field_absent_from_mapping_is_null():
    doc = ecs(tls__cipher="TLS_AES_128_GCM_SHA256")
    # tls.cipher is in the document but not the mapping: with ? it is the constant null
    assert not matches("any where ?tls.cipher != null", doc, field_type=field_type)
    assert matches("any where ?tls.cipher == null", doc, field_type=field_type)
    assert not matches('any where not ?tls.cipher == "x"', doc, field_type=field_type)


def test_unknown_field_without_question_mark_is_an_error():
    with pytest.raises(EqlUnknownField) as exc:
        check('any where event.action == "ConsoleLogin" and tls.cipher == "x"', field_type)
    assert exc.value.field == "tls.cipher"
    assert (exc.value.line, exc.value.column) == (1, 46)
    check('any where event.action == "ConsoleLogin" and ?tls.cipher == "x"', field_type)


def test_unmapped_category_field_is_an_error():
    with pytest.raises(EqlUnknownField) as exc:
        check('info where true', field_type, category_field="event.kind")
    assert exc.value.field == "event.kind"


# --- event category ----------------------------------------------------------------------------

def test_category_override_matches_any_element_of_event_type():
    token = ecs(action="GetSigninToken")                 # no event.category at all
    assert matches("info where true", token, category_field="event.type")
    assert not matches("info where true", token)          # default event.category: absent
    assert not matches("authentication where true", token)
    assert matches("authentication where true", ecs())     # ConsoleLogin: ["authentication"]


def test_category_is_case_sensitive():
    assert not matches("Authentication where true", ecs())


def test_any_where_matches_documents_without_a_category():
    token = ecs(action="GetSigninToken")
    assert "category" not in token["event"]
    assert matches('any where event.action == "GetSigninToken"', token)


# --- logic -------------------------------------------------------------------------------------

def test_not_binds_tighter_than_and_which_binds_tighter_than_or():
    doc = ecs(action="GetSigninToken", outcome="failure")
    # (not A) and B  -- not ((not A) ... ) would differ
    assert not matches('any where not event.action == "GetSigninToken" and event.outcome == "failure"', doc)
    # A or (B and C)
    assert matches('any where event.action == "GetSigninToken" or event.outcome == "x" and false', doc)
    assert not matches('any where (event.action == "GetSigninToken" or event.outcome == "x") and false', doc)


# --- the Elastic prebuilt rule -------------------------------------------------------------------

@pytest.mark.parametrize("doc, expected", [
    (ecs(identity="AssumedRole", user_id="AROAEXAMPLEROLEID:i-0123456789abcdef0"), True),
    (ecs(action="GetSigninToken", identity="AssumedRole",
         user_id="AROAEXAMPLEROLEID:i-0123456789abcdef0"), True),
    (ecs(identity="AssumedRole", user_id="AROAEXAMPLEROLEID:alice@example.com"), False),
    (ecs(identity="AssumedRole", outcome="failure",
         user_id="AROAEXAMPLEROLEID:i-0123456789abcdef0"), False),
    (ecs(identity="IAMUser", user_id="AIDAEXAMPLE:i-0123456789abcdef0"), False),
    (ecs(action="SwitchRole", identity="AssumedRole",
         user_id="AROAEXAMPLEROLEID:i-0123456789abcdef0"), False),
])
def test_aws_ec2_instance_console_login_via_assumed_role(doc, expected):
    check(ASSUMED_ROLE_RULE, field_type, category_field="event.type")
    assert matches(ASSUMED_ROLE_RULE, doc, category_field="event.type",
                   field_type=field_type) is expected


def test_assumed_role_rule_needs_the_category_override_for_get_signin_token():
    token = ecs(action="GetSigninToken", identity="AssumedRole",
                user_id="AROAEXAMPLEROLEID:i-0123456789abcdef0")
    assert not matches(ASSUMED_ROLE_RULE, token)           # event.category is absent


# --- documents -----------------------------------------------------------------------------------

def test_constant_keyword_matches_documents_whose_source_lacks_it():
    doc = ecs()
    del doc["event"]["dataset"]
    q = 'any where event.dataset == "aws.cloudtrail"'
    constants = {"event.dataset": "aws.cloudtrail"}.get
    assert matches(q, doc, field_type=field_type, constant_value=constants)
    assert not matches(q, doc, field_type=field_type)    # without the mapped constant


def test_dotted_keys_stored_literally_resolve():
    doc = ecs()
    doc["aws"]["cloudtrail"]["flattened"] = {"response_elements.ConsoleLogin": "Failure"}
    assert matches('any where aws.cloudtrail.flattened.response_elements.ConsoleLogin == "Failure"', doc)
    assert matches('any where aws.cloudtrail.user_identity.type == "IAMUser"',
                   {"aws.cloudtrail.user_identity.type": "IAMUser"})


def test_run_returns_single_events_in_time_order_with_head_and_tail():
    docs = [ecs(ts="2024-05-01T10:00:03Z", event_id="c"), ecs(ts="2024-05-01T10:00:01Z", event_id="a"),
            ecs(ts="2024-05-01T10:00:02Z", event_id="b")]
    q = 'authentication where event.outcome == "success"'
    assert ids(compile_eql(q).run(docs)) == [["a"], ["b"], ["c"]]
    assert ids(compile_eql(q + " | head 2").run(docs)) == [["a"], ["b"]]
    assert ids(compile_eql(q + " | tail 1").run(docs)) == [["c"]]


def test_document_without_timestamp_is_reported():
    doc = ecs()
    del doc["@timestamp"]
    with pytest.raises(EqlDataError, match="@timestamp"):
        compile_eql("any where true").run([doc])


# --- sequences -----------------------------------------------------------------------------------

FAIL_THEN_SUCCESS = '''sequence by user.name with maxspan=5m
  [authentication where event.outcome == "failure"]
  [authentication where event.outcome == "success"]'''


def test_sequence_matches_in_timestamp_order_whatever_the_input_order():
    docs = [ecs(ts="2024-05-01T10:01:00Z", event_id="ok"),
            ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="bad")]
    assert ids(compile_eql(FAIL_THEN_SUCCESS).run(docs)) == [["bad", "ok"]]


def test_join_keys_are_never_null():
    a = ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="f")
    b = ecs(ts="2024-05-01T10:01:00Z", event_id="s")
    for d in (a, b):
        del d["user"]["name"]
    assert compile_eql(FAIL_THEN_SUCCESS).run([a, b]) == []
    optional = FAIL_THEN_SUCCESS.replace("by user.name", "by ?user.name")
    assert ids(compile_eql(optional).run([a, b])) == [["f", "s"]]


def test_join_keys_are_compared_exactly():
    docs = [ecs(ts="2024-05-01T10:00:00Z", outcome="failure", user_name="Alice", event_id="f"),
            ecs(ts="2024-05-01T10:01:00Z", user_name="alice", event_id="s")]
    assert compile_eql(FAIL_THEN_SUCCESS).run(docs) == []


def test_maxspan_boundary_is_inclusive():
    q = compile_eql(FAIL_THEN_SUCCESS)
    fail = ecs(ts="2024-05-01T10:00:00.000Z", outcome="failure", event_id="f")
    at_limit = ecs(ts="2024-05-01T10:05:00.000Z", event_id="s")
    past_limit = ecs(ts="2024-05-01T10:05:00.001Z", event_id="s")
    assert ids(q.run([fail, at_limit])) == [["f", "s"]]
    assert q.run([fail, past_limit]) == []


def test_maxspan_counts_from_the_first_event_of_the_sequence():
    q = compile_eql('''sequence by user.name with maxspan=5m
      [authentication where event.outcome == "failure"]
      [authentication where event.outcome == "failure"]
      [authentication where event.outcome == "success"]''')
    docs = [ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="f1"),
            ecs(ts="2024-05-01T10:04:00Z", outcome="failure", event_id="f2"),
            ecs(ts="2024-05-01T10:08:00Z", event_id="s")]     # 4 min after f2, 8 after f1
    assert q.run(docs) == []


def test_until_cancels_a_partial_sequence_but_not_a_completed_one():
    q = compile_eql(FAIL_THEN_SUCCESS + '\nuntil [any where event.action == "PasswordUpdated"]')
    fail = ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="f")
    reset = ecs(ts="2024-05-01T10:00:30Z", action="PasswordUpdated", event_id="u")
    ok = ecs(ts="2024-05-01T10:01:00Z", event_id="s")
    later_reset = ecs(ts="2024-05-01T10:02:00Z", action="PasswordUpdated", event_id="u2")
    assert q.run([fail, reset, ok]) == []
    assert ids(q.run([fail, ok, later_reset])) == [["f", "s"]]
    other_user = ecs(ts="2024-05-01T10:00:30Z", action="PasswordUpdated", user_name="bob",
                     event_id="u")
    assert ids(q.run([fail, other_user, ok])) == [["f", "s"]]   # until is per join key


def test_latest_partial_sequence_per_key_replaces_the_older_one():
    docs = [ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="f1"),
            ecs(ts="2024-05-01T10:02:00Z", outcome="failure", event_id="f2"),
            ecs(ts="2024-05-01T10:03:00Z", event_id="s1"),
            ecs(ts="2024-05-01T10:04:00Z", event_id="s2")]
    # f2 overwrites f1 in the first state; s2 finds nothing pending
    assert ids(compile_eql(FAIL_THEN_SUCCESS).run(docs)) == [["f2", "s1"]]


def test_documented_state_machine_example():
    # the data set of Elasticsearch's "How sequence queries handle matches" example
    rows = [("root", "attrib"), ("root", "attrib"), ("elkbee", "bash"), ("root", "bash"),
            ("root", "bash"), ("elkbee", "attrib"), ("root", "attrib"), ("elkbee", "bash"),
            ("root", "cat"), ("elkbee", "cat"), ("root", "cat")]
    docs = [{"@timestamp": f"2099-12-06T11:04:{i:02d}.000Z", "event": {"category": "process", "id": str(i + 1)},
             "user": {"name": u}, "process": {"name": p}} for i, (u, p) in enumerate(rows)]
    q = compile_eql('''sequence by user.name
      [process where process.name == "attrib"]
      [process where process.name == "bash"]
      [process where process.name == "cat"]''')
    assert ids(q.run(docs)) == [["2", "4", "9"], ["6", "8", "10"]]


def test_per_stage_by_keys_join_different_fields():
    q = compile_eql('''sequence with maxspan=10m
      [any where event.action == "GetSigninToken"] by user.id
      [authentication where event.action == "ConsoleLogin"] by aws.cloudtrail.user_identity.arn''')
    token = ecs(action="GetSigninToken", ts="2024-05-01T10:00:00Z", event_id="t",
                user_id="arn:aws:sts::123456789012:assumed-role/Admin/alice")
    login = ecs(ts="2024-05-01T10:00:05Z", event_id="l", aws__cloudtrail__user_identity={
        "type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/alice"})
    assert ids(q.run([token, login])) == [["t", "l"]]


def test_tiebreaker_orders_events_with_equal_timestamps():
    q = compile_eql(FAIL_THEN_SUCCESS)
    ok = ecs(ts="2024-05-01T10:00:00Z", event_id="s", event__sequence=1)
    fail = ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="f", event__sequence=2)
    assert q.run([ok, fail], tiebreaker_field="event.sequence") == []
    fail["event"]["sequence"] = 0
    assert ids(q.run([ok, fail], tiebreaker_field="event.sequence")) == [["f", "s"]]


def test_with_runs_repeats_a_stage():
    q = compile_eql('''sequence by user.name with maxspan=5m
      [authentication where event.outcome == "failure"] with runs=3
      [authentication where event.outcome == "success"]''')
    fails = [ecs(ts=f"2024-05-01T10:00:0{i}Z", outcome="failure", event_id=f"f{i}") for i in range(3)]
    ok = ecs(ts="2024-05-01T10:01:00Z", event_id="s")
    assert ids(q.run(fails + [ok])) == [["f0", "f1", "f2", "s"]]
    assert q.run(fails[:2] + [ok]) == []


def test_multi_valued_join_key_joins_on_each_value():
    q = compile_eql('''sequence by related.user
      [authentication where event.outcome == "failure"]
      [authentication where event.outcome == "success"]''')
    fail = ecs(ts="2024-05-01T10:00:00Z", outcome="failure", event_id="f", related__user=["bob"])
    ok = ecs(ts="2024-05-01T10:00:10Z", event_id="s", related__user=["alice", "bob"])
    assert ids(q.run([fail, ok])) == [["f", "s"]]


def test_sequence_head_pipe_limits_sequences():
    docs = [ecs(ts="2024-05-01T10:00:00Z", outcome="failure", user_name="a", event_id="fa"),
            ecs(ts="2024-05-01T10:00:01Z", outcome="failure", user_name="b", event_id="fb"),
            ecs(ts="2024-05-01T10:00:02Z", user_name="b", event_id="sb"),
            ecs(ts="2024-05-01T10:00:03Z", user_name="a", event_id="sa")]
    assert ids(compile_eql(FAIL_THEN_SUCCESS).run(docs)) == [["fa", "sa"], ["fb", "sb"]]
    assert ids(compile_eql(FAIL_THEN_SUCCESS + " | head 1").run(docs)) == [["fa", "sa"]]


def test_match_is_refused_for_sequences():
    with pytest.raises(Exception, match="run"):
        compile_eql(FAIL_THEN_SUCCESS).match(ecs())


# --- syntax and scope ----------------------------------------------------------------------------

@pytest.mark.parametrize("text, message, column", [
    ("any where user.name = \"x\"", "= is not supported", 21),
    ("any where user.name == 'x'", "single quotes", 24),
    ("any where user.name == \"x", "unterminated string", 24),
    ("sequence with maxspan=5m by user.name [any where true] [any where true]",
     r"by\] before \[with\]", 26),
    ("sequence with maxspan=5 [any where true] [any where true]", "No time unit", 23),
    ("sequence with maxspan=5w [any where true] [any where true]", "Unrecognized time unit", 24),
    ("any where process.args[0] == \"x\"", "Array indexes", 24),
    ("any where a < b < c", "chained", 17),
])
def test_syntax_errors_carry_the_position(text, message, column):
    with pytest.raises(EqlSyntaxError, match=message) as exc:
        parse_eql(text)
    assert exc.value.column == column


@pytest.mark.parametrize("text", [
    'any where user.name == "x" | count',
    'any where user.name == "x" | unique user.name',
    'any where user.name == "x" | filter true',
    'any where user.name regex "a.*"',
    'any where user.name regex~ ("a.*", "b")',
    'sample by user.name [any where true] [any where true]',
    'sequence with maxspan=1m [any where true] ![any where true]',
    'any where length(user.name) + 1 > 3',
    'any where between(user.name, "a", "z") == "b"',
])
def test_constructs_outside_the_evaluator_are_unsupported(text):
    with pytest.raises(EqlUnsupported) as exc:
        check(text)
    assert exc.value.position is not None and exc.value.line == 1


def test_wildcard_function_was_removed_in_elasticsearch_8():
    with pytest.raises(EqlVerificationError, match="like"):
        check('any where wildcard(user.name, "a*")')


@pytest.mark.parametrize("text", [
    'any where aws.cloudtrail.console_login.additional_eventdata.mfa_used : "false"',
    'any where cidrMatch(source.address, "10.0.0.0/8")',
    'any where cloud.account.id == 123456789012',
    'any where user.name == user.id',
])
def test_queries_elasticsearch_rejects_for_their_types(text):
    with pytest.raises(EqlVerificationError):
        check(text, field_type)


def test_boolean_field_compares_to_boolean_literal():
    doc = ecs(aws__cloudtrail__console_login={"additional_eventdata": {"mfa_used": False}})
    q = "any where aws.cloudtrail.console_login.additional_eventdata.mfa_used == false"
    assert matches(q, doc, field_type=field_type)


def test_fields_referenced_lists_condition_and_key_fields():
    text = '''sequence by cloud.account.id with maxspan=5m
      [any where ?tls.cipher == null and stringContains(user.id, ":i-")] by user.name
      [authentication where event.outcome : "success"] by user.name'''
    assert fields_referenced(text) == {"cloud.account.id", "tls.cipher", "user.id", "user.name",
                                       "event.outcome"}


def test_comments_and_raw_strings():
    doc = ecs(user_agent__original='say "hi" \\ bye')
    assert matches('any where /* note */ user_agent.original == """say "hi" \\ bye"""  // end', doc)
    assert matches('any where user_agent.original == "say \\"hi\\" \\\\ bye"', doc)
