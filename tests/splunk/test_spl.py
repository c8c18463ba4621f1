"""The SPL search-command evaluator: each test pins one documented behaviour of Splunk's `search`."""

import copy

import pytest

from harness.splunk.fieldview import field_view
from harness.splunk.spl import (
    SplSyntaxError,
    SplUnsupported,
    Stage,
    check,
    compile_search,
    fields_referenced,
    split_pipeline,
)


def console_login(identity, outcome="Success", mfa="No", ip="198.51.100.10", **extra):
    """A ConsoleLogin record shaped as CloudTrail writes it (notes/vendor-rules.md §3.1-3.6)."""
    record = {
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": "2026-01-15T09:12:00Z",
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
        "requestParameters": None,
        "responseElements": {"ConsoleLogin": outcome},
        "additionalEventData": {
            "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true",
            "MobileVersion": "No",
            "MFAUsed": mfa,
        },
        "eventID": "0f6b1f0e-2d4c-4b8e-9a51-1c3e5f7a9b01",
        "readOnly": False,
        "eventType": "AwsConsoleSignIn",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                       "clientProvidedHostHeader": "signin.aws.amazon.com"},
    }
    if outcome == "Failure":
        record["errorMessage"] = "Failed authentication"
    record.update(extra)
    return record


ALICE = {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSERID0001",
         "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333", "userName": "alice"}
ALICE_FAILED = {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSERID0001", "accountId": "111122223333",
                "accessKeyId": "", "userName": "alice"}
ROOT = {"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333", "accessKeyId": ""}
UNKNOWN_USER = {"type": "IAMUser", "accountId": "111122223333", "accessKeyId": "",
                "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}
SSO_ROLE = {
    "type": "AssumedRole",
    "principalId": "AROAEXAMPLEROLEID0001:jane.doe@example.com",
    "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdminAccess_0123abcd/jane.doe@example.com",
    "accountId": "111122223333",
    "accessKeyId": "ASIAEXAMPLETEMPKEY01",
    "sessionContext": {
        "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID0001",
                          "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/"
                                 "AWSReservedSSO_AdminAccess_0123abcd",
                          "accountId": "111122223333", "userName": "AWSReservedSSO_AdminAccess_0123abcd"},
        "attributes": {"creationDate": "2026-01-15T09:12:00Z", "mfaAuthenticated": "false"},
    },
}
FEDERATED = {
    "type": "FederatedUser", "principalId": "111122223333:admin",
    "arn": "arn:aws:sts::111122223333:federated-user/admin", "accountId": "111122223333",
    "accessKeyId": "ASIAEXAMPLEFEDKEY01",
    "sessionContext": {"sessionIssuer": {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSERID0009",
                                         "arn": "arn:aws:iam::111122223333:user/ci-bot",
                                         "accountId": "111122223333", "userName": "ci-bot"},
                       "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-01-15T09:10:00Z"}},
}

IAM_SUCCESS = field_view(console_login(ALICE))
IAM_SUCCESS_MFA = field_view(console_login(ALICE, mfa="Yes"))
IAM_FAILURE = field_view(console_login(ALICE_FAILED, outcome="Failure", ip="203.0.113.7"))
UNKNOWN_USER_FAILURE = field_view(console_login(
    UNKNOWN_USER, outcome="Failure", ip="192.0.2.55", userAgent="Go-http-client/1.1",
    errorMessage="No username found in supplied account"))
ROOT_SUCCESS = field_view(console_login(ROOT, ip="203.0.113.20"))
SSO_SUCCESS = field_view(console_login(SSO_ROLE, awsRegion="us-west-2"))
FEDERATED_SUCCESS = field_view(console_login(FEDERATED, ip="2001:db8:85a3::8a2e:370:7334"))
ROOT_CHECK_MFA = field_view({
    "eventVersion": "1.08", "userIdentity": ROOT, "eventTime": "2026-01-15T09:11:50Z",
    "eventSource": "signin.amazonaws.com", "eventName": "CheckMfa", "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.20", "userAgent": "Mozilla/5.0 Firefox/120.0", "requestParameters": None,
    "responseElements": {"CheckMfa": "Success"}, "additionalEventData": {"MfaType": "Virtual MFA"},
    "eventID": "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "readOnly": False, "eventType": "AwsConsoleSignIn",
    "managementEvent": True, "recipientAccountId": "111122223333", "eventCategory": "Management"})
