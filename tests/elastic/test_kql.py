"""KQL parsed as Kibana parses it and evaluated with Elasticsearch's semantics (harness.elastic.kql).

Each test pins one behaviour a rule author relies on (Kibana KQL docs, kbn-es-query's grammar
and ``is``/``range`` functions, Elasticsearch field-type semantics), over documents built by
``to_ecs`` from realistic CloudTrail records.
"""
import copy
from pathlib import Path

import pytest

from harness.elastic.ecs import to_ecs
from harness.elastic.kql import (
    KqlSyntaxError, KqlUnmappedField, KqlUnsupported, KqlValueError, check, compile_kql,
    fields_referenced, parse,
)

ROOT = Path(__file__).resolve().parents[2]

BASE = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID0001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-01-15T09:12:00Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.20",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home",
                            "MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "0f3f6c1e-6a51-4a53-9a7e-2d1c5b7e9a01",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                   "clientProvidedHostHeader": "signin.aws.amazon.com"},
}


def record(**changes):
    rec = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            rec.pop(key, None)
        else:
            rec[key] = value
    return rec


SUCCESS = to_ecs(record())
FAILURE = to_ecs(record(errorMessage="Failed authentication",
                        responseElements={"ConsoleLogin": "Failure"},
                        eventID="9c2e7b10-4d6f-4e8a-b3c1-5f0a2d9e8c03"))
WITH_MFA = to_ecs(record(additionalEventData={"LoginTo": "https://console.aws.amazon.com",
                                              "MobileVersion": "No", "MFAUsed": "Yes"}))
TOKEN = to_ecs(record(eventName="GetSigninToken", userAgent="Jersey/${project.version}",
                      responseElements={"GetSigninToken": "Success"},
                      additionalEventData={"MobileVersion": "No", "MFAUsed": "No"}))
DENIED = to_ecs(record(eventName="GetSigninToken", errorCode="AccessDenied",
                       errorMessage="Not authorized", responseElements=None,
                       sourceIPAddress="198.51.100.7"))
CREATE_LOGIN_PROFILE = to_ecs(record(
    eventSource="iam.amazonaws.com", eventName="CreateLoginProfile", userAgent="AWS Internal",
    requestParameters={"userName": "carol", "passwordResetRequired": True},
    responseElements={"loginProfile": {"userName": "carol", "passwordResetRequired": True}},
    additionalEventData=None, eventType="AwsApiCall", sourceIPAddress="iam.amazonaws.com",
    userIdentity=dict(BASE["userIdentity"], sessionContext={
        "attributes": {"creationDate": "2026-01-15T08:55:41Z", "mfaAuthenticated": "true"}})))


def matches(query, doc):
    return compile_kql(query)(doc)


# --- keyword values -------------------------------------------------------------------------

def test_keyword_match_is_exact_and_case_sensitive():
    assert matches("event.outcome: success", SUCCESS)
    assert not matches("event.outcome: Success", SUCCESS)
    assert not matches('event.outcome: "SUCCESS"', SUCCESS)
    assert not matches("event.outcome: succ", SUCCESS)


def test_quoted_and_unquoted_values_match_the_same_keyword():
    assert matches('event.action: "ConsoleLogin"', SUCCESS)
    assert matches("event.action: ConsoleLogin", SUCCESS)


def test_unquoted_value_may_contain_spaces():
    assert matches("user_agent.original: AWS Internal", CREATE_LOGIN_PROFILE)
    assert matches("aws.cloudtrail.error_message: Failed authentication", FAILURE)


def test_unquoted_star_is_a_case_sensitive_wildcard():
    assert matches("user_agent.original: Jersey*", TOKEN)
    assert matches("user_agent.original: *project.version*", TOKEN)
    assert not matches("user_agent.original: jersey*", TOKEN)
    assert not matches("user_agent.original: Jersey", TOKEN)


def test_quoted_star_is_a_literal_character():
    assert not matches('user_agent.original: "Jersey*"', TOKEN)
    assert matches('user_agent.original: "Jersey/${project.version}"', TOKEN)


def test_escaped_star_and_braces_are_literal_characters():
    assert matches(r"user_agent.original: Jersey/$\{project.version\}", TOKEN)
    assert not matches(r"user_agent.original: Jersey\*", TOKEN)


