"""The sign-in view: one flat dict of named fields per CloudTrail record.

Detections are written against these names (``outcome``, ``identity_type``, ``user`` ...), never
against raw JSON paths, so the same logic runs on a raw CloudTrail record (replay, tests) and on the
flat, dotted field view Splunk hands the search command. Only the way a path is looked up differs
(``nested_getter`` vs ``flat_getter``); every rule about what a field means lives here, once.
"""

from .geo import from_splunk_country
from .timeutil import parse_time

MASKED_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"

# The Splunk Add-on for AWS overwrites errorCode at search time for sourcetype aws:cloudtrail: the
# original code, else "success" / "failure" from responseElements.ConsoleLogin (notes/splunk.md §7.3,
# read from a mirror of the add-on's props.conf; its source is not public, and its CIM field report
# lists errorCode-derived result/action/status fields). CloudTrail itself writes errorCode only when a
# request fails, as an AWS error code such as AccessDenied (record contents reference,
# https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html),
# so in Splunk's field view these lower-case outcomes are no error codes: "success" is read as absent,
# and so is "failure" on a ConsoleLogin, whose outcome is its responseElements marker. The view is the
# same with the add-on and without (tests/splunk/test_aws_addon_fields.py). Raw records (replay, the
# Elastic comparison) are read as AWS wrote them: no add-on runs there.
ADDON_ERROR_CODES = ("success", "failure")

# IAM Identity Center's own sign-in events carry their outcome in serviceEventDetails.<eventName>.
SERVICE_OUTCOME_EVENTS = ("UserAuthentication", "CredentialChallenge", "CredentialVerification")

# Sign-in events whose outcome AWS writes as responseElements.<eventName> = Success / Failure.
OUTCOME_MARKERS = (
    "ConsoleLogin", "GetSigninToken", "CheckMfa", "SwitchRole", "PasswordUpdated",
    "PasswordRecoveryRequested", "PasswordRecoveryCompleted", "ExternalIdPDirectoryLogin",
)

# Fields of the sign-in view, with what they mean. Detection files may use only these names
# (the harness's lint checks), so this table is also the documentation of the predicate language.
FIELDS = {
    "event_id": "eventID",
    "event_time": "eventTime as epoch seconds",
    "event_source": "eventSource (signin.amazonaws.com, iam.amazonaws.com, ...)",
    "event_name": "eventName (ConsoleLogin, GetSigninToken, ...)",
    "event_type": "eventType (AwsConsoleSignIn, AwsApiCall, ...)",
    "region": "awsRegion",
    "source_ip": "sourceIPAddress",
    "source_country": "ISO 3166-1 alpha-2 code of the source address's country, or absent (no country in "
                      "the GeoIP database, not a public IP address): on Splunk from the Country field "
                      "`iplocation` adds, mapped from the name to its code (awssignin/geo.py); locally set "
                      "by the harness from a MaxMind database (harness/geoip.py)",
    "user_agent": "userAgent",
    "error_code": "errorCode",
    "error_message": "errorMessage",
    "outcome": "success / failure: responseElements.<eventName> (Success/Failure) when present; for "
               "ConsoleLogin nothing else (without it the outcome is absent: neither); for IAM Identity "
               "Center sign-ins serviceEventDetails.<eventName>; else failure when errorCode or "
               "errorMessage is present, else success",
    "identity_type": "userIdentity.type (Root, IAMUser, AssumedRole, FederatedUser, ...)",
    "account_id": "userIdentity.accountId, else recipientAccountId",
    "principal_id": "userIdentity.principalId",
    "arn": "userIdentity.arn",
    "user_name": "userIdentity.userName",
    "user": "the identity that signed in: IAM user -> userName (with account_id alongside); Root -> the "
            "account's root ARN; role and federated sessions -> their ARN; the masked name -> absent",
    "access_key_id": "userIdentity.accessKeyId (empty string -> absent)",
    "session_issuer_type": "userIdentity.sessionContext.sessionIssuer.type",
    "session_issuer_arn": "userIdentity.sessionContext.sessionIssuer.arn",
    "session_issuer_user_name": "userIdentity.sessionContext.sessionIssuer.userName",
    "mfa_authenticated": "userIdentity.sessionContext.attributes.mfaAuthenticated (\"true\"/\"false\")",
    "mfa_used": "additionalEventData.MFAUsed as Yes / No whatever the case AWS wrote (YES, no ...); "
                "any other value as written",
    "login_to": "additionalEventData.LoginTo",
    "saml_provider_arn": "additionalEventData.SamlProviderArn",
    "request_user_name": "requestParameters.userName (the target of IAM calls such as CreateLoginProfile)",
    "recipient_account_id": "recipientAccountId",
}