SAML_ASSUME_ROLE = field_view({
    "eventVersion": "1.08",
    "userIdentity": {"type": "SAMLUser", "principalId": "Wd2bQ8nV3kZl0p5mXy7rTqJcE1s=:jane.doe@example.com",
                     "userName": "jane.doe@example.com", "identityProvider": "Wd2bQ8nV3kZl0p5mXy7rTqJcE1s="},
    "eventTime": "2026-01-15T09:11:58Z", "eventSource": "sts.amazonaws.com", "eventName": "AssumeRoleWithSAML",
    "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.44", "userAgent": "aws-internal/3",
    "requestParameters": {"roleSessionName": "jane.doe@example.com",
                          "roleArn": "arn:aws:iam::111122223333:role/OktaAdmin",
                          "principalArn": "arn:aws:iam::111122223333:saml-provider/Okta", "durationSeconds": 900},
    "responseElements": {"subjectType": "persistent", "audience": "https://signin.aws.amazon.com/saml"},
    "eventID": "2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a8b", "readOnly": True,
    "resources": [
        {"ARN": "arn:aws:iam::111122223333:role/OktaAdmin", "accountId": "111122223333", "type": "AWS::IAM::Role"},
        {"ARN": "arn:aws:iam::111122223333:saml-provider/Okta", "accountId": "111122223333",
         "type": "AWS::IAM::SAMLProvider"},
    ],
    "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": "111122223333",
    "eventCategory": "Management"})

ALL = [IAM_SUCCESS, IAM_SUCCESS_MFA, IAM_FAILURE, UNKNOWN_USER_FAILURE, ROOT_SUCCESS, SSO_SUCCESS,
       FEDERATED_SUCCESS, ROOT_CHECK_MFA, SAML_ASSUME_ROLE]


def matches(search, view):
    return compile_search(search)(view)


def selected(search):
    pred = compile_search(search)
    return [i for i, view in enumerate(ALL) if pred(view)]


# --- field=value -------------------------------------------------------------------------------


def test_the_shipped_root_login_search_selects_only_root_console_logins():
    search = 'eventSource="signin.amazonaws.com" eventName="ConsoleLogin" userIdentity.type="Root"'
    assert selected(search) == [ALL.index(ROOT_SUCCESS)]


def test_values_match_case_insensitively():
    assert matches("userIdentity.type=ROOT eventName=consolelogin", ROOT_SUCCESS)
    assert matches('additionalEventData.MFAUsed="yes"', IAM_SUCCESS_MFA)


def test_field_names_are_case_sensitive():
    assert not matches("eventname=ConsoleLogin", IAM_SUCCESS)
    assert not matches("UserIdentity.type=IAMUser", IAM_SUCCESS)
    assert matches("userIdentity.type=IAMUser", IAM_SUCCESS)


def test_a_value_matches_the_whole_field_value_not_a_part_of_it():
    assert not matches("eventName=Console", IAM_SUCCESS)
    assert not matches("eventName=Login", IAM_SUCCESS)


def test_equality_compares_text_so_1_does_not_match_1_0():
    assert matches("eventVersion=1.08", IAM_SUCCESS)
    assert not matches("eventVersion=1.080", IAM_SUCCESS)
    assert not matches("requestParameters.durationSeconds=900.0", SAML_ASSUME_ROLE)


def test_quoted_values_may_contain_spaces():
    assert matches('errorMessage="Failed authentication"', IAM_FAILURE)
    assert not matches('errorMessage="Failed authentication"', UNKNOWN_USER_FAILURE)