def test_wildcard_with_whitespace_is_refused():
    # One pattern or OR'ed terms, depending on whether Kibana resolved the field's type.
    with pytest.raises(KqlUnsupported):
        check("user_agent.original: AWS Int*")
    assert matches("user_agent.original: AWS*Internal", CREATE_LOGIN_PROFILE)


def test_question_mark_is_not_a_wildcard():
    assert not matches("event.outcome: succes?", SUCCESS)


def test_keyword_values_longer_than_ignore_above_never_match():
    long_agent = "Mozilla/5.0 " + "x" * 1100
    doc = to_ecs(record(userAgent=long_agent))
    assert not matches('user_agent.original: "%s"' % long_agent, doc)
    assert not matches("user_agent.original: *", doc)
    assert not matches("user_agent.original: Mozilla*", doc)


def test_boolean_source_value_on_a_keyword_field_matches_its_text():
    # managementEvent is a JSON boolean; aws.cloudtrail.management_event is a keyword.
    assert matches("aws.cloudtrail.management_event: true", SUCCESS)
    assert matches('aws.cloudtrail.management_event: "true"', SUCCESS)


def test_mfa_authenticated_is_a_keyword_so_true_matches_the_string():
    assert matches("aws.cloudtrail.user_identity.session_context.mfa_authenticated: true",
                   CREATE_LOGIN_PROFILE)
    assert not matches("aws.cloudtrail.user_identity.session_context.mfa_authenticated: TRUE",
                       CREATE_LOGIN_PROFILE)


# --- exists, arrays, not --------------------------------------------------------------------

def test_field_star_is_exists():
    assert matches("aws.cloudtrail.error_code: *", DENIED)
    assert not matches("aws.cloudtrail.error_code: *", FAILURE)
    assert matches("aws.cloudtrail.error_message: *", FAILURE)


def test_exists_on_an_object_path_means_any_field_below_it():
    assert matches("aws.cloudtrail.console_login: *", SUCCESS)
    assert not matches("aws.cloudtrail.console_login: *", TOKEN)


def test_arrays_match_on_any_element():
    assert matches("related.user: carol", CREATE_LOGIN_PROFILE)
    assert matches("related.user: alice", CREATE_LOGIN_PROFILE)
    assert matches("event.category: authentication", SUCCESS)
    assert matches("related.user: (alice and carol)", CREATE_LOGIN_PROFILE)


def test_not_matches_when_the_field_is_missing():
    assert "category" not in TOKEN["event"]
    assert matches("not event.category: authentication", TOKEN)
    assert matches('not aws.cloudtrail.error_message: "Failed authentication"', SUCCESS)
    assert not matches('not aws.cloudtrail.error_message: "Failed authentication"', FAILURE)


# --- boolean logic --------------------------------------------------------------------------

def test_and_binds_tighter_than_or():
    query = "event.action: GetSigninToken or event.action: ConsoleLogin and event.outcome: failure"
    assert matches(query, TOKEN)            # left operand alone
    assert matches(query, FAILURE)
    assert not matches(query, SUCCESS)      # (or ...) and failure would have rejected TOKEN


def test_parentheses_override_precedence():
    query = "(event.action: GetSigninToken or event.action: ConsoleLogin) and event.outcome: failure"
    assert not matches(query, TOKEN)
    assert matches(query, FAILURE)


def test_keywords_are_case_insensitive():
    assert matches("NOT event.outcome: failure AND event.action: ConsoleLogin", SUCCESS)
    assert matches("event.outcome: failure Or event.action: ConsoleLogin", SUCCESS)


def test_value_groups_apply_the_field_to_each_value():
    assert matches("event.action: (ConsoleLogin or GetSigninToken)", TOKEN)
    assert not matches("event.action: (CheckMfa or SwitchRole)", TOKEN)
    assert matches("event.action: (ConsoleLogin and not GetSigninToken)", SUCCESS)
    assert not matches("event.action: (ConsoleLogin and not GetSigninToken)", TOKEN)


def test_empty_query_matches_everything():
    assert matches("", SUCCESS) and matches("   ", TOKEN)


# --- typed fields ---------------------------------------------------------------------------

