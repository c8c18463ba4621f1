"""A realistic mixed day of CloudTrail traffic with a handful of labelled attacks.

``generate_day(seed, date, size)`` returns ``(records, labels)``: the day's records (CloudTrail's own
shapes, ``notes/vendor-rules.md`` §3, every field AWS writes for each variant) and one label per
scenario (``name``, ``kind``: attack, policy or benign, ``description``). An attack or policy
finding's label names the catalog detections it must raise and the alert group of each
(``expect``); every label, benign ones included, counts the events the catalog's building blocks
fire on (``building_blocks``, their eventIDs in ``building_block_events``), so that a test can check
those too, and lists its successful console logins (``console_logins``: time, account, user, source,
the issuing role or user of a session). The expectations come from what the generator wrote, never from running the detections.

The day (two example accounts of one organization, documentation IP ranges only):

- IAM users signing in to the console with MFA (``CheckMfa`` then ``ConsoleLogin``), some after one or
  two mistyped passwords, a wrong MFA code or a mistyped user name (below every threshold), then
  working in the console (API calls with ``sessionCredentialFromConsole``) and switching roles into the
  member account;
- IAM Identity Center users: the Identity Center sign-in (``CredentialChallenge``,
  ``CredentialVerification``, ``UserAuthentication``), the portal's ``GetSigninToken``
  (``Jersey/${project.version}`` from the ``AWSReservedSSO_*`` session) and ``ConsoleLogin``;
- SAML (Okta) sessions: ``AssumeRoleWithSAML`` then ``ConsoleLogin`` with ``SamlProviderArn``;
- machines: EC2 instance roles (credential deliveries by ``ec2.amazonaws.com``, SSM heartbeats, S3,
  KMS, Secrets Manager), CI (an access key assuming a deploy role), a reporting key; API noise from
  EC2, S3, STS, IAM, KMS, CloudFormation, ECR, Cost Explorer, CloudTrail, a few ``AccessDenied``;
- global-service events (sign-in, IAM, STS's global endpoint) of the management account delivered
  twice, by the organization trail and by the account's own trail (same ``eventID``);
- attacks (``_attacks`` below): a password spray, a root brute force then root login, a sign-in token
  relayed to another address (with a denied token request first), the same with the portal's user
  agent spoofed, a FederatedUser console login, EC2 instance credentials used for the console, a
  login profile set by an admin role then used from the same address, a root password recovery,
  MFA-stage failures then a success, user-name enumeration, a distributed brute force against one
  user, one user's logins from two addresses; and one policy finding (a new hire's first login,
  before MFA is set up).

``python -m harness.realday OUT`` writes the day: NDJSON when OUT ends in ``.ndjson``/``.jsonl``
(optionally ``.gz``), else a CloudTrail file (``{"Records": [...]}``, ``.json`` or ``.json.gz``).
"""

import argparse
import base64
import calendar
import copy
import gzip
import json
import random
import sys
import time
import uuid
from collections import Counter

MAIN = "111122223333"      # the organization's management account (Identity Center lives here)
MEMBER = "444455556666"    # a member account
ORG_ID = "o-exampleorg1"
IC_REGION = "us-west-2"
IC_PORTAL = "https://d-9067example.awsapps.com/start/"
OFFICE_IP = "198.51.100.10"  # the office's NAT address, shared by several users

BUILDING_BLOCKS = ("console_login_failure", "console_login_with_mfa", "signin_token_created")

# alert group fields of each catalog detection (detections.md: "alert group")
GROUPS = {
    "root_console_login": ("account_id", "source_ip"),
    "root_console_brute_force": ("account_id",),
    "console_login_without_mfa": ("account_id", "user"),
    "signin_token_abuse": ("user", "source_ip", "user_agent"),
    "root_password_recovery_requested": ("account_id", "source_ip"),
    "console_login_failure": ("user", "source_ip"),
    "console_login_with_mfa": ("user",),
    "failed_logins_from_source": ("source_ip",),
    "failed_logins_for_user": ("account_id", "user"),
    "password_spray_from_source": ("source_ip",),
    "unknown_user_enumeration": ("source_ip",),
    "mfa_challenge_failures": ("account_id", "user"),
    "login_success_after_failures": ("account_id", "user"),
    "concurrent_logins_multiple_ips": ("account_id", "user"),
    "federated_user_console_login": ("user", "source_ip"),
    "signin_token_created": ("user", "source_ip"),
    "signin_token_denied": ("user", "source_ip"),
    "token_relay": ("user",),
    "ec2_instance_credentials_console": ("user", "source_ip"),
    "root_password_changed": ("account_id", "source_ip"),
    "login_profile_then_login": ("account_id", "user"),
}

CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
CHROME_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/131.0.0.0 Safari/537.36")
SAFARI = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
          "Version/18.1.1 Safari/605.1.15")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
EDGE = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0")
BROWSERS = (CHROME_WIN, CHROME_MAC, SAFARI, FIREFOX, EDGE)
PORTAL_UA = "Jersey/${project.version}"
CONSOLE_UA = "AWS Internal"
S3_CONSOLE_UA = ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.750 Linux/5.10.228-198.884.amzn2int.x86_64 "
                 "OpenJDK_64-Bit_Server_VM/25.432-b06 java/1.8.0_432 vendor/Oracle_Corporation cfg/retry-mode/standard]")
CLI_UA = ("aws-cli/2.22.4 md/awscrt#0.22.0 ua/2.0 os/linux#6.8.0-1019-aws md/arch#x86_64 lang/python#3.12.6 "
          "md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off "
          "md/command#%s")
BOTO_UA = ("Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#6.1.115-126.197.amzn2023.x86_64 md/arch#x86_64 "
           "lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.76")
GO_UA = ("aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/%s")
SSM_UA = "aws-sdk-go/1.55.5 (go1.22.9; linux; amd64) amazon-ssm-agent/3.3.1142.0"
TERRAFORM_UA = ("APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 "
                "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux "
                "lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/%s")

TLS13 = ("TLSv1.3", "TLS_AES_128_GCM_SHA256")
TLS12 = ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")

GLOBAL_SOURCES = ("signin.amazonaws.com", "iam.amazonaws.com")
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def expect(detection, **group):
    """One expected alert: the detection and its group (the catalog's group fields, nothing else)."""
    if tuple(sorted(group)) != tuple(sorted(GROUPS[detection])):
        raise ValueError("%s groups by %s, not %s" % (detection, GROUPS[detection], sorted(group)))
    return {"detection": detection, "group": dict(group)}


def expected_alerts(labels, building_blocks=False):
    """{(detection, ((field, value), ...))} of every label's expectations (non-building blocks by default)."""
    out = set()
    for label in labels:
        for e in label["expect"]:
            if (e["detection"] in BUILDING_BLOCKS) == building_blocks:
                out.add((e["detection"], tuple(sorted(e["group"].items()))))
    return out


def expected_building_blocks(labels):
    """How many alerts each building block raises over the day: one per qualifying event."""
    total = Counter()
    for label in labels:
        total.update(label["building_blocks"])
    return total


def building_block_events(labels, detection):
    """The eventIDs a building block must alert on, one alert each."""
    return [i for label in labels for i in label["building_block_events"].get(detection, [])]


class _Person(object):
    def __init__(self, **kw):
        self.__dict__.update(kw)