def test_dotted_field_names_may_be_quoted_and_spaces_around_the_operator_are_accepted():
    assert matches('"additionalEventData.MFAUsed" = "Yes"', IAM_SUCCESS_MFA)
    assert matches("additionalEventData.MFAUsed =No", IAM_SUCCESS)
    assert matches('"resources{}.type"=AWS::IAM::SAMLProvider', SAML_ASSUME_ROLE)


def test_backslash_escapes_a_quote_inside_a_quoted_value():
    view = dict(IAM_SUCCESS, userAgent='curl "8.5"')
    assert matches(r'userAgent="curl \"8.5\""', view)


def test_unknown_backslash_sequences_are_kept_as_written():
    view = dict(IAM_SUCCESS, userAgent=r"C:\tools\agent")
    assert matches(r'userAgent="C:\tools\agent"', view)


# --- wildcards -----------------------------------------------------------------------------------


@pytest.mark.parametrize("search", [
    "eventName=Console*",
    'eventName="Console*"',
    "eventName=*Login",
    "eventName=*sole*",
    "eventName=C*L*n",
    'userIdentity.arn="arn:aws:iam::*:user/*"',
    'userAgent="*firefox*"',
])
def test_wildcards_work_quoted_or_not_anywhere_in_the_value(search):
    assert matches(search, IAM_SUCCESS)


def test_wildcards_still_anchor_the_rest_of_the_value():
    assert not matches("eventName=Console*X", IAM_SUCCESS)
    assert not matches("eventName=*Console", IAM_SUCCESS)


def test_field_equals_star_means_the_field_exists():
    assert selected("additionalEventData.MFAIdentifier=* OR errorMessage=*") == [
        ALL.index(IAM_FAILURE), ALL.index(UNKNOWN_USER_FAILURE)]
    assert matches("userIdentity.sessionContext.sessionIssuer.userName=*", SSO_SUCCESS)
    assert not matches("userIdentity.sessionContext.sessionIssuer.userName=*", IAM_SUCCESS)


def test_a_lone_star_matches_every_event_and_not_star_none():
    assert selected("*") == list(range(len(ALL)))
    assert selected("NOT *") == []


def test_an_empty_string_in_the_record_is_an_absent_field():
    # CloudTrail writes "accessKeyId": "" on failed sign-ins; Splunk has no empty field values.
    assert not matches("userIdentity.accessKeyId=*", IAM_FAILURE)
    assert matches("NOT userIdentity.accessKeyId=*", IAM_FAILURE)
    assert not matches("userIdentity.accessKeyId!=ASIA*", dict(IAM_SUCCESS, **{"userIdentity.accessKeyId": ""}))


def test_json_null_is_searchable_as_the_text_null():
    assert matches("requestParameters=null", IAM_SUCCESS)
    assert matches("requestParameters=*", IAM_SUCCESS)


# --- != versus NOT -------------------------------------------------------------------------------


def test_not_equal_requires_the_field_to_exist():
    search = 'errorMessage!="Failed authentication"'
    assert not matches(search, IAM_SUCCESS)          # no errorMessage at all
    assert not matches(search, IAM_FAILURE)          # the excluded value
    assert matches(search, UNKNOWN_USER_FAILURE)     # another value


def test_not_also_matches_events_without_the_field():
    search = 'NOT errorMessage="Failed authentication"'
    assert matches(search, IAM_SUCCESS)
    assert not matches(search, IAM_FAILURE)
    assert matches(search, UNKNOWN_USER_FAILURE)


def test_not_equal_star_never_matches_and_not_star_matches_missing_fields():
    assert selected("errorMessage!=*") == []
    assert ALL.index(IAM_FAILURE) not in selected("NOT errorMessage=*")
    assert ALL.index(IAM_SUCCESS) in selected("NOT errorMessage=*")


# --- boolean operators and precedence ------------------------------------------------------------


