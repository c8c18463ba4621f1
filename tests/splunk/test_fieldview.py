"""The aws:cloudtrail field view: what a Splunk search sees of a raw CloudTrail record (KV_MODE=json)."""

import calendar
import copy
import json
import os
import sys

import pytest

from harness.splunk.fieldview import NULL_TEXT, FieldViewError, field_view

# Records shaped as CloudTrail writes them (notes/vendor-rules.md §3).
IAM_SUCCESS = {
    "eventVersion": "1.08",
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
    "sourceIPAddress": "198.51.100.10",
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true&state=hashArgsFromTB_us-east-1_1a2b3c4d5e6f7a8b",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "0f6b1f0e-2d4c-4b8e-9a51-1c3e5f7a9b01",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "signin.aws.amazon.com",
    },
}

IAM_FAILURE = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID0001",
        "accountId": "111122223333",
        "accessKeyId": "",
        "userName": "alice",
    },
    "eventTime": "2026-01-15T09:10:41Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.7",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "errorMessage": "Failed authentication",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "5b1f7d2a-8c3e-4f60-b9a4-2e6d8c0f1a22",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "signin.aws.amazon.com",
    },
}

SSO_ROLE_SUCCESS = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID0001:jane.doe@example.com",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdminAccess_0123abcd/jane.doe@example.com",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLETEMPKEY01",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID0001",
                "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_AdminAccess_0123abcd",
                "accountId": "111122223333",
                "userName": "AWSReservedSSO_AdminAccess_0123abcd",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T09:12:00Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T09:12:03Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-west-2",
    "sourceIPAddress": "198.51.100.44",
    "userAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "9c4e2a61-3b7d-4e58-8f19-6a0b2c4d6e33",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "us-west-2.signin.aws.amazon.com",
    },
}

# The STS call behind a SAML console sign-in (vendor-rules §3.7): two resources, a number.
SAML_ASSUME_ROLE = {
    "eventVersion": "1.08",
    "userIdentity": {
        "type": "SAMLUser",
        "principalId": "Wd2bQ8nV3kZl0p5mXy7rTqJcE1s=:jane.doe@example.com",
        "userName": "jane.doe@example.com",
        "identityProvider": "Wd2bQ8nV3kZl0p5mXy7rTqJcE1s=",
    },
    "eventTime": "2026-01-15T09:11:58Z",
    "eventSource": "sts.amazonaws.com",
    "eventName": "AssumeRoleWithSAML",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.44",
    "userAgent": "aws-internal/3 aws-sdk-java/1.12.767",
    "requestParameters": {
        "sAMLAssertionID": "_4a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b",
        "roleSessionName": "jane.doe@example.com",
        "roleArn": "arn:aws:iam::111122223333:role/OktaAdmin",
        "principalArn": "arn:aws:iam::111122223333:saml-provider/Okta",
        "durationSeconds": 3600,
    },
    "responseElements": {
        "credentials": {
            "accessKeyId": "ASIAEXAMPLETEMPKEY02",
            "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLETOKEN",
            "expiration": "Jan 15, 2026, 10:11:58 AM",
        },
        "assumedRoleUser": {
            "assumedRoleId": "AROAEXAMPLEROLEID0003:jane.doe@example.com",
            "arn": "arn:aws:sts::111122223333:assumed-role/OktaAdmin/jane.doe@example.com",
        },
        "subject": "jane.doe@example.com",
        "subjectType": "persistent",
        "issuer": "http://www.okta.com/exk1a2b3c4d5e6f7g8h9",
        "audience": "https://signin.aws.amazon.com/saml",
        "nameQualifier": "Wd2bQ8nV3kZl0p5mXy7rTqJcE1s=",
    },
    "requestID": "6f1e2d3c-4b5a-4978-8e6d-5c4b3a2f1e0d",
    "eventID": "2a3b4c5d-6e7f-4081-9a2b-3c4d5e6f7a8b",
    "readOnly": True,
    "resources": [
        {"ARN": "arn:aws:iam::111122223333:role/OktaAdmin", "accountId": "111122223333", "type": "AWS::IAM::Role"},
        {"ARN": "arn:aws:iam::111122223333:saml-provider/Okta", "accountId": "111122223333",
         "type": "AWS::IAM::SAMLProvider"},
    ],
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {"tlsVersion": "TLSv1.2", "cipherSuite": "ECDHE-RSA-AES128-GCM-SHA256",
                   "clientProvidedHostHeader": "sts.amazonaws.com"},
}