class _Day(object):
    def __init__(self, seed, date):
        self.rng = random.Random(seed)
        self.date = date
        self.midnight = calendar.timegm(time.strptime(date, "%Y-%m-%d"))
        self.records = []
        self.labels = []
        self.label = None
        self.sessions = []  # (start, end, identity, ip, ua, account, kind) console sessions for API noise

    # -- identifiers ---------------------------------------------------------------------------
    def uuid(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def chars(self, n, alphabet=ALNUM):
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def principal(self, prefix):
        return prefix + self.chars(17)

    def temp_key(self):
        return "ASIA" + self.chars(16, B32)

    def long_key(self):
        return "AKIA" + self.chars(16, B32)

    def request_id(self):
        return self.uuid()

    def s3_request_id(self):
        return self.chars(16, "0123456789ABCDEF")

    def at(self, hh, mm=0, ss=0):
        return self.midnight + hh * 3600 + mm * 60 + ss

    def clamp(self, t):
        """Keep background traffic inside the day."""
        return min(t, self.midnight + 86399)

    @staticmethod
    def iso(t):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))

    @staticmethod
    def aws_date(t):
        """How IAM and STS responseElements write dates: 'Mar 10, 2026, 9:12:45 AM'."""
        tm = time.gmtime(t)
        hour = tm.tm_hour % 12 or 12
        return "%s %d, %d, %d:%02d:%02d %s" % (time.strftime("%b", tm), tm.tm_mday, tm.tm_year, hour,
                                                tm.tm_min, tm.tm_sec, "AM" if tm.tm_hour < 12 else "PM")

    # -- labels and emission -------------------------------------------------------------------
    def begin(self, name, kind, description, expects=()):
        self.label = {"name": name, "kind": kind, "description": description, "expect": list(expects),
                      "building_blocks": Counter(), "building_block_events": {},
                      "console_logins": [], "event_ids": []}
        self.labels.append(self.label)
        return self.label

    def emit(self, record):
        """Append a record under the current label; count what building blocks fire on; deliver the
        management account's global-service events twice (see ``_second_trail``)."""
        label = self.label
        if record["eventSource"] == "signin.amazonaws.com" and "errorCode" not in record:
            name = record["eventName"]
            marker = (record.get("responseElements") or {}).get(name)
            mfa = (record.get("additionalEventData") or {}).get("MFAUsed")
            block = None
            if name == "ConsoleLogin" and marker == "Failure":
                block = "console_login_failure"
            elif name == "ConsoleLogin" and marker == "Success" and mfa == "Yes":
                block = "console_login_with_mfa"
            elif name == "GetSigninToken" and marker == "Success":
                block = "signin_token_created"
            if block:
                label["building_blocks"][block] += 1
                label["building_block_events"].setdefault(block, []).append(record["eventID"])
            if name == "ConsoleLogin" and marker == "Success":
                ident = record["userIdentity"]
                issuer = ident.get("sessionContext", {}).get("sessionIssuer", {}).get("userName")
                label["console_logins"].append({
                    "time": record["eventTime"], "account_id": ident["accountId"], "source_ip": record["sourceIPAddress"],
                    "user": ident["userName"] if ident["type"] == "IAMUser" else ident["arn"], "issuer": issuer})
        if label["kind"] != "benign":
            label["event_ids"].append(record["eventID"])
        self.records.append(record)
        if record["recipientAccountId"] == MAIN and self._second_trail(record):
            self.records.append(copy.deepcopy(record))
        return record

    @staticmethod
    def _second_trail(record):
        """The management account also keeps its own single-region trail in eu-west-1 that includes
        global-service events: it delivers again every global event (IAM, STS's global endpoint and
        sign-ins at the global endpoint, all logged in us-east-1) and every eu-west-1 event."""
        region = record["awsRegion"]
        if region == "eu-west-1":
            return True
        if region != "us-east-1":
            return False
        if record["eventSource"] in GLOBAL_SOURCES:
            return True
        host = (record.get("tlsDetails") or {}).get("clientProvidedHostHeader")
        return record["eventSource"] == "sts.amazonaws.com" and host in ("sts.amazonaws.com", "signin.aws.amazon.com")

    # -- identities ----------------------------------------------------------------------------
    @staticmethod
    def iam_user(u, key=None, session_created=None, mfa=None):
        ident = {"type": "IAMUser", "principalId": u.pid, "arn": u.arn, "accountId": u.account,
                 "accessKeyId": key if key is not None else u.key, "userName": u.name}
        if session_created is not None:
            ident["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                       "attributes": {"creationDate": _Day.iso(session_created),
                                                      "mfaAuthenticated": "true" if mfa else "false"}}
        return ident

    @staticmethod
    def role_session(role, session, key, created, mfa=False, ec2=False):
        ident = {
            "type": "AssumedRole",
            "principalId": "%s:%s" % (role.rid, session),
            "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (role.account, role.name, session),
            "accountId": role.account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": role.rid, "arn": role.arn,
                                  "accountId": role.account, "userName": role.name},
                "webIdFederationData": {},
                "attributes": {"creationDate": _Day.iso(created), "mfaAuthenticated": "true" if mfa else "false"},
            },
        }
        if ec2:
            ident["sessionContext"]["ec2RoleDelivery"] = "2.0"
        return ident

    @staticmethod
    def root(account, key="", created=None):
        ident = {"type": "Root", "principalId": account, "arn": "arn:aws:iam::%s:root" % account,
                 "accountId": account, "accessKeyId": key}
        if created is not None:
            ident["sessionContext"] = {"sessionIssuer": {}, "webIdFederationData": {},
                                       "attributes": {"creationDate": _Day.iso(created), "mfaAuthenticated": "false"}}
        return ident

    # -- record builders -----------------------------------------------------------------------
    def signin(self, t, ident, name, ip, ua, account, region="us-east-1", outcome="Success", aed=None,
               error_message=None, error_code=None, version="1.09"):
        rec = {"eventVersion": version, "userIdentity": ident, "eventTime": self.iso(t),
               "eventSource": "signin.amazonaws.com", "eventName": name, "awsRegion": region,
               "sourceIPAddress": ip, "userAgent": ua}
        if error_code:
            rec["errorCode"] = error_code
        if error_message:
            rec["errorMessage"] = error_message
        rec["requestParameters"] = None
        rec["responseElements"] = None if error_code else {name: outcome}
        if aed is not None:
            rec["additionalEventData"] = aed
        rec.update({"eventID": self.uuid(), "readOnly": False, "eventType": "AwsConsoleSignIn",
                    "managementEvent": True, "recipientAccountId": account, "eventCategory": "Management",
                    "tlsDetails": self.tls("signin.aws.amazon.com" if region == "us-east-1"
                                           else "%s.signin.aws.amazon.com" % region)})
        return self.emit(rec)

    def tls(self, host, v12=False):
        version, suite = TLS12 if v12 else TLS13
        return {"tlsVersion": version, "cipherSuite": suite, "clientProvidedHostHeader": host}

    def api(self, t, ident, source, name, region, ip, ua, account, req=None, resp=None, read_only=True,
            error=None, resources=None, aed=None, console=False, host=None, version="1.08", vpce=None,
            request_id=None, shared=False, event_type="AwsApiCall"):
        service = source.split(".")[0]
        if host is None:
            if service in ("iam", "ce", "health"):
                host = "%s.amazonaws.com" % service if service == "iam" else "%s.us-east-1.amazonaws.com" % service
            else:
                host = "%s.%s.amazonaws.com" % (service, region)
        rec = {"eventVersion": version, "userIdentity": ident, "eventTime": self.iso(t), "eventSource": source,
               "eventName": name, "awsRegion": region, "sourceIPAddress": ip, "userAgent": ua}
        if error:
            rec["errorCode"], rec["errorMessage"] = error
        rec["requestParameters"] = req
        rec["responseElements"] = resp
        if aed is not None:
            rec["additionalEventData"] = aed
        rec["requestID"] = request_id or self.request_id()
        rec["eventID"] = self.uuid()
        rec["readOnly"] = read_only
        if resources:
            rec["resources"] = resources
        rec["eventType"] = event_type
        rec["managementEvent"] = True
        rec["recipientAccountId"] = account
        if shared:
            rec["sharedEventID"] = self.uuid()
        if vpce:
            rec["vpcEndpointId"] = vpce
            rec["vpcEndpointAccountId"] = account
        rec["eventCategory"] = "Management"
        if ip not in ("AWS Internal",) and not ip.endswith(".amazonaws.com"):
            rec["tlsDetails"] = self.tls(host, v12=self.rng.random() < 0.1)
        if console:
            rec["sessionCredentialFromConsole"] = "true"
        return self.emit(rec)

    def credentials(self, t, key, duration=3600):
        token = base64.b64encode(bytes(self.rng.getrandbits(8) for _ in range(240))).decode()
        return {"accessKeyId": key, "sessionToken": "IQoJb3JpZ2luX2VjE" + token,
                "expiration": self.aws_date(t + duration)}

    def assume_role(self, t, ident, role, session, ip, ua, region="us-east-1", duration=3600, key=None,
                    global_endpoint=True, service=False):
        key = key or self.temp_key()
        req = {"roleArn": role.arn, "roleSessionName": session}
        if not service:
            req["durationSeconds"] = duration
        resp = {"credentials": self.credentials(t, key, duration),
                "assumedRoleUser": {"assumedRoleId": "%s:%s" % (role.rid, session),
                                    "arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (role.account, role.name, session)}}
        self.api(t, ident, "sts.amazonaws.com", "AssumeRole", region, ip, ua, role.account, req=req, resp=resp,
                 resources=[{"accountId": role.account, "type": "AWS::IAM::Role", "ARN": role.arn}],
                 host="sts.amazonaws.com" if global_endpoint else "sts.%s.amazonaws.com" % region,
                 shared=service, version="1.08")
        return key

    # -- ConsoleLogin variants -----------------------------------------------------------------
    def login_to(self, mfa, region="us-east-1"):
        state = "hashArgsFromTB_%s_%s" % (region, self.chars(16, "0123456789abcdef"))
        if mfa:
            return "https://console.aws.amazon.com/console/home?hashArgs=%%23&isauthcode=true&state=%s" % state
        return ("https://console.aws.amazon.com/console/home?hashArgs=%%23&isauthcode=true&nc2=h_ct"
                "&src=header-signin&state=%s" % state)

    def check_mfa(self, t, u, ip, ua, ok=True):
        ident = {"type": "IAMUser", "principalId": u.pid, "accountId": u.account, "accessKeyId": "",
                 "userName": u.name}
        self.signin(t, ident, "CheckMfa", ip, ua, u.account, region=u.signin_region,
                    outcome="Success" if ok else "Failure",
                    aed={"MfaType": "U2F MFA" if u.mfa.startswith("u2f") else "Virtual MFA"})

    def user_login_success(self, t, u, ip, ua, mfa=True):
        ident = {"type": "IAMUser", "principalId": u.pid, "arn": u.arn, "accountId": u.account, "userName": u.name}
        aed = {"LoginTo": self.login_to(mfa, u.signin_region), "MobileVersion": "No", "MFAUsed": "Yes" if mfa else "No"}
        if mfa:
            aed["MFAIdentifier"] = "arn:aws:iam::%s:%s" % (u.account, u.mfa)
        return self.signin(t, ident, "ConsoleLogin", ip, ua, u.account, region=u.signin_region, aed=aed)

    def user_login_failure(self, t, u, ip, ua, mfa_stage=False, with_arn=None, region=None):
        ident = {"type": "IAMUser", "principalId": u.pid, "accountId": u.account, "accessKeyId": "",
                 "userName": u.name}
        if with_arn is None:
            with_arn = self.rng.random() < 0.3  # AWS often leaves the arn out of failed sign-ins
        if with_arn:
            ident = {"type": "IAMUser", "principalId": u.pid, "arn": u.arn, "accountId": u.account,
                     "accessKeyId": "", "userName": u.name}
        aed = {"LoginTo": self.login_to(False, region or u.signin_region), "MobileVersion": "No",
               "MFAUsed": "Yes" if mfa_stage else "No"}
        return self.signin(t, ident, "ConsoleLogin", ip, ua, u.account, region=region or u.signin_region,
                           outcome="Failure", aed=aed, error_message="Failed authentication")

    def unknown_user_failure(self, t, account, ip, ua):
        ident = {"type": "IAMUser", "accountId": account, "accessKeyId": "",
                 "userName": "HIDDEN_DUE_TO_SECURITY_REASONS"}
        aed = {"LoginTo": "https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=true",
               "MobileVersion": "No", "MFAUsed": "No"}
        return self.signin(t, ident, "ConsoleLogin", ip, ua, account, outcome="Failure", aed=aed,
                           error_message="No username found in supplied account")

    def role_console_login(self, t, ident, ip, ua, account, region="us-east-1", login_to=True, saml=None):
        aed = {"MobileVersion": "No", "MFAUsed": "No"}
        if login_to:
            aed = {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"}
        if saml:
            aed["SamlProviderArn"] = saml
        return self.signin(t, ident, "ConsoleLogin", ip, ua, account, region=region, aed=aed)

    def signin_token(self, t, ident, ip, ua, account, denied=False):
        if denied:
            return self.signin(t, ident, "GetSigninToken", ip, ua, account,
                               aed={"MobileVersion": "No", "MFAUsed": "No"}, error_code="AccessDenied",
                               error_message="User is not authorized to perform: signin:GetSigninToken")
        return self.signin(t, ident, "GetSigninToken", ip, ua, account, aed={"MobileVersion": "No", "MFAUsed": "No"})

    def root_login(self, t, account, ip, ua, ok=True):
        aed = {"LoginTo": self.login_to(False), "MobileVersion": "No", "MFAUsed": "No"}
        if ok:
            return self.signin(t, self.root(account), "ConsoleLogin", ip, ua, account, aed=aed)
        return self.signin(t, self.root(account), "ConsoleLogin", ip, ua, account, outcome="Failure", aed=aed,
                           error_message="Failed authentication")

    def ic_event(self, t, name, username, ip, ua, credential_type, ok=True, workflow=None):
        ident = {"type": "Unknown", "principalId": MAIN, "arn": "", "accountId": MAIN, "accessKeyId": "",
                 "userName": username}
        aed = {"AuthWorkflowID": workflow, "CredentialType": credential_type}
        if name == "UserAuthentication":
            aed["LoginTo"] = IC_PORTAL
        rec = {"eventVersion": "1.08", "userIdentity": ident, "eventTime": self.iso(t),
               "eventSource": "signin.amazonaws.com", "eventName": name, "awsRegion": IC_REGION,
               "sourceIPAddress": ip, "userAgent": ua, "requestParameters": None, "responseElements": None,
               "additionalEventData": aed, "requestID": self.request_id(), "eventID": self.uuid(),
               "readOnly": False, "eventType": "AwsServiceEvent", "managementEvent": True,
               "recipientAccountId": MAIN, "serviceEventDetails": {name: "Success" if ok else "Failure"},
               "eventCategory": "Management", "tlsDetails": self.tls("%s.signin.aws" % IC_REGION)}
        return self.emit(rec)


# -- the cast --------------------------------------------------------------------------------------
def _cast(day):
    rng = day.rng
    people = []
    specs = [  # name, ip (home or office), browser, mfa kind, role
        ("alice", OFFICE_IP, CHROME_MAC, "mfa/alice-iphone", "admin"),
        ("bob", "192.0.2.21", CHROME_WIN, "u2f/user/bob/default-%s", "dev"),
        ("carol", OFFICE_IP, SAFARI, "mfa/carol", "dev"),
        ("dave", "192.0.2.34", FIREFOX, "mfa/dave-pixel", "ops"),
        ("erin", OFFICE_IP, EDGE, "u2f/user/erin/yubikey-%s", "finance"),
        ("frank", "198.51.100.57", CHROME_WIN, "mfa/frank", "dev"),
        ("grace", OFFICE_IP, CHROME_MAC, "mfa/grace-authy", "ops"),
        ("heidi", "192.0.2.61", SAFARI, "u2f/user/heidi/default-%s", "dev"),
        ("ivan", OFFICE_IP, FIREFOX, "mfa/ivan", "dev"),
        ("judy", "198.51.100.83", CHROME_WIN, "mfa/judy-phone", "finance"),
        ("ken", OFFICE_IP, EDGE, "mfa/ken", "ops"),
        ("liam", "192.0.2.95", CHROME_MAC, "u2f/user/liam/default-%s", "dev"),
    ]
    for name, ip, ua, mfa, job in specs:
        if "%s" in mfa:
            mfa = mfa % day.chars(26)
        region = rng.choice(["us-east-1"] * 5 + ["us-east-2", "eu-north-1"])
        people.append(_Person(name=name, account=MAIN, pid=day.principal("AIDA"),
                              arn="arn:aws:iam::%s:user/%s" % (MAIN, name), ip=ip, ua=ua, mfa=mfa, job=job,
                              key=day.long_key(), signin_region=region))
    machines = {}
    for name, ip in (("ci-deployer", "198.51.100.20"), ("svc-reporting", "198.51.100.40"), ("ci-bot", "198.51.100.21")):
        machines[name] = _Person(name=name, account=MAIN, pid=day.principal("AIDA"),
                                 arn="arn:aws:iam::%s:user/%s" % (MAIN, name), ip=ip, key=day.long_key(),
                                 signin_region="us-east-1", mfa="")
    roles = {}

    def role(name, account=MAIN, path="/"):
        roles[(account, name)] = _Person(name=name, account=account, rid=day.principal("AROA"),
                                         arn="arn:aws:iam::%s:role%s%s" % (account, path, name))
        return roles[(account, name)]

    role("DeployRole")
    role("ReadOnlyAuditRole")
    role("AdminRole")
    role("WebServerInstanceRole")
    role("BatchInstanceRole")
    role("OktaDevelopers")
    role("OrganizationAccountAccessRole", MEMBER)
    role("WebServerInstanceRole", MEMBER)
    sso_path = "/aws-reserved/sso.amazonaws.com/%s/" % IC_REGION
    for account in (MAIN, MEMBER):
        role("AWSReservedSSO_AdministratorAccess_0123abcd4567ef89", account, sso_path)
        role("AWSReservedSSO_ReadOnlyAccess_89ab01cd23ef4567", account, sso_path)
        role("AWSReservedSSO_PowerUserAccess_4567ef890123abcd", account, sso_path)
    sso_users = [
        _Person(email="jane.doe@example.com", ip="192.0.2.15", ua=CHROME_MAC),
        _Person(email="omar.haddad@example.com", ip="198.51.100.112", ua=CHROME_WIN),
        _Person(email="priya.nair@example.com", ip=OFFICE_IP, ua=EDGE),
        _Person(email="li.wei@example.com", ip="192.0.2.130", ua=FIREFOX),
        _Person(email="sam.taylor@example.com", ip="198.51.100.141", ua=SAFARI),
        _Person(email="maria.garcia@example.com", ip=OFFICE_IP, ua=CHROME_MAC),
    ]
    saml_users = [
        _Person(email="noah.kim@example.com", ip="192.0.2.170", ua=CHROME_WIN),
        _Person(email="emma.jones@example.com", ip="198.51.100.181", ua=FIREFOX),
        _Person(email="lucas.martin@example.com", ip=OFFICE_IP, ua=SAFARI),
    ]
    instances = [
        _Person(id="i-0123456789abcdef0", role=roles[(MAIN, "WebServerInstanceRole")], ip="198.51.100.30",
                private="10.0.12.34", region="us-east-1", az="us-east-1a", az_id="use1-az4"),
        _Person(id="i-0fedcba9876543210", role=roles[(MAIN, "WebServerInstanceRole")], ip="198.51.100.31",
                private="10.0.13.71", region="us-east-1", az="us-east-1b", az_id="use1-az6"),
        _Person(id="i-0a1b2c3d4e5f60718", role=roles[(MAIN, "BatchInstanceRole")], ip="198.51.100.32",
                private="10.0.20.9", region="us-east-1", az="us-east-1c", az_id="use1-az1"),
        _Person(id="i-09f8e7d6c5b4a3921", role=roles[(MEMBER, "WebServerInstanceRole")], ip="198.51.100.35",
                private="10.1.4.22", region="eu-west-1", az="eu-west-1a", az_id="euw1-az2"),
    ]
    return people, machines, roles, sso_users, saml_users, instances


# -- API calls a session makes ----------------------------------------------------------------------
BUCKETS = {MAIN: ["example-corp-web-assets", "example-corp-logs", "example-corp-terraform-state"],
           MEMBER: ["example-corp-member-data", "example-corp-member-backups"]}


def _console_call(day, t, ident, ip, ua, account, region, readonly_role=False):
    """One API call the console makes on behalf of a signed-in user."""
    rng = day.rng
    pick = rng.random()
    if pick < 0.22:
        return day.api(t, ident, "ec2.amazonaws.com", "DescribeInstances", region, ip, CONSOLE_UA, account,
                       req={"maxResults": 1000, "instancesSet": {}, "filterSet": {}}, console=True)
    if pick < 0.30:
        return day.api(t, ident, "ec2.amazonaws.com", "DescribeSecurityGroups", region, ip, CONSOLE_UA, account,
                       req={"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}, console=True)
    if pick < 0.40:
        return day.api(t, ident, "s3.amazonaws.com", "ListBuckets", "us-east-1", ip, S3_CONSOLE_UA, account,
                       req={"Host": "s3.amazonaws.com"}, host="s3.amazonaws.com", console=True,
                       aed=_s3_aed(day), request_id=day.s3_request_id(), version="1.09")
    if pick < 0.47:
        bucket = rng.choice(BUCKETS[account])
        return day.api(t, ident, "s3.amazonaws.com", "GetBucketLocation", "us-east-1", ip, S3_CONSOLE_UA, account,
                       req={"bucketName": bucket, "Host": "%s.s3.amazonaws.com" % bucket, "location": ""},
                       host="%s.s3.amazonaws.com" % bucket, console=True, aed=_s3_aed(day),
                       request_id=day.s3_request_id(), version="1.09",
                       resources=[{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}])
    if pick < 0.55:
        name = rng.choice(["ListUsers", "ListRoles", "GetAccountSummary", "ListPolicies", "ListGroups"])
        req = {"scope": "Local", "onlyAttached": False} if name == "ListPolicies" else None
        return day.api(t, ident, "iam.amazonaws.com", name, "us-east-1", ip, CONSOLE_UA, account, req=req,
                       console=True)
    if pick < 0.62:
        return day.api(t, ident, "cloudtrail.amazonaws.com", "LookupEvents", region, ip, CONSOLE_UA, account,
                       req={"maxResults": 50, "lookupAttributes": [{"attributeKey": "ReadOnly", "attributeValue": "false"}]},
                       console=True)
    if pick < 0.68:
        return day.api(t, ident, "health.amazonaws.com", "DescribeEventAggregates", "us-east-1", ip, CONSOLE_UA,
                       account, req={"aggregateField": "eventTypeCategory",
                                     "filter": {"eventStatusCodes": ["open", "upcoming"]}}, console=True)
    if pick < 0.74:
        return day.api(t, ident, "ce.amazonaws.com", "GetCostAndUsage", "us-east-1", ip, CONSOLE_UA, account,
                       req={"timePeriod": {"start": day.date[:8] + "01", "end": day.date},
                            "granularity": "DAILY", "metrics": ["UnblendedCost"]}, console=True)
    if pick < 0.80:
        return day.api(t, ident, "logs.amazonaws.com", "DescribeLogGroups", region, ip, CONSOLE_UA, account,
                       req={"limit": 50}, console=True)
    if pick < 0.86:
        return day.api(t, ident, "lambda.amazonaws.com", "ListFunctions20150331", region, ip, CONSOLE_UA, account,
                       console=True, version="1.08")
    if pick < 0.93:
        return day.api(t, ident, "ec2.amazonaws.com", "DescribeRegions", region, ip, CONSOLE_UA, account,
                       req={"regionSet": {}, "allRegions": False}, console=True)
    if readonly_role and rng.random() < 0.5:
        arn = ident.get("arn")
        return day.api(t, ident, "iam.amazonaws.com", "CreateAccessKey", "us-east-1", ip, CONSOLE_UA, account,
                       req={"userName": "svc-reporting"}, read_only=False, console=True,
                       error=("AccessDenied", "User: %s is not authorized to perform: iam:CreateAccessKey on resource: "
                              "user svc-reporting because no identity-based policy allows the iam:CreateAccessKey "
                              "action" % arn))
    return day.api(t, ident, "cloudformation.amazonaws.com", "DescribeStacks", region, ip, CONSOLE_UA, account,
                   req=None, console=True)


def _s3_aed(day):
    return {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": base64.b64encode(bytes(day.rng.getrandbits(8) for _ in range(48))).decode(),
            "bytesTransferredOut": day.rng.randint(300, 4000)}


def _instance_call(day, t, inst, key, created):
    rng = day.rng
    ident = day.role_session(inst.role, inst.id, key, created, ec2=True)
    account = inst.role.account
    pick = rng.random()
    if pick < 0.45:
        return day.api(t, ident, "ssm.amazonaws.com", "UpdateInstanceInformation", inst.region, inst.ip, SSM_UA,
                       account, read_only=False,
                       req={"instanceId": inst.id, "agentVersion": "3.3.1142.0", "agentStatus": "Active",
                            "platformType": "Linux", "platformName": "Amazon Linux", "platformVersion": "2023",
                            "iPAddress": inst.private, "computerName": "ip-%s.ec2.internal" % inst.private.replace(".", "-"),
                            "agentName": "amazon-ssm-agent", "availabilityZone": inst.az,
                            "availabilityZoneId": inst.az_id,
                            "sSMConnectionChannel": "ssmmessages"})
    if pick < 0.65:
        key_id = "arn:aws:kms:%s:%s:key/%s" % (inst.region, account, "0d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
        return day.api(t, ident, "kms.amazonaws.com", "Decrypt", inst.region, inst.private, BOTO_UA, account,
                       req={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                       resources=[{"accountId": account, "type": "AWS::KMS::Key", "ARN": key_id}],
                       vpce="vpce-0a1b2c3d4e5f67890")
    if pick < 0.80:
        return day.api(t, ident, "secretsmanager.amazonaws.com", "GetSecretValue", inst.region, inst.ip, BOTO_UA,
                       account, req={"secretId": "prod/web/database"})
    if pick < 0.92:
        bucket = BUCKETS[account][0]
        return day.api(t, ident, "s3.amazonaws.com", "GetBucketLocation", inst.region, inst.private, GO_UA % "s3#1.71.0",
                       account, req={"bucketName": bucket, "Host": "%s.s3.amazonaws.com" % bucket, "location": ""},
                       host="%s.s3.amazonaws.com" % bucket, aed=_s3_aed(day), request_id=day.s3_request_id(),
                       version="1.09", vpce="vpce-0f9e8d7c6b5a43210",
                       resources=[{"type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::%s" % bucket}])
    return day.api(t, ident, "ec2.amazonaws.com", "DescribeTags", inst.region, inst.ip, BOTO_UA, account,
                   req={"filterSet": {"items": [{"name": "resource-id", "valueSet": {"items": [{"value": inst.id}]}}]}})


# -- benign traffic ---------------------------------------------------------------------------------
def _benign_people(day, people, roles):
    """IAM users: one or two console sessions each, a few typos and mistakes below every threshold."""
    rng = day.rng
    day.begin("iam-users-with-mfa", "benign",
              "IAM users signing in with MFA (CheckMfa, ConsoleLogin), 1-2 sessions each from one address, "
              "console API calls, a few switching roles into the member account")
    # mistakes, each in its own hour so that no office-wide burst forms: (user, kind)
    mistakes = {"carol": "typo2", "erin": "typo1", "frank": "typo2", "ken": "typo1", "ivan": "mfa_code",
                "liam": "unknown_name", "judy": "typo1"}
    slot_hours = iter([7, 8, 9, 10, 11, 13, 15])
    for u in people:
        if u.name in ("heidi",):
            continue  # heidi's morning is part of an attack scenario
        first = day.at(rng.choice([7, 8, 9]), rng.randint(0, 59), rng.randint(0, 59))
        starts = [first]
        if rng.random() < 0.6:
            starts.append(day.at(rng.choice([13, 14, 15, 16]), rng.randint(0, 59), rng.randint(0, 59)))
        if u.name == "grace":
            starts = [day.at(8, 2, 13), day.at(15, 31, 40)]  # far from her attack scenario at 11:47
        kind = mistakes.get(u.name)
        if kind:
            starts[0] = day.at(next(slot_hours), rng.randint(5, 50), rng.randint(0, 59))
        for n, start in enumerate(starts):
            t = start
            if kind and n == 0:
                if kind.startswith("typo"):
                    for _ in range(int(kind[-1])):
                        day.user_login_failure(t, u, u.ip, u.ua)
                        t += rng.randint(6, 25)
                elif kind == "unknown_name":
                    day.unknown_user_failure(t, u.account, u.ip, u.ua)
                    t += rng.randint(8, 20)
                elif kind == "mfa_code":
                    day.check_mfa(t, u, u.ip, u.ua, ok=False)
                    day.user_login_failure(t + 1, u, u.ip, u.ua, mfa_stage=True)
                    t += rng.randint(20, 40)
            day.check_mfa(t, u, u.ip, u.ua)
            t += rng.randint(2, 6)
            day.user_login_success(t, u, u.ip, u.ua, mfa=True)
            _console_session(day, t, u, roles, rng.randint(25, 120) * 60)


def _console_session(day, login, u, roles, length, calls=None):
    rng = day.rng
    key = day.temp_key()
    ident = day.iam_user(u, key=key, session_created=login, mfa=True)
    region = rng.choice(["us-east-1", "us-east-1", "eu-west-1"])
    end = login + length
    day.sessions.append((login, end, ident, u.ip, u.account, region, False))
    for _ in range(calls if calls is not None else rng.randint(4, 10)):
        _console_call(day, rng.randint(login + 3, end), ident, u.ip, u.ua, u.account, region)
    if u.job in ("admin", "ops") and rng.random() < 0.7:
        t = rng.randint(login + 60, end)
        target = roles[(MEMBER, "OrganizationAccountAccessRole")]
        sw = day.role_session(target, u.name, day.temp_key(), t)
        day.signin(t, sw, "SwitchRole", u.ip, u.ua, MEMBER,
                   aed={"SwitchFrom": u.arn, "RedirectTo": "https://console.aws.amazon.com/ec2/home?region=eu-west-1"})
        day.sessions.append((t, t + 1800, sw, u.ip, MEMBER, "eu-west-1", False))
        for _ in range(rng.randint(2, 6)):
            _console_call(day, rng.randint(t + 5, t + 1800), sw, u.ip, u.ua, MEMBER, "eu-west-1")


def _benign_sso(day, sso_users, roles):
    rng = day.rng
    day.begin("identity-center-sessions", "benign",
              "IAM Identity Center users: Identity Center sign-in (password + TOTP), the portal's GetSigninToken "
              "(Jersey/${project.version} from the AWSReservedSSO_* session) and ConsoleLogin, into both accounts")
    permission_sets = ["AWSReservedSSO_AdministratorAccess_0123abcd4567ef89",
                       "AWSReservedSSO_ReadOnlyAccess_89ab01cd23ef4567",
                       "AWSReservedSSO_PowerUserAccess_4567ef890123abcd"]
    for u in sso_users:
        for start in sorted(day.at(h, rng.randint(0, 59), rng.randint(0, 59))
                            for h in rng.sample([7, 8, 9, 10, 13, 14, 15, 16], rng.randint(1, 2))):
            t = start
            workflow = day.uuid()
            for ctype in ("PASSWORD", "TOTP"):
                day.ic_event(t, "CredentialChallenge", u.email.split("@")[0], u.ip, u.ua, ctype, workflow=workflow)
                t += rng.randint(4, 15)
                day.ic_event(t, "CredentialVerification", u.email.split("@")[0], u.ip, u.ua, ctype, workflow=workflow)
                t += 1
            day.ic_event(t, "UserAuthentication", u.email.split("@")[0], u.ip, u.ua, "PASSWORD,TOTP", workflow=workflow)
            t += rng.randint(10, 40)
            for account in rng.sample([MAIN, MEMBER], rng.randint(1, 2)):
                ps = rng.choice(permission_sets)
                role = roles[(account, ps)]
                key = day.temp_key()
                ident = day.role_session(role, u.email, key, t)
                day.signin_token(t, ident, u.ip, PORTAL_UA, account)
                t += rng.randint(1, 3)
                day.role_console_login(t, ident, u.ip, u.ua, account, region=IC_REGION, login_to=False)
                end = t + rng.randint(20, 90) * 60
                day.sessions.append((t, end, ident, u.ip, account, "us-east-1", "ReadOnly" in ps))
                for _ in range(rng.randint(3, 8)):
                    _console_call(day, rng.randint(t + 3, end), ident, u.ip, u.ua, account, "us-east-1",
                                  readonly_role="ReadOnly" in ps)
                t += rng.randint(60, 600)


def _benign_saml(day, saml_users, roles):
    rng = day.rng
    day.begin("saml-sessions", "benign",
              "Okta SAML federation: AssumeRoleWithSAML then ConsoleLogin with SamlProviderArn")
    role = roles[(MAIN, "OktaDevelopers")]
    provider = "arn:aws:iam::%s:saml-provider/Okta" % MAIN
    idp = base64.b64encode(bytes(rng.getrandbits(8) for _ in range(21))).decode()
    for u in saml_users:
        t = day.at(rng.choice([8, 9, 10, 14]), rng.randint(0, 59), rng.randint(0, 59))
        key = day.temp_key()
        saml_ident = {"type": "SAMLUser", "principalId": "%s:%s" % (idp, u.email), "userName": u.email,
                      "identityProvider": idp}
        session_arn = "arn:aws:sts::%s:assumed-role/%s/%s" % (MAIN, role.name, u.email)
        day.api(t, saml_ident, "sts.amazonaws.com", "AssumeRoleWithSAML", "us-east-1", u.ip, u.ua, MAIN,
                req={"sAMLAssertionID": "id" + day.chars(30, "0123456789abcdef"), "roleSessionName": u.email,
                     "durationSeconds": 43200, "roleArn": role.arn, "principalArn": provider},
                resp={"credentials": day.credentials(t, key, 43200),
                      "assumedRoleUser": {"assumedRoleId": "%s:%s" % (role.rid, u.email), "arn": session_arn},
                      "subject": u.email, "subjectType": "unspecified",
                      "issuer": "http://www.okta.com/exk1example0abc2def3", "audience": "https://signin.aws.amazon.com/saml",
                      "nameQualifier": idp},
                resources=[{"accountId": MAIN, "type": "AWS::IAM::Role", "ARN": role.arn},
                           {"accountId": MAIN, "type": "AWS::IAM::SAMLProvider", "ARN": provider}],
                host="signin.aws.amazon.com", version="1.08")
        t += rng.randint(1, 3)
        ident = day.role_session(role, u.email, key, t)
        day.role_console_login(t, ident, u.ip, u.ua, MAIN, saml=provider)
        end = t + rng.randint(30, 120) * 60
        day.sessions.append((t, end, ident, u.ip, MAIN, "us-east-1", False))
        for _ in range(rng.randint(3, 8)):
            _console_call(day, rng.randint(t + 3, end), ident, u.ip, u.ua, MAIN, "us-east-1")


def _benign_machines(day, machines, roles, instances):
    """Instance roles and their credential deliveries, CI runs, the reporting key."""
    rng = day.rng
    day.begin("machines", "benign",
              "EC2 instance roles (credentials delivered by ec2.amazonaws.com, SSM, KMS, S3, Secrets Manager), "
              "CI assuming DeployRole with an access key, a reporting key; never the console")
    inst_keys = {}
    for inst in instances:
        for hour in range(0, 24, 6):
            t = day.at(hour, rng.randint(0, 10), rng.randint(0, 59))
            key = day.assume_role(t, {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}, inst.role, inst.id,
                                  "ec2.amazonaws.com", "ec2.amazonaws.com", region=inst.region, duration=21600,
                                  global_endpoint=False, service=True)
            inst_keys.setdefault(inst.id, []).append((t, key))
    day.instance_keys = inst_keys
    ci = machines["ci-deployer"]
    deploy = roles[(MAIN, "DeployRole")]
    day.ci_runs = []
    for n, hour in enumerate([6, 8, 9, 10, 11, 13, 14, 15, 16, 17]):
        t = day.at(hour, rng.randint(0, 59), rng.randint(0, 59))
        session = "ci-run-%d" % (4400 + n * 7 + rng.randint(0, 6))
        key = day.assume_role(t, day.iam_user(ci), deploy, session, ci.ip, TERRAFORM_UA % "sts#1.33.2")
        day.ci_runs.append((t, day.role_session(deploy, session, key, t)))
    rep = machines["svc-reporting"]
    day.reporting = rep
    day.ci_bot = machines["ci-bot"]


def _noise(day, instances, target):
    """API noise until the day holds about ``target`` records."""
    rng = day.rng
    day.begin("api-noise", "benign", "background API calls of the machines and console sessions above")
    rep, bot = day.reporting, day.ci_bot
    while len(day.records) < target:
        pick = rng.random()
        if pick < 0.45:
            inst = rng.choice(instances)
            t0, key = rng.choice(day.instance_keys[inst.id])
            _instance_call(day, day.clamp(rng.randint(t0 + 5, t0 + 21500)), inst, key, t0)
        elif pick < 0.62:
            t0, ident = rng.choice(day.ci_runs)
            t = rng.randint(t0 + 2, t0 + 600)
            which = rng.random()
            if which < 0.3:
                day.api(t, ident, "sts.amazonaws.com", "GetCallerIdentity", "us-east-1", "198.51.100.20",
                        TERRAFORM_UA % "sts#1.33.2", MAIN, host="sts.us-east-1.amazonaws.com")
            elif which < 0.55:
                day.api(t, ident, "ecr.amazonaws.com", "GetAuthorizationToken", "us-east-1", "198.51.100.20",
                        TERRAFORM_UA % "ecr#1.36.7", MAIN, req={"registryIds": [MAIN]}, host="api.ecr.us-east-1.amazonaws.com")
            elif which < 0.8:
                day.api(t, ident, "cloudformation.amazonaws.com", "DescribeStacks", "us-east-1", "198.51.100.20",
                        TERRAFORM_UA % "cloudformation#1.56.1", MAIN, req={"stackName": "web-prod"})
            else:
                day.api(t, ident, "iam.amazonaws.com", "GetRole", "us-east-1", "198.51.100.20",
                        TERRAFORM_UA % "iam#1.38.2", MAIN, req={"roleName": "WebServerInstanceRole"})
        elif pick < 0.70:
            t = day.at(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
            ident = day.iam_user(rep)
            if rng.random() < 0.6:
                day.api(t, ident, "ce.amazonaws.com", "GetCostAndUsage", "us-east-1", rep.ip, BOTO_UA, MAIN,
                        req={"timePeriod": {"start": day.date[:8] + "01", "end": day.date}, "granularity": "DAILY",
                             "metrics": ["UnblendedCost", "UsageQuantity"],
                             "groupBy": [{"type": "DIMENSION", "key": "SERVICE"}]})
            else:
                day.api(t, ident, "s3.amazonaws.com", "ListBuckets", "us-east-1", rep.ip, BOTO_UA, MAIN,
                        req={"Host": "s3.amazonaws.com"}, host="s3.amazonaws.com", aed=_s3_aed(day),
                        request_id=day.s3_request_id(), version="1.09")
        elif pick < 0.75:
            t = day.at(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))
            ident = day.iam_user(bot)
            day.api(t, ident, "ecr.amazonaws.com", "BatchCheckLayerAvailability", "us-east-1", bot.ip,
                    GO_UA % "ecr#1.36.7", MAIN, req={"repositoryName": "web", "registryId": MAIN,
                                                      "layerDigests": ["sha256:" + day.chars(64, "0123456789abcdef")]},
                    host="api.ecr.us-east-1.amazonaws.com",
                    resources=[{"accountId": MAIN, "ARN": "arn:aws:ecr:us-east-1:%s:repository/web" % MAIN}])
        else:
            start, end, ident, ip, account, region, readonly = rng.choice(day.sessions)
            _console_call(day, rng.randint(start + 3, end), ident, ip, CONSOLE_UA, account, region,
                          readonly_role=readonly)


# -- attacks ----------------------------------------------------------------------------------------
def _attacks(day, people, machines, roles, instances):
    rng = day.rng
    by = {u.name: u for u in people}

    # A1 password spray: one address, six known users and two names that do not exist, 03:41
    ip = "203.0.113.77"
    day.begin("password-spray", "attack",
              "one address tries one password against six known IAM users (and two unknown names) in 4 minutes",
              [expect("password_spray_from_source", source_ip=ip)])
    t = day.at(3, 41, 7)
    sprayed = ["alice", "carol", "dave", "erin", "frank", "judy"]
    for n, name in enumerate(sprayed):
        day.user_login_failure(t, by[name], ip, "python-requests/2.32.3", with_arn=False, region="us-east-1")
        t += rng.randint(15, 40)
        if n in (1, 4):
            day.unknown_user_failure(t, MAIN, ip, "python-requests/2.32.3")
            t += rng.randint(10, 30)

    # A2 root brute force, then the root login from the same address, 04:10
    ip = "203.0.113.13"
    root_arn = "arn:aws:iam::%s:root" % MAIN
    day.begin("root-brute-force-then-login", "attack",
              "seven failed root sign-ins in six minutes, then a successful root login (no MFA) from the same address",
              [expect("root_console_brute_force", account_id=MAIN),
               expect("root_console_login", account_id=MAIN, source_ip=ip),
               expect("login_success_after_failures", account_id=MAIN, user=root_arn)])
    t = day.at(4, 10, 5)
    for _ in range(7):
        day.root_login(t, MAIN, ip, FIREFOX, ok=False)
        t += rng.randint(35, 55)
    t += 40
    day.root_login(t, MAIN, ip, FIREFOX, ok=True)
    rkey = day.temp_key()
    rid = day.root(MAIN, rkey, t)
    for n, name in enumerate(["GetAccountSummary", "ListUsers", "ListAccessKeys"]):
        day.api(t + 30 + 20 * n, rid, "iam.amazonaws.com", name, "us-east-1", ip, CONSOLE_UA, MAIN, console=True)

    # A3 token relay: stolen CI key -> AssumeRole -> scripted GetSigninToken -> ConsoleLogin elsewhere, 13:30
    ci = machines["ci-deployer"]
    script_ip, browser_ip = "203.0.113.50", "198.51.100.77"
    deploy, audit = roles[(MAIN, "DeployRole")], roles[(MAIN, "ReadOnlyAuditRole")]
    t = day.at(13, 30, 12)
    audit_session, deploy_session = "botocore-session-%d" % (t - 40), "botocore-session-%d" % t
    audit_arn = "arn:aws:sts::%s:assumed-role/ReadOnlyAuditRole/%s" % (MAIN, audit_session)
    deploy_arn = "arn:aws:sts::%s:assumed-role/DeployRole/%s" % (MAIN, deploy_session)
    day.begin("token-relay", "attack",
              "the CI access key used from a foreign address: one denied sign-in token request, then AssumeRole "
              "DeployRole, a sign-in token fetched by a script and the console opened from a second address",
              [expect("signin_token_denied", user=audit_arn, source_ip=script_ip),
               expect("signin_token_abuse", user=deploy_arn, source_ip=script_ip, user_agent="python-requests/2.32.3"),
               expect("signin_token_created", user=deploy_arn, source_ip=script_ip),
               expect("token_relay", user=deploy_arn)])
    day.api(t - 90, day.iam_user(ci), "sts.amazonaws.com", "GetCallerIdentity", "us-east-1", script_ip,
            CLI_UA % "sts.get-caller-identity", MAIN, host="sts.amazonaws.com")
    akey = day.assume_role(t - 40, day.iam_user(ci), audit, audit_session, script_ip, BOTO_UA)
    day.signin_token(t - 30, day.role_session(audit, audit_session, akey, t - 40), script_ip,
                     "python-requests/2.32.3", MAIN, denied=True)
    dkey = day.assume_role(t, day.iam_user(ci), deploy, deploy_session, script_ip, BOTO_UA)
    dident = day.role_session(deploy, deploy_session, dkey, t)
    day.signin_token(t + 4, dident, script_ip, "python-requests/2.32.3", MAIN)
    day.role_console_login(t + 128, dident, browser_ip, CHROME_WIN, MAIN)
    for n in range(4):
        _console_call(day, t + 160 + 45 * n, dident, browser_ip, CHROME_WIN, MAIN, "us-east-1")

    # A4 federated user: ci-bot's key -> GetFederationToken -> GetSigninToken -> ConsoleLogin, 15:10
    bot = machines["ci-bot"]
    ip = "198.51.100.200"
    fed_arn = "arn:aws:sts::%s:federated-user/admin" % MAIN
    day.begin("federated-console", "attack",
              "aws_consoler-style pivot: GetFederationToken with an allow-all policy, a scripted sign-in token "
              "and a FederatedUser console login, all from one address",
              [expect("federated_user_console_login", user=fed_arn, source_ip=ip),
               expect("signin_token_abuse", user=fed_arn, source_ip=ip, user_agent="Python-urllib/3.12"),
               expect("signin_token_created", user=fed_arn, source_ip=ip)])
    t = day.at(15, 10, 44)
    fkey = day.temp_key()
    day.api(t, day.iam_user(bot), "sts.amazonaws.com", "GetFederationToken", "us-east-1", ip, BOTO_UA, MAIN,
            req={"name": "admin", "durationSeconds": 129600,
                 "policy": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"*\", \"Resource\": \"*\"}]}"},
            resp={"credentials": day.credentials(t, fkey, 129600),
                  "federatedUser": {"federatedUserId": "%s:admin" % MAIN, "arn": fed_arn}, "packedPolicySize": 5},
            host="sts.amazonaws.com")
    fident = {"type": "FederatedUser", "principalId": "%s:admin" % MAIN, "arn": fed_arn, "accountId": MAIN,
              "accessKeyId": fkey,
              "sessionContext": {"sessionIssuer": {"type": "IAMUser", "principalId": bot.pid, "arn": bot.arn,
                                                   "accountId": MAIN, "userName": bot.name},
                                 "webIdFederationData": {},
                                 "attributes": {"creationDate": day.iso(t), "mfaAuthenticated": "false"}}}
    day.signin_token(t + 3, fident, ip, "Python-urllib/3.12", MAIN)
    day.role_console_login(t + 9, fident, ip, CHROME_MAC, MAIN, login_to=False)
    for n in range(5):
        _console_call(day, t + 30 + 50 * n, fident, ip, CHROME_MAC, MAIN, "us-east-1")

    # A3b the same pivot with the portal's user agent: dave's stolen access key, 17:40
    dave, audit = by["dave"], roles[(MAIN, "ReadOnlyAuditRole")]
    script_ip, browser_ip = "203.0.113.140", "198.51.100.90"
    t = day.at(17, 40, 26)
    session = "dave-cli"
    spoof_arn = "arn:aws:sts::%s:assumed-role/ReadOnlyAuditRole/%s" % (MAIN, session)
    day.begin("spoofed-portal-user-agent", "attack",
              "dave's access key assumes ReadOnlyAuditRole and fetches a sign-in token with the Identity Center "
              "portal's user agent (any script can send it), then the console is opened from another address",
              [expect("signin_token_abuse", user=spoof_arn, source_ip=script_ip, user_agent=PORTAL_UA),
               expect("signin_token_created", user=spoof_arn, source_ip=script_ip),
               expect("token_relay", user=spoof_arn)])
    skey = day.assume_role(t, day.iam_user(dave), audit, session, script_ip, CLI_UA % "sts.assume-role")
    sident = day.role_session(audit, session, skey, t)
    day.signin_token(t + 15, sident, script_ip, PORTAL_UA, MAIN)
    day.role_console_login(t + 200, sident, browser_ip, CHROME_WIN, MAIN)
    for n in range(3):
        _console_call(day, t + 230 + 60 * n, sident, browser_ip, CHROME_WIN, MAIN, "us-east-1")

    # A5 EC2 instance credentials taken off the web server and used for the console, 19:22
    inst = instances[0]
    ip = "203.0.113.51"
    created, ikey = [k for k in day.instance_keys[inst.id] if k[0] <= day.at(19, 22)][-1]
    iident = day.role_session(inst.role, inst.id, ikey, created, ec2=True)
    inst_arn = iident["arn"]
    day.begin("ec2-credentials-console", "attack",
              "the web server's instance-profile credentials (stolen through IMDS) used from outside: "
              "GetCallerIdentity, a scripted sign-in token and a console login",
              [expect("ec2_instance_credentials_console", user=inst_arn, source_ip=ip),
               expect("signin_token_abuse", user=inst_arn, source_ip=ip, user_agent="python-requests/2.31.0"),
               expect("signin_token_created", user=inst_arn, source_ip=ip)])
    t = day.at(19, 22, 3)
    day.api(t, iident, "sts.amazonaws.com", "GetCallerIdentity", "us-east-1", ip, CLI_UA % "sts.get-caller-identity",
            MAIN, host="sts.us-east-1.amazonaws.com")
    day.api(t + 20, iident, "s3.amazonaws.com", "ListBuckets", "us-east-1", ip, CLI_UA % "s3.ls", MAIN,
            req={"Host": "s3.amazonaws.com"}, host="s3.amazonaws.com", aed=_s3_aed(day),
            request_id=day.s3_request_id(), version="1.09")
    day.signin_token(t + 61, iident, ip, "python-requests/2.31.0", MAIN)
    day.role_console_login(t + 70, iident, ip, FIREFOX, MAIN)

    # A6 login profile backdoor: an admin role session gives svc-reporting a password, then logs in as it, 21:05
    admin = roles[(MAIN, "AdminRole")]
    rep = machines["svc-reporting"]
    ip = "192.0.2.99"
    day.begin("login-profile-backdoor", "attack",
              "an AdminRole session sets a console password on the service user svc-reporting and signs in as "
              "it (no MFA) from the same address nine minutes later",
              [expect("login_profile_then_login", account_id=MAIN, user=rep.name),
               expect("console_login_without_mfa", account_id=MAIN, user=rep.name)])
    t = day.at(21, 5, 31)
    session = "terraform-%d" % (t - 300)
    akey = day.assume_role(t - 300, day.iam_user(machines["ci-deployer"]), admin, session, ip, CLI_UA % "sts.assume-role")
    aident = day.role_session(admin, session, akey, t - 300)
    day.api(t - 120, aident, "iam.amazonaws.com", "ListUsers", "us-east-1", ip, CLI_UA % "iam.list-users", MAIN)
    day.api(t, aident, "iam.amazonaws.com", "CreateLoginProfile", "us-east-1", ip, CLI_UA % "iam.create-login-profile",
            MAIN, read_only=False, req={"userName": rep.name, "passwordResetRequired": False},
            resp={"loginProfile": {"userName": rep.name, "createDate": day.aws_date(t), "passwordResetRequired": False}})
    day.user_login_success(t + 540, rep, ip, FIREFOX, mfa=False)
    ident = day.iam_user(rep, key=day.temp_key(), session_created=t + 540, mfa=False)
    for n in range(3):
        _console_call(day, t + 570 + 40 * n, ident, ip, FIREFOX, MAIN, "us-east-1")

    # A7 root password recovery in the member account, then root login, 14:02
    ip = "203.0.113.99"
    day.begin("root-password-recovery", "attack",
              "\"Forgot password\" for the member account's root: recovery requested and completed, password "
              "updated, root login, from one address",
              [expect("root_password_recovery_requested", account_id=MEMBER, source_ip=ip),
               expect("root_password_changed", account_id=MEMBER, source_ip=ip),
               expect("root_console_login", account_id=MEMBER, source_ip=ip)])
    t = day.at(14, 2, 17)
    day.signin(t, day.root(MEMBER), "PasswordRecoveryRequested", ip, CHROME_WIN, MEMBER,
               aed={"MobileVersion": "No"})
    day.signin(t + 212, day.root(MEMBER), "PasswordRecoveryCompleted", ip, CHROME_WIN, MEMBER,
               aed={"MobileVersion": "No"})
    day.signin(t + 241, day.root(MEMBER), "PasswordUpdated", ip, CHROME_WIN, MEMBER,
               aed={"MobileVersion": "No", "MFAUsed": "No"})
    day.root_login(t + 275, MEMBER, ip, CHROME_WIN, ok=True)

    # A8 policy finding: a new hire's first login, before MFA is set up (10:21)
    alice, nina_ip = by["alice"], "192.0.2.44"
    nina = _Person(name="nina", account=MAIN, pid=day.principal("AIDA"), arn="arn:aws:iam::%s:user/nina" % MAIN,
                   ip=nina_ip, ua=CHROME_WIN, mfa="mfa/nina", job="dev", key=day.long_key(), signin_region="us-east-1")
    day.begin("new-hire-without-mfa", "policy",
              "alice creates the IAM user nina with a console password (reset required) from the office; nina "
              "signs in from home without MFA, changes the password, registers a virtual MFA device and signs in "
              "with it in the afternoon",
              [expect("console_login_without_mfa", account_id=MAIN, user="nina")])
    t = day.at(10, 1, 40)
    aid = day.iam_user(alice, key=day.temp_key(), session_created=t - 900, mfa=True)
    day.api(t, aid, "iam.amazonaws.com", "CreateUser", "us-east-1", OFFICE_IP, CONSOLE_UA, MAIN, read_only=False,
            req={"userName": "nina"}, resp={"user": {"path": "/", "userName": "nina", "userId": nina.pid,
                                                    "arn": nina.arn, "createDate": day.aws_date(t)}}, console=True)
    day.api(t + 12, aid, "iam.amazonaws.com", "AddUserToGroup", "us-east-1", OFFICE_IP, CONSOLE_UA, MAIN,
            read_only=False, req={"groupName": "Developers", "userName": "nina"}, console=True)
    day.api(t + 31, aid, "iam.amazonaws.com", "CreateLoginProfile", "us-east-1", OFFICE_IP, CONSOLE_UA, MAIN,
            read_only=False, req={"userName": "nina", "passwordResetRequired": True},
            resp={"loginProfile": {"userName": "nina", "createDate": day.aws_date(t + 31), "passwordResetRequired": True}},
            console=True)
    t = day.at(10, 21, 5)
    day.user_login_success(t, nina, nina_ip, nina.ua, mfa=False)
    day.signin(t + 48, {"type": "IAMUser", "principalId": nina.pid, "arn": nina.arn, "accountId": MAIN,
                        "userName": "nina"}, "PasswordUpdated", nina_ip, nina.ua, MAIN,
               aed={"LoginTo": day.login_to(False), "MobileVersion": "No", "MFAUsed": "No"})
    nid = day.iam_user(nina, key=day.temp_key(), session_created=t, mfa=False)
    day.api(t + 300, nid, "iam.amazonaws.com", "CreateVirtualMFADevice", "us-east-1", nina_ip, CONSOLE_UA, MAIN,
            read_only=False, req={"virtualMFADeviceName": "nina", "path": "/"},
            resp={"virtualMFADevice": {"serialNumber": "arn:aws:iam::%s:mfa/nina" % MAIN}}, console=True)
    day.api(t + 340, nid, "iam.amazonaws.com", "EnableMFADevice", "us-east-1", nina_ip, CONSOLE_UA, MAIN,
            read_only=False, req={"userName": "nina", "serialNumber": "arn:aws:iam::%s:mfa/nina" % MAIN}, console=True)
    t = day.at(14, 40, 19)
    day.check_mfa(t, nina, nina_ip, nina.ua)
    day.user_login_success(t + 4, nina, nina_ip, nina.ua, mfa=True)

    # A9 MFA-stage failures: grace's password is known, the MFA code is not, 11:47
    grace = by["grace"]
    ip = "203.0.113.88"
    day.begin("mfa-challenge-failures", "attack",
              "grace's correct password from a foreign address, four wrong MFA codes in five minutes, then a "
              "phished code that works",
              [expect("mfa_challenge_failures", account_id=MAIN, user="grace"),
               expect("login_success_after_failures", account_id=MAIN, user="grace")])
    t = day.at(11, 47, 2)
    for _ in range(4):
        day.check_mfa(t, grace, ip, CHROME_WIN, ok=False)
        day.user_login_failure(t + 1, grace, ip, CHROME_WIN, mfa_stage=True)
        t += rng.randint(50, 80)
    t += 90
    day.check_mfa(t, grace, ip, CHROME_WIN)
    day.user_login_success(t + 3, grace, ip, CHROME_WIN, mfa=True)
    gident = day.iam_user(grace, key=day.temp_key(), session_created=t + 3, mfa=True)
    for n in range(4):
        _console_call(day, t + 30 + 40 * n, gident, ip, CHROME_WIN, MAIN, "us-east-1")

    # A10 user-name enumeration: twelve names that do not exist, one scripted address, 05:20
    ip = "192.0.2.250"
    day.begin("username-enumeration", "attack",
              "twelve sign-ins with user names that do not exist from one address in six minutes",
              [expect("unknown_user_enumeration", source_ip=ip),
               expect("failed_logins_from_source", source_ip=ip)])
    t = day.at(5, 20, 9)
    for _ in range(12):
        day.unknown_user_failure(t, MAIN, ip, "Go-http-client/1.1")
        t += rng.randint(20, 35)

    # A11 distributed brute force against bob: eleven residential proxies, one attempt each, 02:05
    bob = by["bob"]
    day.begin("distributed-brute-force", "attack",
              "eleven failed passwords for bob in twelve minutes, each from a different address",
              [expect("failed_logins_for_user", account_id=MAIN, user="bob")])
    t = day.at(2, 5, 40)
    for n in range(11):
        day.user_login_failure(t, bob, "203.0.113.%d" % (200 + n), CHROME_WIN)
        t += rng.randint(50, 70)

    # A12 heidi signs in from home, and four minutes later from an address she never uses (with MFA), 09:00
    heidi = by["heidi"]
    day.begin("concurrent-logins", "attack",
              "heidi's MFA sign-in from home and another MFA sign-in four minutes later from a foreign address "
              "(a phished session)",
              [expect("concurrent_logins_multiple_ips", account_id=MAIN, user="heidi")])
    t = day.at(9, 0, 12)
    day.check_mfa(t, heidi, heidi.ip, heidi.ua)
    day.user_login_success(t + 3, heidi, heidi.ip, heidi.ua, mfa=True)
    day.check_mfa(t + 241, heidi, "203.0.113.120", CHROME_WIN)
    day.user_login_success(t + 244, heidi, "203.0.113.120", CHROME_WIN, mfa=True)
    _console_session(day, t + 3, heidi, roles, 3600, calls=5)


def generate_day(seed=20260310, date="2026-03-10", size=4000):
    """The records of one day (about ``size``, at least what the scenarios need) and the labels.

    Records are ordered by eventTime, shuffled inside each 5-minute delivery file as CloudTrail
    writes them; duplicates (two trails) carry the same eventID. Deterministic for (seed, date, size).
    """
    day = _Day(seed, date)
    people, machines, roles, sso_users, saml_users, instances = _cast(day)
    _benign_machines(day, machines, roles, instances)
    _benign_people(day, people, roles)
    _benign_sso(day, sso_users, roles)
    _benign_saml(day, saml_users, roles)
    _attacks(day, people, machines, roles, instances)
    _noise(day, instances, size)
    buckets = {}
    for record in day.records:
        buckets.setdefault(record["eventTime"][:15] + str(int(record["eventTime"][15]) // 5), []).append(record)
    records = []
    for key in sorted(buckets):
        chunk = sorted(buckets[key], key=lambda r: (r["eventTime"], r["eventID"]))
        day.rng.shuffle(chunk)
        records.extend(chunk)
    labels = []
    for label in day.labels:
        label = dict(label)
        label["building_blocks"] = dict(label["building_blocks"])
        labels.append(label)
    return records, labels


def write(records, path):
    """NDJSON for .ndjson / .jsonl (optionally .gz), else a CloudTrail file {"Records": [...]}."""
    path = str(path)
    ndjson = path.endswith((".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz"))
    text = ("\n".join(json.dumps(r, separators=(",", ":")) for r in records) + "\n" if ndjson
            else json.dumps({"Records": records}, separators=(",", ":")))
    data = text.encode("utf-8")
    if path.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    with open(path, "wb") as f:
        f.write(data)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m harness.realday", description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="output file: .ndjson/.jsonl[.gz] for NDJSON, else a CloudTrail .json[.gz]")
    parser.add_argument("--seed", type=int, default=20260310)
    parser.add_argument("--date", default="2026-03-10", help="YYYY-MM-DD (UTC)")
    parser.add_argument("--size", type=int, default=4000, help="about how many records (default 4000)")
    parser.add_argument("--labels", metavar="FILE", help="also write the labels (JSON)")
    args = parser.parse_args(argv)
    try:
        time.strptime(args.date, "%Y-%m-%d")
    except ValueError:
        parser.error("--date must be YYYY-MM-DD")
    records, labels = generate_day(seed=args.seed, date=args.date, size=args.size)
    write(records, args.out)
    if args.labels:
        with open(args.labels, "w") as f:
            json.dump(labels, f, indent=1)
    unique = len({r["eventID"] for r in records})
    sys.stderr.write("%d records (%d distinct eventIDs) written to %s\n" % (len(records), unique, args.out))
    for label in labels:
        if label["kind"] != "benign":
            sys.stderr.write("  %-7s %-28s %s\n" % (label["kind"], label["name"],
                                                   ", ".join(e["detection"] for e in label["expect"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