def test_and_is_implicit():
    assert selected("userIdentity.type=Root eventName=ConsoleLogin") == \
        selected("userIdentity.type=Root AND eventName=ConsoleLogin") == [ALL.index(ROOT_SUCCESS)]


def test_or_binds_tighter_than_and():
    # search evaluates OR before AND: Root AND (ConsoleLogin OR CheckMfa). A where/eval reading,
    # (Root AND ConsoleLogin) OR CheckMfa, would not change the result here, so use an IAM CheckMfa.
    iam_check_mfa = dict(ROOT_CHECK_MFA, **{"userIdentity.type": "IAMUser"})
    for search in ("userIdentity.type=Root eventName=ConsoleLogin OR eventName=CheckMfa",
                   "userIdentity.type=Root AND eventName=ConsoleLogin OR eventName=CheckMfa"):
        assert not matches(search, iam_check_mfa)
        assert matches(search, ROOT_CHECK_MFA)
        assert matches(search, ROOT_SUCCESS)


def test_or_on_the_left_of_and_groups_the_same_way():
    # (ConsoleLogin OR CheckMfa) AND Root
    assert not matches("eventName=ConsoleLogin OR eventName=CheckMfa userIdentity.type=Root", IAM_SUCCESS)
    assert matches("eventName=ConsoleLogin OR eventName=CheckMfa userIdentity.type=Root", ROOT_SUCCESS)


def test_not_binds_tighter_than_or():
    # (NOT ConsoleLogin) OR Root: true for a root ConsoleLogin; NOT (ConsoleLogin OR Root) would be false.
    assert matches("NOT eventName=ConsoleLogin OR userIdentity.type=Root", ROOT_SUCCESS)
    assert not matches("NOT eventName=ConsoleLogin OR userIdentity.type=Root", IAM_SUCCESS)


def test_parentheses_override_precedence():
    iam_check_mfa = dict(ROOT_CHECK_MFA, **{"userIdentity.type": "IAMUser"})
    assert matches("(userIdentity.type=Root eventName=ConsoleLogin) OR eventName=CheckMfa", iam_check_mfa)
    assert not matches("NOT (eventName=ConsoleLogin OR userIdentity.type=Root)", ROOT_SUCCESS)


def test_double_negation_and_nested_parentheses():
    assert matches("NOT NOT userIdentity.type=Root", ROOT_SUCCESS)
    assert matches("((userIdentity.type=Root) (eventName=ConsoleLogin))", ROOT_SUCCESS)


def test_lower_case_operators_are_not_operators():
    with pytest.raises(SplUnsupported) as err:
        check("userIdentity.type=Root or userIdentity.type=IAMUser")
    assert "bare term 'or'" in str(err.value) and "upper case" in str(err.value)
    assert err.value.position == 23


# --- multivalue fields ---------------------------------------------------------------------------


def test_a_multivalue_field_matches_when_any_value_matches():
    assert matches("resources{}.type=AWS::IAM::SAMLProvider", SAML_ASSUME_ROLE)
    assert matches("resources{}.type=AWS::IAM::Role", SAML_ASSUME_ROLE)
    assert matches('resources{}.ARN="*:saml-provider/*"', SAML_ASSUME_ROLE)
    assert not matches("resources{}.type=AWS::IAM::User", SAML_ASSUME_ROLE)


def test_not_on_a_multivalue_field_excludes_the_event_when_any_value_matches():
    assert not matches("NOT resources{}.type=AWS::IAM::Role", SAML_ASSUME_ROLE)
    assert matches("NOT resources{}.type=AWS::IAM::User", SAML_ASSUME_ROLE)


def test_not_equal_on_a_brace_field_is_refused_because_splunk_does_not_document_it():
    with pytest.raises(SplUnsupported) as err:
        check("resources{}.type!=AWS::IAM::Role")
    assert "!=" in str(err.value) and "NOT resources{}.type=" in str(err.value)
    assert err.value.position == 16