def test_boolean_field_matches_boolean_false_only():
    query = "aws.cloudtrail.console_login.additional_eventdata.mfa_used: false"
    assert matches(query, SUCCESS)
    assert not matches(query, WITH_MFA)
    assert not matches(query, TOKEN)        # GetSigninToken has no mfa_used at all
    assert matches('aws.cloudtrail.console_login.additional_eventdata.mfa_used: "false"', SUCCESS)


@pytest.mark.parametrize("value", ["No", "no", "0", "False", "yes*"])
def test_boolean_field_rejects_other_values(value):
    with pytest.raises(KqlValueError) as err:
        check("aws.cloudtrail.console_login.additional_eventdata.mfa_used: %s" % value)
    assert err.value.position == len("aws.cloudtrail.console_login.additional_eventdata.mfa_used: ")


def test_ip_field_takes_cidr_blocks():
    assert matches("source.ip: 203.0.113.0/24", SUCCESS)
    assert not matches("source.ip: 203.0.113.0/24", DENIED)
    assert matches("source.ip: 203.0.113.20", SUCCESS)
    assert matches('source.ip: "::ffff:203.0.113.20"', SUCCESS)  # stored as IPv4-mapped IPv6
    assert not matches("source.ip: 203.0.113.0/24", CREATE_LOGIN_PROFILE)  # a hostname: no ip


def test_cidr_on_a_keyword_field_is_just_text():
    assert not matches('source.address: "203.0.113.0/24"', SUCCESS)


def test_ip_field_rejects_wildcards_and_non_addresses():
    with pytest.raises(KqlValueError):
        check("source.ip: 203.0.113.*")
    with pytest.raises(KqlValueError):
        check("source.ip: signin.amazonaws.com")


def test_date_ranges_compare_instants():
    assert matches('@timestamp >= "2026-01-15T09:12:00Z"', SUCCESS)
    assert not matches('@timestamp > "2026-01-15T09:12:00Z"', SUCCESS)
    assert matches('@timestamp < "2026-01-15T10:12:00+01:00"', to_ecs(record(
        eventTime="2026-01-15T09:11:59Z")))


def test_values_with_a_colon_must_be_quoted():
    with pytest.raises(KqlSyntaxError):
        parse("@timestamp >= 2026-01-15T09:12:00Z")


def test_partial_dates_round_like_elasticsearch():
    assert matches("@timestamp: 2026-01-15", SUCCESS)           # the whole day
    assert not matches("@timestamp > 2026-01-15", SUCCESS)      # after the end of that day
    assert matches("@timestamp >= 2026-01-15", SUCCESS)         # from its start
    assert matches("@timestamp <= 2026-01", SUCCESS)            # through the end of January


def test_date_values_must_parse_and_date_math_is_refused():
    with pytest.raises(KqlValueError):
        check("@timestamp > yesterday")
    with pytest.raises(KqlUnsupported):
        check("@timestamp > now-1d")


def test_numeric_ranges_are_numeric_not_lexicographic():
    doc = to_ecs(record(), enrichment={"source": {"as": {"number": 9}}})
    assert matches("source.as.number < 10", doc)
    assert not matches("source.as.number > 10", doc)
    assert matches("source.as.number: 9", doc)


def test_keyword_ranges_are_lexicographic():
    assert matches("event.action > CheckMfa", SUCCESS)          # "ConsoleLogin" > "CheckMfa"
    assert not matches("cloud.account.id < 100", SUCCESS)       # "111122223333" > "100"


def test_constant_keyword_matches_every_document_of_the_index():
    bare = {"@timestamp": "2026-01-15T09:12:00.000Z", "event": {"action": "ConsoleLogin"}}
    assert matches('data_stream.dataset: "aws.cloudtrail"', bare)
    assert matches("event.module: aws and data_stream.namespace: default", bare)
    assert not matches("event.module: AWS", SUCCESS)
    assert matches("event.dataset: aws.*", bare)