def epoch(text):
    return calendar.timegm(__import__("time").strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def test_nested_keys_become_dotted_names_and_keep_json_case():
    view = field_view(IAM_SUCCESS)
    assert view["userIdentity.type"] == "IAMUser"
    assert view["additionalEventData.MFAUsed"] == "No"
    assert view["responseElements.ConsoleLogin"] == "Success"
    assert view["tlsDetails.clientProvidedHostHeader"] == "signin.aws.amazon.com"
    assert "userIdentity" not in view and "responseElements" not in view


def test_deeply_nested_session_context_is_reachable_by_full_path():
    view = field_view(SSO_ROLE_SUCCESS)
    assert view["userIdentity.sessionContext.sessionIssuer.userName"] == "AWSReservedSSO_AdminAccess_0123abcd"
    # CloudTrail writes mfaAuthenticated as the string "false": it stays a string, not a boolean.
    assert view["userIdentity.sessionContext.attributes.mfaAuthenticated"] == "false"


def test_an_empty_object_produces_no_field():
    view = field_view(SSO_ROLE_SUCCESS)
    assert not any(name.startswith("userIdentity.sessionContext.webIdFederationData") for name in view)


def test_array_of_objects_gives_brace_names_and_multivalue_fields_in_order():
    view = field_view(SAML_ASSUME_ROLE)
    assert view["resources{}.ARN"] == [
        "arn:aws:iam::111122223333:role/OktaAdmin",
        "arn:aws:iam::111122223333:saml-provider/Okta",
    ]
    assert view["resources{}.type"] == ["AWS::IAM::Role", "AWS::IAM::SAMLProvider"]
    assert view["resources{}.accountId"] == ["111122223333", "111122223333"]  # duplicates are kept


def test_a_single_value_is_a_string_not_a_one_element_list():
    record = copy.deepcopy(SAML_ASSUME_ROLE)
    record["resources"] = record["resources"][:1]
    view = field_view(record)
    assert view["resources{}.ARN"] == "arn:aws:iam::111122223333:role/OktaAdmin"


def test_arrays_of_scalars_and_nested_arrays_flatten_with_one_brace_pair_per_level():
    record = dict(IAM_SUCCESS, tags=["prod", "pci"], matrix=[["a", "b"], ["c"]])
    view = field_view(record)
    assert view["tags{}"] == ["prod", "pci"]
    assert view["matrix{}{}"] == ["a", "b", "c"]


def test_an_empty_array_produces_no_field():
    view = field_view(dict(IAM_SUCCESS, resources=[]))
    assert not any(name.startswith("resources") for name in view)


def test_booleans_and_numbers_surface_as_their_json_text():
    view = field_view(SAML_ASSUME_ROLE)
    assert view["readOnly"] == "true"
    assert view["managementEvent"] == "true"
    assert view["requestParameters.durationSeconds"] == "3600"
    assert field_view(dict(IAM_SUCCESS, ratio=0.5, huge=1e21))["ratio"] == "0.5"
    assert field_view(dict(IAM_SUCCESS, huge=1e21))["huge"] == "1e+21"
    assert field_view(IAM_SUCCESS)["readOnly"] == "false"


def test_json_null_surfaces_as_the_text_null_by_default():
    view = field_view(IAM_SUCCESS)
    assert view["requestParameters"] == NULL_TEXT == "null"


def test_null_as_none_drops_null_fields_instead():
    view = field_view(IAM_SUCCESS, null_as=None)
    assert "requestParameters" not in view


def test_an_empty_string_is_an_absent_field():
    view = field_view(IAM_FAILURE)
    assert "userIdentity.accessKeyId" not in view
    assert view["userIdentity.userName"] == "alice"


def test_time_is_epoch_seconds_of_event_time():
    assert field_view(IAM_SUCCESS)["_time"] == epoch("2026-01-15T09:12:00Z")
    assert isinstance(field_view(IAM_SUCCESS)["_time"], int)


def test_time_keeps_fractions_and_applies_offsets():
    base = epoch("2026-01-15T09:12:00Z")
    assert field_view(dict(IAM_SUCCESS, eventTime="2026-01-15T09:12:00.250Z"))["_time"] == pytest.approx(base + 0.25)
    assert field_view(dict(IAM_SUCCESS, eventTime="2026-01-15T10:12:00+01:00"))["_time"] == base


def test_sourcetype_is_aws_cloudtrail():
    assert field_view(IAM_SUCCESS)["sourcetype"] == "aws:cloudtrail"


def test_raw_only_when_asked():
    assert "_raw" not in field_view(IAM_SUCCESS)
    raw = field_view(IAM_SUCCESS, include_raw=True)["_raw"]
    assert json.loads(raw) == IAM_SUCCESS
    original = json.dumps(IAM_SUCCESS, indent=2)
    assert field_view(IAM_SUCCESS, include_raw=True, raw=original)["_raw"] == original


def test_colliding_names_become_one_multivalue_field():
    record = dict(IAM_SUCCESS, **{"additionalEventData.MFAUsed": "Yes"})
    assert field_view(record)["additionalEventData.MFAUsed"] == ["No", "Yes"]


def test_the_view_does_not_modify_the_record():
    record = copy.deepcopy(SAML_ASSUME_ROLE)
    field_view(record, include_raw=True)
    assert record == SAML_ASSUME_ROLE


@pytest.mark.parametrize("bad, reason", [
    ({"eventTime": None}, "missing"),
    ({"eventTime": ""}, "missing"),
    ({"eventTime": 1768468320}, "expected an ISO 8601 string"),
    ({"eventTime": "15/01/2026 09:12"}, "not an ISO 8601 time"),
    ({"eventTime": "2026-02-30T09:12:00Z"}, "not a valid date/time"),
    ({"eventTime": "2026-01-15T24:00:00Z"}, "not a valid date/time"),
])
def test_an_unreadable_event_time_is_an_error_naming_the_field(bad, reason):
    with pytest.raises(FieldViewError) as err:
        field_view(dict(IAM_SUCCESS, **bad))
    assert err.value.field == "eventTime"
    assert reason in str(err.value)


def test_a_record_without_event_time_is_an_error():
    record = dict(IAM_SUCCESS)
    del record["eventTime"]
    with pytest.raises(FieldViewError, match="eventTime: missing"):
        field_view(record)


def test_a_non_object_record_is_an_error():
    with pytest.raises(FieldViewError, match="expected a JSON object, got list"):
        field_view([IAM_SUCCESS])


@pytest.mark.parametrize("record", [IAM_SUCCESS, IAM_FAILURE, SSO_ROLE_SUCCESS],
                         ids=["iam-success", "iam-failure", "sso-role"])
def test_the_search_command_reads_the_same_sign_in_view_from_the_field_view(record):
    # The awssignin command reads these dotted fields; the view must carry what it needs.
    lib = os.path.join(os.path.dirname(__file__), "..", "..", "addon", "lib")
    sys.path.insert(0, os.path.abspath(lib))
    try:
        from awssignin.normalize import from_cloudtrail, from_splunk
    finally:
        sys.path.pop(0)
    assert from_splunk(field_view(record)) == from_cloudtrail(record)
