"""The sign-in view: what each field means, for every identity variant AWS writes."""

import pytest

from awssignin.normalize import MASKED_USER, BadRecord, from_cloudtrail
from fixturedata import find, fixture_records

WITHOUT_MFA = fixture_records("console_login_without_mfa/excluded_variants.json")
NO_MFA = fixture_records("console_login_without_mfa/iam_user_no_mfa.json")
TOKENS = fixture_records("signin_token_abuse/sso_portal_and_denied.json")
RECOVERY = fixture_records("root_password_recovery_requested/near_misses.json")


def test_iam_user_success_is_keyed_by_user_name_with_the_account():
    ev = from_cloudtrail(find(NO_MFA, "ConsoleLogin", userName="alice"))
    assert ev["outcome"] == "success"
    assert ev["identity_type"] == "IAMUser"
    assert ev["user"] == "alice"
    assert ev["account_id"] == "111122223333"
    assert ev["mfa_used"] == "No"
    assert ev["region"] == "us-east-2"


def test_failed_login_without_arn_is_the_same_user():
    # AWS omits the arn on failures: keying on arn would split one user in two
    ev = from_cloudtrail(find(WITHOUT_MFA, "ConsoleLogin", userName="dave"))
    assert ev["arn"] is None
    assert ev["user"] == "dave"
    assert ev["outcome"] == "failure"
    assert ev["error_message"] == "Failed authentication"
    assert ev["access_key_id"] is None  # AWS writes "" on failures


def test_masked_user_name_is_an_unknown_user():
    ev = from_cloudtrail(find(WITHOUT_MFA, "ConsoleLogin", userName=MASKED_USER))
    assert ev["user"] is None
    assert ev["user_name"] == MASKED_USER
    assert ev["outcome"] == "failure"


def test_root_is_the_account_root_arn():
    ev = from_cloudtrail(find(WITHOUT_MFA, "ConsoleLogin", type="Root"))
    assert ev["user"] == "arn:aws:iam::111122223333:root"


def test_role_and_federated_sessions_are_their_arn():
    sso = from_cloudtrail([r for r in WITHOUT_MFA if "AWSReservedSSO" in r["userIdentity"].get("arn", "")][0])
    assert sso["user"].startswith("arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdminAccess")
    assert sso["session_issuer_user_name"].startswith("AWSReservedSSO_")
    assert sso["mfa_authenticated"] == "false"
    fed = from_cloudtrail(find(WITHOUT_MFA, "ConsoleLogin", type="FederatedUser"))
    assert fed["user"] == "arn:aws:sts::111122223333:federated-user/admin"


def test_saml_provider_is_visible():
    records = [r for r in WITHOUT_MFA if "SamlProviderArn" in (r.get("additionalEventData") or {})]
    ev = from_cloudtrail(records[0])
    assert ev["saml_provider_arn"] == "arn:aws:iam::111122223333:saml-provider/Okta"


def test_outcome_of_non_console_events_comes_from_errors():
    denied = from_cloudtrail([r for r in TOKENS if r.get("errorCode")][0])
    assert denied["outcome"] == "failure" and denied["error_code"] == "AccessDenied"
    ok = from_cloudtrail(find(RECOVERY, "PasswordRecoveryCompleted"))
    assert ok["outcome"] == "success"


def test_response_marker_wins_over_missing_error():
    record = find(RECOVERY, "PasswordRecoveryRequested")
    assert from_cloudtrail(record)["outcome"] == "failure"
    del record["errorMessage"]
    del record["errorCode"]
    # the marker alone still says Failure
    assert from_cloudtrail(record)["outcome"] == "failure"


def test_account_falls_back_to_recipient_account():
    record = find(NO_MFA, "ConsoleLogin", userName="alice")
    del record["userIdentity"]["accountId"]
    assert from_cloudtrail(record)["account_id"] == "111122223333"


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r["additionalEventData"].__setitem__("MFAUsed", True), "additionalEventData.MFAUsed"),
    (lambda r: r.__setitem__("userIdentity", "x"), "userIdentity"),
    (lambda r: r.__setitem__("eventTime", "last tuesday"), "eventTime"),
    (lambda r: r.pop("eventTime"), "eventTime"),
    (lambda r: r.pop("eventID"), "eventID"),
    (lambda r: r["userIdentity"].__setitem__("type", 7), "userIdentity.type"),
    (lambda r: r.__setitem__("responseElements", ["Success"]), "responseElements"),
])
def test_bad_fields_are_named(mutate, field):
    record = find(NO_MFA, "ConsoleLogin", userName="alice")
    mutate(record)
    with pytest.raises(BadRecord) as err:
        from_cloudtrail(record)
    assert err.value.field == field


def test_a_record_that_is_not_an_object():
    with pytest.raises(BadRecord):
        from_cloudtrail(["ConsoleLogin"])