def test_flattened_sub_key_is_an_exact_keyword():
    assert matches("aws.cloudtrail.flattened.response_elements.ConsoleLogin: Failure", FAILURE)
    assert not matches("aws.cloudtrail.flattened.response_elements.ConsoleLogin: failure", FAILURE)
    assert matches("aws.cloudtrail.flattened.additional_eventdata.MFAUsed: Yes", WITH_MFA)
    assert matches("aws.cloudtrail.flattened.request_parameters.passwordResetRequired: true",
                   CREATE_LOGIN_PROFILE)
    assert not matches("aws.cloudtrail.flattened.response_elements.loginProfile: *",
                       CREATE_LOGIN_PROFILE)        # an inner object has no value of its own
    assert matches("aws.cloudtrail.flattened.response_elements.loginProfile.userName: carol",
                   CREATE_LOGIN_PROFILE)


def test_flattened_root_matches_any_leaf_value():
    assert matches("aws.cloudtrail.flattened.additional_eventdata: Yes", WITH_MFA)
    assert not matches("aws.cloudtrail.flattened.additional_eventdata: Yes", SUCCESS)


def test_stringified_map_field_is_a_keyword_not_a_search():
    assert matches('aws.cloudtrail.response_elements: "{ConsoleLogin=Success}"', SUCCESS)
    assert not matches("aws.cloudtrail.response_elements: Success", SUCCESS)
    assert matches("aws.cloudtrail.response_elements: *Success*", SUCCESS)


# --- what the lint refuses ------------------------------------------------------------------

def test_unmapped_field_is_reported_with_its_position():
    query = 'event.action: "ConsoleLogin" and aws.cloudtrail.mfa_used: false'
    with pytest.raises(KqlUnmappedField) as err:
        check(query)
    assert err.value.field == "aws.cloudtrail.mfa_used"
    assert err.value.position == query.index("aws.cloudtrail.mfa_used")


def test_unmapped_field_matches_nothing_when_allowed_as_kibana_does():
    predicate = compile_kql("aws.cloudtrail.mfa_used: false", allow_unmapped=True)
    assert not predicate(SUCCESS)
    assert compile_kql("not aws.cloudtrail.mfa_used: false", allow_unmapped=True)(SUCCESS)


def test_nested_query_is_unsupported_with_position():
    query = "aws.cloudtrail.user_identity: { type: Root }"
    with pytest.raises(KqlUnsupported) as err:
        check(query)
    assert err.value.position == query.index("{")
    assert "nested" in str(err.value)


def test_value_without_a_field_is_unsupported():
    with pytest.raises(KqlUnsupported):
        check("ConsoleLogin")


def test_text_multi_field_is_unsupported():
    with pytest.raises(KqlUnsupported, match="aws.cloudtrail.response_elements"):
        check("aws.cloudtrail.response_elements.text: Success")


def test_null_value_is_an_error():
    with pytest.raises(KqlValueError):
        check("user.name: null")


@pytest.mark.parametrize("query, position", [
    ("event.action: (ConsoleLogin", len("event.action: (ConsoleLogin")),
    ("event.action:", len("event.action:")),
    ('event.action: "ConsoleLogin', len('event.action: "ConsoleLogin')),
    ("event.action: not ConsoleLogin", len("event.action: ")),
    ("event.action: a:b", len("event.action: a")),
    ("event.action: ConsoleLogin and ", len("event.action: ConsoleLogin and ")),
])
def test_syntax_errors_carry_their_position(query, position):
    with pytest.raises(KqlSyntaxError) as err:
        parse(query)
    assert err.value.position == position


def test_not_inside_an_unquoted_value_ends_it():
    # Kibana's grammar stops an unquoted literal before "not " anywhere in it.
    with pytest.raises(KqlSyntaxError):
        parse("user.name: cannot sign")
    assert matches("user.name: cannot", to_ecs(record(userIdentity=dict(
        BASE["userIdentity"], userName="cannot"))))


def test_fields_referenced():
    query = ("data_stream.dataset: aws.cloudtrail and (event.action: (ConsoleLogin or "
             "GetSigninToken) or not source.ip: 10.0.0.0/8) and @timestamp > 2026-01-01")
    assert fields_referenced(query) == {"data_stream.dataset", "event.action", "source.ip",
                                        "@timestamp"}


def test_shipped_kql_rules_pass_the_lint():
    from harness.detections import load_all

    queries = [(d.id, d.data["elastic"]["query"]) for d in load_all(ROOT / "detections")
               if d.data["elastic"]["language"] == "kuery"]
    assert queries, "no KQL detections found"
    for name, query in queries:
        check(query)