# --- IN --------------------------------------------------------------------------------------------


def test_in_matches_any_listed_value():
    search = "userIdentity.type IN (AssumedRole, FederatedUser)"
    assert selected(search) == [ALL.index(SSO_SUCCESS), ALL.index(FEDERATED_SUCCESS)]


def test_in_accepts_quoted_values_with_spaces_and_commas():
    search = 'errorMessage IN ("Failed authentication", "No username found in supplied account", "a, b")'
    assert selected(search) == [ALL.index(IAM_FAILURE), ALL.index(UNKNOWN_USER_FAILURE)]


def test_in_accepts_wildcards_and_matches_case_insensitively():
    assert matches("eventName IN (Password*, checkmfa)", ROOT_CHECK_MFA)
    assert matches("userIdentity.type IN(root)", ROOT_SUCCESS)  # IN( without a space, as in the docs


def test_not_in_also_matches_events_without_the_field():
    search = "NOT userIdentity.sessionContext.sessionIssuer.type IN (Role)"
    assert matches(search, IAM_SUCCESS)
    assert not matches(search, SSO_SUCCESS)


def test_in_on_a_multivalue_field_matches_any_value():
    assert matches('resources{}.ARN IN ("arn:aws:iam::111122223333:saml-provider/Okta")', SAML_ASSUME_ROLE)


# --- comparison operators -------------------------------------------------------------------------


def test_comparisons_are_numeric_when_both_sides_are_numbers():
    # 900 < 1000 numerically, although "900" > "1000" as text.
    assert matches("requestParameters.durationSeconds<1000", SAML_ASSUME_ROLE)
    assert matches("requestParameters.durationSeconds>=900", SAML_ASSUME_ROLE)
    assert not matches("requestParameters.durationSeconds>900", SAML_ASSUME_ROLE)
    assert matches("requestParameters.durationSeconds<=9e2", SAML_ASSUME_ROLE)


def test_comparisons_are_lexicographic_otherwise_with_upper_case_first():
    assert matches("awsRegion<us-east-2", IAM_SUCCESS)
    assert not matches("awsRegion>us-east-2", IAM_SUCCESS)
    # Code-point order: "R" (Root) sorts before "a", so the comparison is case-sensitive.
    assert matches("userIdentity.type<a", ROOT_SUCCESS)
    assert not matches("userIdentity.type<A", ROOT_SUCCESS)


def test_comparisons_on_missing_fields_are_false_and_their_negation_true():
    assert not matches("requestParameters.durationSeconds>0", IAM_SUCCESS)
    assert matches("NOT requestParameters.durationSeconds>0", IAM_SUCCESS)


def test_time_can_be_compared_as_epoch_seconds():
    assert matches("_time>=1768468320", IAM_SUCCESS)
    assert not matches("_time>1768468320", IAM_SUCCESS)


# --- CIDR -------------------------------------------------------------------------------------------


def test_a_cidr_value_matches_addresses_in_the_network():
    assert matches("sourceIPAddress=198.51.100.0/24", IAM_SUCCESS)
    assert not matches("sourceIPAddress=198.51.100.0/24", IAM_FAILURE)
    assert matches('sourceIPAddress!="198.51.100.0/24"', IAM_FAILURE)
    assert matches("sourceIPAddress=2001:db8::/32", FEDERATED_SUCCESS)
    assert not matches("sourceIPAddress=2001:db8::/32", IAM_SUCCESS)


def test_a_cidr_value_against_a_non_address_does_not_match():
    view = dict(IAM_SUCCESS, sourceIPAddress="signin.amazonaws.com")
    assert not matches("sourceIPAddress=10.0.0.0/8", view)


# --- search keyword, comments, multi-line text --------------------------------------------------------


def test_a_leading_search_keyword_is_the_command_name():
    assert compile_search("search *")(IAM_SUCCESS)
    assert matches("search userIdentity.type=Root", ROOT_SUCCESS)
    assert matches("search=x", dict(IAM_SUCCESS, search="x"))  # a field called search