class BadRecord(ValueError):
    """A record the engine cannot read; ``field`` names the offending field."""

    def __init__(self, field, message):
        ValueError.__init__(self, "%s: %s" % (field, message))
        self.field = field
        self.message = message


_SPLIT = {}


def _parts(path):
    parts = _SPLIT.get(path)
    if parts is None:
        parts = _SPLIT[path] = tuple(path.split("."))
    return parts


def nested_getter(record):
    """Look up dotted paths in a raw CloudTrail record (nested objects)."""

    def get(path):
        node = record
        for i, part in enumerate(_parts(path)):
            if node is None:
                return None
            if type(node) is not dict:
                raise BadRecord(".".join(_parts(path)[:i]), "expected an object, got %s" % kind_of(node))
            node = node.get(part)
        return node

    return get


def flat_getter(record):
    """Look up dotted paths in Splunk's field view (``userIdentity.type`` is one key).

    Splunk has no JSON null and no empty field: an empty string means the field is absent.
    """

    def get(path):
        value = record.get(path)
        if value == "" or value == []:
            return None
        return value

    return get


def kind_of(value):
    """How an error message names the JSON type of a value ('a string', 'an object', ...)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _text(get, path, required=False, multivalue=True):
    """A string field; a multivalue field (Splunk) keeps its first value. Wrong types are errors.

    ``multivalue=False`` (raw CloudTrail): a list is an error too, since the ECS mapping and the
    Splunk field view would each read a different value of it (every value, or the first)."""
    value = get(path)
    if type(value) is str and value:  # the common case first: this runs ~25 times per event
        return value
    if value is None:
        if required:
            raise BadRecord(path, "missing")
        return None
    if isinstance(value, list):
        if not multivalue:
            raise BadRecord(path, "expected a string, got a list")
        value = value[0] if value else None
        if value is None:
            return None
    if not isinstance(value, str):
        raise BadRecord(path, "expected a string, got %s" % kind_of(value))
    if value == "" and not required:
        return None
    if value == "" and required:
        raise BadRecord(path, "empty")
    return value


def _object(get, path):
    """A container field of a raw record, when present, must be an object."""
    value = get(path)
    if value is not None and not isinstance(value, dict):
        raise BadRecord(path, "expected an object, got %s" % kind_of(value))


_YES_NO = {"yes": "Yes", "no": "No"}


def _yes_no(value):
    """MFAUsed as AWS writes it in its own examples: Yes, No, and upper case (YES)."""
    if value is None:
        return None
    return _YES_NO.get(value.lower(), value)


def _service_detail(get, event_name):
    """serviceEventDetails.<eventName> when serviceEventDetails is an object (other services write
    it as a string, which is not an error for the sign-in view)."""
    container = get("serviceEventDetails")
    if isinstance(container, dict):
        value = container.get(event_name)
        return value if isinstance(value, str) else None
    if container is None:  # the flat Splunk view has no container, only dotted keys
        value = get("serviceEventDetails." + event_name)
        if isinstance(value, list):
            value = value[0] if value else None
        return value if isinstance(value, str) else None
    return None


def normalize(get, containers_checked=True, splunk=False):
    """Build the sign-in view from a getter. Raises BadRecord naming the first bad field.

    ``containers_checked``: a raw CloudTrail record, whose containers must be objects and whose
    values single (Splunk's flat view has neither containers nor single values). ``splunk``: the
    view Splunk built, where the Splunk Add-on for AWS may have computed errorCode (ADDON_ERROR_CODES)."""
    multivalue = not containers_checked

    def text(path, required=False):
        return _text(get, path, required, multivalue)

    if containers_checked:
        for path in ("userIdentity", "additionalEventData", "responseElements", "requestParameters"):
            _object(get, path)
    event_name = text("eventName")
    event_time_text = get("eventTime")
    if event_time_text is None or event_time_text == "":
        raise BadRecord("eventTime", "missing")
    try:
        event_time = parse_time(event_time_text)
    except ValueError as err:
        raise BadRecord("eventTime", str(err))
    identity_type = text("userIdentity.type")
    account_id = text("userIdentity.accountId")
    recipient = text("recipientAccountId")
    if account_id is None:
        account_id = recipient
    arn = text("userIdentity.arn")
    user_name = text("userIdentity.userName")
    error_code = text("errorCode")
    if splunk and error_code in ADDON_ERROR_CODES and (error_code == "success" or event_name == "ConsoleLogin"):
        error_code = None  # the Splunk Add-on for AWS's computed value, not an AWS error (see ADDON_ERROR_CODES)
    error_message = text("errorMessage")

    outcome = None
    if event_name is not None:
        marker = text("responseElements." + event_name)
        if marker in ("Success", "Failure"):
            outcome = marker.lower()
        elif event_name in SERVICE_OUTCOME_EVENTS:
            marker = _service_detail(get, event_name)
            if marker in ("Success", "Failure"):
                outcome = marker.lower()
    if outcome is None and event_name != "ConsoleLogin":
        # the catalog: a ConsoleLogin's outcome is its responseElements marker or unknown
        outcome = "failure" if (error_code is not None or error_message is not None) else "success"

    user = None
    if identity_type == "IAMUser":
        if user_name is not None and user_name != MASKED_USER:
            user = user_name
    elif identity_type == "Root":
        user = arn or ("arn:aws:iam::%s:root" % account_id if account_id else None)
    elif user_name != MASKED_USER:
        user = arn

    source_ip = text("sourceIPAddress")
    return {
        "event_id": text("eventID", required=True),
        "event_time": event_time,
        "event_source": text("eventSource"),
        "event_name": event_name,
        "event_type": text("eventType"),
        "region": text("awsRegion"),
        "source_ip": source_ip,
        # Splunk: the Country field iplocation added; a raw record has none (the harness adds it)
        "source_country": from_splunk_country(get("Country"), source_ip) if splunk else None,
        "user_agent": text("userAgent"),
        "error_code": error_code,
        "error_message": error_message,
        "outcome": outcome,
        "identity_type": identity_type,
        "account_id": account_id,
        "principal_id": text("userIdentity.principalId"),
        "arn": arn,
        "user_name": user_name,
        "user": user,
        "access_key_id": text("userIdentity.accessKeyId"),
        "session_issuer_type": text("userIdentity.sessionContext.sessionIssuer.type"),
        "session_issuer_arn": text("userIdentity.sessionContext.sessionIssuer.arn"),
        "session_issuer_user_name": text("userIdentity.sessionContext.sessionIssuer.userName"),
        "mfa_authenticated": text("userIdentity.sessionContext.attributes.mfaAuthenticated"),
        "mfa_used": _yes_no(text("additionalEventData.MFAUsed")),
        "login_to": text("additionalEventData.LoginTo"),
        "saml_provider_arn": text("additionalEventData.SamlProviderArn"),
        "request_user_name": text("requestParameters.userName"),
        "recipient_account_id": recipient,
    }


def from_cloudtrail(record):
    """The sign-in view of a raw CloudTrail record (a dict as AWS writes it)."""
    if not isinstance(record, dict):
        raise BadRecord("(record)", "expected an object, got %s" % kind_of(record))
    return normalize(nested_getter(record))


def from_splunk(record):
    """The sign-in view of one event as the search command receives it (dotted field names)."""
    return normalize(flat_getter(record), containers_checked=False, splunk=True)


# The raw paths the sign-in view reads: the search command declares them as required fields so that
# splunkd does not ship _raw.
SPLUNK_FIELDS = (
    "eventID", "eventTime", "eventSource", "eventName", "eventType", "awsRegion", "sourceIPAddress",
    "userAgent", "errorCode", "errorMessage", "recipientAccountId",
    "userIdentity.type", "userIdentity.accountId", "userIdentity.principalId", "userIdentity.arn",
    "userIdentity.userName", "userIdentity.accessKeyId",
    "userIdentity.sessionContext.sessionIssuer.type", "userIdentity.sessionContext.sessionIssuer.arn",
    "userIdentity.sessionContext.sessionIssuer.userName",
    "userIdentity.sessionContext.attributes.mfaAuthenticated",
    "additionalEventData.MFAUsed", "additionalEventData.LoginTo", "additionalEventData.SamlProviderArn",
    "requestParameters.userName", "Country",
) + tuple("responseElements." + name for name in OUTCOME_MARKERS) + tuple(
    "serviceEventDetails." + name for name in SERVICE_OUTCOME_EVENTS)