def test_triple_backtick_comments_are_ignored():
    assert matches("userIdentity.type=Root ```root only``` eventName=ConsoleLogin", ROOT_SUCCESS)


def test_multi_line_searches_from_conf_continuations():
    search = 'eventSource="signin.amazonaws.com" \n  eventName=ConsoleLogin\n  userIdentity.type=Root'
    assert matches(search, ROOT_SUCCESS)


# --- unsupported constructs -----------------------------------------------------------------------------


@pytest.mark.parametrize("search, construct, position", [
    ("eventName=ConsoleLogin alice", "bare term 'alice'", 23),
    ('eventName=ConsoleLogin "Failed authentication"', 'quoted phrase "Failed authentication"', 23),
    ("eventName=ConsoleLogin | stats count", "pipe '|'", 23),
    ("eventName=ConsoleLogin [search eventName=CheckMfa]", "subsearch '['", 23),
    ("`cloudtrail` eventName=ConsoleLogin", "macro call", 0),
    ("eventName=ConsoleLogin CASE(Root)", "CASE() directive or function", 23),
    ("TERM(198.51.100.10)", "TERM() directive or function", 0),
    ("eventName=ConsoleLogin earliest=-70m@m", "time modifier earliest=", 23),
    ("index=aws eventName=ConsoleLogin", "index selector index=", 0),
    ("eventtype=aws_signin", "event type selector eventtype=", 0),
    ("tag::eventtype=authentication", "tag selector tag::eventtype=", 0),
    ("eventName==ConsoleLogin", "'==' operator", 9),
    (r"userAgent=Mozilla\*", "escaped asterisk", 17),
    ("userIdentity.type=Root, eventName=ConsoleLogin", "comma outside an IN list", 22),
    ("user*=alice", "wildcard in field name", 0),
    ("'userIdentity.type'=Root", "single-quoted field name", 0),
    ('errorCode=""', 'empty value ""', 10),
    ("requestParameters.durationSeconds>9*", "wildcard in a > comparison", 34),
])
def test_unsupported_spl_is_refused_with_the_construct_and_its_position(search, construct, position):
    with pytest.raises(SplUnsupported) as err:
        check(search)
    assert err.value.construct.startswith(construct)
    assert err.value.position == position
    assert "position %d" % position in str(err.value)
    with pytest.raises(SplUnsupported):
        compile_search(search)


def test_errors_report_line_and_column_in_multi_line_searches():
    with pytest.raises(SplUnsupported) as err:
        check("eventName=ConsoleLogin\n  userIdentity.type=Root alice")
    assert (err.value.line, err.value.column) == (2, 26)
    assert err.value.excerpt() == "  userIdentity.type=Root alice\n" + " " * 25 + "^"


# --- syntax errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("search, message, position", [
    ("(userIdentity.type=Root eventName=ConsoleLogin", "unclosed parenthesis", 0),
    ("userIdentity.type=Root)", "unmatched ')'", 22),
    ("userIdentity.type=Root OR", "OR needs an expression on its right", 23),
    ("userIdentity.type=Root AND", "AND needs an expression on its right", 23),
    ("userIdentity.type=Root NOT", "NOT needs an expression on its right", 23),
    ("OR userIdentity.type=Root", "OR needs an expression on its left", 0),
    ("userIdentity.type=Root AND OR eventName=x", "AND needs an expression on its right", 23),
    ("(userIdentity.type=Root OR) eventName=x", "OR needs an expression on its right", 24),
    ("=Root", "'=' without a field name", 0),
    ("userIdentity.type=", "expected a value after '='", 17),
    ("userIdentity.type=Root=x", "'=' without a field name", 22),
    ('errorMessage="Failed authentication', "unterminated quoted string", 13),
    ("userIdentity.type IN ()", "empty IN list", 21),
    ("userIdentity.type IN (Root,)", "expected a value after ','", 26),
    ("userIdentity.type IN (Root IAMUser)", "expected ',' or ')' in IN list", 27),
    ("userIdentity.type IN (Root", "unclosed IN list", 21),
    ("()", "empty parentheses", 0),
    ("", "empty search", 0),
    ("   ", "empty search", 3),
    ("search", "empty search", 6),
    ("userIdentity.type=OR", "value OR is an SPL operator", 18),
    ("userIdentity.type=Root ```no end", "unterminated ``` comment", 23),
])
def test_malformed_searches_raise_syntax_errors_with_positions(search, message, position):
    with pytest.raises(SplSyntaxError) as err:
        check(search)
    assert message in err.value.message
    assert err.value.position == position


def test_check_accepts_every_supported_construct():
    assert check('eventSource="signin.amazonaws.com" eventName IN (ConsoleLogin, "GetSigninToken") '
                 '(responseElements.ConsoleLogin=Failure OR errorCode=*) NOT userIdentity.type=Root '
                 'sourceIPAddress!=10.0.0.0/8 requestParameters.durationSeconds>=900 "resources{}.ARN"=*') is None


def test_search_text_must_be_a_string():
    with pytest.raises(TypeError):
        compile_search(None)


# --- fields_referenced ------------------------------------------------------------------------------------


def test_fields_referenced_lists_every_compared_field():
    search = ('eventSource="signin.amazonaws.com" NOT (userIdentity.type IN (Root) OR errorMessage!=x) '
              '"additionalEventData.MFAUsed"=No _time>0 *')
    assert fields_referenced(search) == {
        "eventSource", "userIdentity.type", "errorMessage", "additionalEventData.MFAUsed", "_time"}


def test_fields_referenced_raises_on_unsupported_spl():
    with pytest.raises(SplUnsupported):
        fields_referenced("eventName=ConsoleLogin | stats count")


# --- split_pipeline ---------------------------------------------------------------------------------------


def test_split_pipeline_separates_the_base_search_from_later_commands():
    text = 'eventName=ConsoleLogin userAgent="a|b" | awssignin detection=root_console_login | search *'
    stages = split_pipeline(text)
    assert [s.command for s in stages] == ["search", "awssignin", "search"]
    assert stages[0].args == 'eventName=ConsoleLogin userAgent="a|b" '
    assert stages[1] == Stage("awssignin", "detection=root_console_login ", text.index("detection="))
    assert text[stages[2].position:] == "*"
    assert compile_search(stages[0].args)(dict(IAM_SUCCESS, userAgent="a|b"))


def test_split_pipeline_keeps_subsearches_and_comments_whole():
    text = "a=1 [search b=2 | head 1] ```x | y``` | stats count"
    stages = split_pipeline(text)
    assert [s.command for s in stages] == ["search", "stats"]
    assert stages[0].args == "a=1 [search b=2 | head 1] ```x | y``` "


def test_split_pipeline_starts_with_a_generating_command_after_a_leading_pipe():
    assert [s.command for s in split_pipeline("| makeresults | eval x=1")] == ["makeresults", "eval"]


@pytest.mark.parametrize("text, message", [
    ('a="b | c', "unterminated quoted string"),
    ("a=1 [search b=2", "unclosed subsearch"),
    ("a=1 ] | b", "unmatched ']'"),
    ("a=1 | | b", "empty command after '|'"),
])
def test_split_pipeline_rejects_malformed_pipelines(text, message):
    with pytest.raises(SplSyntaxError, match=message):
        split_pipeline(text)


# --- compiled predicates ----------------------------------------------------------------------------------


def test_a_compiled_search_does_not_modify_the_view():
    view = copy.deepcopy(SAML_ASSUME_ROLE)
    compile_search("resources{}.type=* NOT requestParameters.durationSeconds<100 sourceIPAddress=198.51.100.0/24")(view)
    assert view == SAML_ASSUME_ROLE
