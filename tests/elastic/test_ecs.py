"""CloudTrail -> ECS as the AWS integration's ingest pipeline writes it (harness.elastic.ecs),
and the index mapping the evaluators and the Docker tier share (harness.elastic.mapping).

Each sign-in variant's expected document is written out in full: it is what
logs-aws.cloudtrail-* holds for that record (AWS package 8.9.0, pipeline elastic/integrations@3ab4281;
first written for @0046748, updated where 8.9.0 changed behaviour, each change commented with the
processor tag), minus the
GeoIP / user-agent-parsing / entity fields we do not compute offline. Java HashMap key orders in
the ``Map.toString()`` strings were checked against java.util.HashMap (JDK 25).
"""
import copy
import itertools
import random
import shutil
import string
import subprocess

import pytest

from harness.elastic import mapping
from harness.elastic.ecs import EcsMappingError, get_field, java_to_string, to_ecs

INGESTED = "2026-01-15T17:00:00Z"


FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CHROME = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
TLS_GLOBAL = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
              "clientProvidedHostHeader": "signin.aws.amazon.com"}
LOGIN_TO = ("https://console.aws.amazon.com/console/home?hashArgs=%23&isauthcode=false"
            "&state=hashArgsFromTB_us-east-1_7f3e2a91c0b4d5e6")

IAM_USER_SUCCESS_NO_MFA = {
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
    "sourceIPAddress": "198.51.100.10",
    "userAgent": FIREFOX,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"LoginTo": LOGIN_TO, "MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "0f3f6c1e-6a51-4a53-9a7e-2d1c5b7e9a01",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

IAM_USER_SUCCESS_WITH_MFA = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEUSERID0001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "userName": "alice",
    },
    "eventTime": "2026-01-15T09:14:30Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-2",
    "sourceIPAddress": "198.51.100.10",
    "userAgent": FIREFOX,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home?isauthcode=true&state=hashArgsFromTB_us-east-2_5d1c",
        "MobileVersion": "No",
        "MFAIdentifier": "arn:aws:iam::111122223333:mfa/alice-phone",
        "MFAUsed": "Yes",
    },
    "eventID": "5b8d2f44-1c3e-4f0a-8e61-7a9c3d2b1e02",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                   "clientProvidedHostHeader": "us-east-2.signin.aws.amazon.com"},
}

IAM_USER_FAILURE = {
    "eventVersion": "1.09",
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
    "userAgent": FIREFOX,
    "errorMessage": "Failed authentication",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {"LoginTo": LOGIN_TO, "MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "9c2e7b10-4d6f-4e8a-b3c1-5f0a2d9e8c03",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

UNKNOWN_USER_FAILURE = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "accountId": "111122223333",
        "accessKeyId": "",
        "userName": "HIDDEN_DUE_TO_SECURITY_REASONS",
    },
    "eventTime": "2026-01-15T03:02:17Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "192.0.2.55",
    "userAgent": "Go-http-client/1.1",
    "errorMessage": "No username found in supplied account",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {"LoginTo": "https://console.aws.amazon.com", "MobileVersion": "No",
                            "MFAUsed": "No"},
    "eventID": "2a4c6e80-1b3d-4f5a-9c7e-0d2f4a6b8c04",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

ROOT_SUCCESS = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "",
    },
    "eventTime": "2026-01-15T11:30:00Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.20",
    "userAgent": FIREFOX,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "3c2a64e2-7f0b-4d4c-9a51-6d3a1e0c7b10",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

ROOT_FAILURE = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "",
    },
    "eventTime": "2026-01-15T11:29:12Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.20",
    "userAgent": FIREFOX,
    "errorMessage": "Failed authentication",
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Failure"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2",
        "MobileVersion": "No",
        "MFAUsed": "No",
    },
    "eventID": "7e1d9b35-2c4a-4b6e-8f01-3a5c7e9b1d11",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

SSO_ASSUMED_ROLE = {
    "eventVersion": "1.09",
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
            "attributes": {"creationDate": "2026-01-15T09:11:58Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T09:12:00Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-west-2",
    "sourceIPAddress": "198.51.100.44",
    "userAgent": CHROME,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "4d6f8a10-3e5c-4a7b-9d1f-2b4d6f8a1c12",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                   "clientProvidedHostHeader": "us-west-2.signin.aws.amazon.com"},
}

SAML_ASSUMED_ROLE = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEOKTAROLE01:john.smith@example.com",
        "arn": "arn:aws:sts::111122223333:assumed-role/OktaAdmin/john.smith@example.com",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLETEMPKEY02",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEOKTAROLE01",
                "arn": "arn:aws:iam::111122223333:role/OktaAdmin",
                "accountId": "111122223333",
                "userName": "OktaAdmin",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T10:05:09Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T10:05:10Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.61",
    "userAgent": CHROME,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {
        "LoginTo": "https://console.aws.amazon.com/console/home",
        "MobileVersion": "No",
        "MFAUsed": "No",
        "SamlProviderArn": "arn:aws:iam::111122223333:saml-provider/Okta",
    },
    "eventID": "6f8a1c32-5e7b-4c9d-8f2a-4d6f8a1c3e13",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

FEDERATED_USER = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "FederatedUser",
        "principalId": "111122223333:admin",
        "arn": "arn:aws:sts::111122223333:federated-user/admin",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLEFEDKEY01",
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLECIBOT0001",
                "arn": "arn:aws:iam::111122223333:user/ci-bot",
                "accountId": "111122223333",
                "userName": "ci-bot",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T13:40:02Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T13:41:27Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.99",
    "userAgent": CHROME,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "8a1c3e54-7b9d-4e1f-a3c5-6f8a1c3e5b14",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

EC2_INSTANCE_ROLE = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID0002:i-0123456789abcdef0",
        "arn": "arn:aws:sts::111122223333:assumed-role/WebServerRole/i-0123456789abcdef0",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLETEMPKEY03",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID0002",
                "arn": "arn:aws:iam::111122223333:role/WebServerRole",
                "accountId": "111122223333",
                "userName": "WebServerRole",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T06:00:00Z", "mfaAuthenticated": "false"},
            "ec2RoleDelivery": "2.0",
        },
    },
    "eventTime": "2026-01-15T14:02:51Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "ConsoleLogin",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.200",
    "userAgent": CHROME,
    "requestParameters": None,
    "responseElements": {"ConsoleLogin": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "1c3e5b76-9d1f-4a3b-c5e7-8a1c3e5b7d15",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

GET_SIGNIN_TOKEN_SUCCESS = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEDEPLOYROLE:ci-run-4411",
        "arn": "arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-4411",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLETEMPKEY04",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEDEPLOYROLE",
                "arn": "arn:aws:iam::111122223333:role/DeployRole",
                "accountId": "111122223333",
                "userName": "DeployRole",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T15:00:03Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T15:01:44Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "GetSigninToken",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.50",
    "userAgent": "python-requests/2.32.3",
    "requestParameters": None,
    "responseElements": {"GetSigninToken": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "3e5b7d98-1f3a-4c5d-e7a9-1c3e5b7d9f16",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

GET_SIGNIN_TOKEN_DENIED = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEDEPLOYROLE:ci-run-4412",
        "arn": "arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-4412",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLETEMPKEY05",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEDEPLOYROLE",
                "arn": "arn:aws:iam::111122223333:role/DeployRole",
                "accountId": "111122223333",
                "userName": "DeployRole",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T15:10:00Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T15:10:20Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "GetSigninToken",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.50",
    "userAgent": "python-requests/2.32.3",
    "errorCode": "AccessDenied",
    "errorMessage": "Session duration exceeds the maximum allowed for role chaining",
    "requestParameters": None,
    "responseElements": None,
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "5b7d9fba-3a5c-4e7f-a9c1-3e5b7d9f1a17",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

GET_SIGNIN_TOKEN_SSO_PORTAL = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID0001:jane.doe@example.com",
        "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdminAccess_0123abcd/jane.doe@example.com",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLETEMPKEY06",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": "AROAEXAMPLEROLEID0001",
                "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_AdminAccess_0123abcd",
                "accountId": "111122223333",
                "userName": "AWSReservedSSO_AdminAccess_0123abcd",
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T09:11:58Z", "mfaAuthenticated": "false"},
        },
    },
    "eventTime": "2026-01-15T09:11:59Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "GetSigninToken",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.44",
    "userAgent": "Jersey/${project.version}",
    "requestParameters": None,
    "responseElements": {"GetSigninToken": "Success"},
    "additionalEventData": {"MobileVersion": "No", "MFAUsed": "No"},
    "eventID": "7d9fb1dc-5c7e-4a9b-c1e3-5b7d9f1a3c18",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

PASSWORD_RECOVERY_REQUESTED = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "",
    },
    "eventTime": "2026-01-15T16:45:00Z",
    "eventSource": "signin.amazonaws.com",
    "eventName": "PasswordRecoveryRequested",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "203.0.113.99",
    "userAgent": FIREFOX,
    "requestParameters": None,
    "responseElements": {"PasswordRecoveryRequested": "Success"},
    "eventID": "9fb1d3fe-7e9a-4c1d-e3a5-7d9f1a3c5e19",
    "readOnly": False,
    "eventType": "AwsConsoleSignIn",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": TLS_GLOBAL,
}

CREATE_LOGIN_PROFILE = {
    "eventVersion": "1.09",
    "userIdentity": {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEADMIN0001",
        "arn": "arn:aws:iam::111122223333:user/admin-bob",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLECONSOLE01",
        "userName": "admin-bob",
        "sessionContext": {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": "2026-01-15T08:55:41Z", "mfaAuthenticated": "true"},
        },
    },
    "eventTime": "2026-01-15T09:20:05Z",
    "eventSource": "iam.amazonaws.com",
    "eventName": "CreateLoginProfile",
    "awsRegion": "us-east-1",
    "sourceIPAddress": "198.51.100.10",
    "userAgent": "AWS Internal",
    "requestParameters": {"userName": "carol", "passwordResetRequired": True},
    "responseElements": {
        "loginProfile": {
            "userName": "carol",
            "createDate": "Jan 15, 2026 9:20:05 AM",
            "passwordResetRequired": True,
        }
    },
    "requestID": "b1d3f5a0-9a1c-4e3f-a5c7-9f1a3c5e7b20",
    "eventID": "d3f5a7c2-1c3e-4a5b-c7e9-1a3c5e7b9d21",
    "readOnly": False,
    "eventType": "AwsApiCall",
    "managementEvent": True,
    "recipientAccountId": "111122223333",
    "eventCategory": "Management",
    "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                   "clientProvidedHostHeader": "iam.amazonaws.com"},
    "sessionCredentialFromConsole": "true",
}


# --- expected documents, written out ---------------------------------------------------------

IAM_USER_SUCCESS_NO_MFA_DOC = {
    "@timestamp": "2026-01-15T09:12:00.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "0f3f6c1e-6a51-4a53-9a7e-2d1c5b7e9a01",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "198.51.100.10",
        "ip": "198.51.100.10",
    },
    "user": {
        "id": "AIDAEXAMPLEUSERID0001",
        "name": "alice",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["AIDAEXAMPLEUSERID0001", "alice"],
        "ip": ["198.51.100.10"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "user_agent": {
        "original": FIREFOX,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=" + LOGIN_TO + ", "
                "MobileVersion=No, "
                "MFAUsed=No}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": LOGIN_TO,
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": LOGIN_TO,
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "arn": "arn:aws:iam::111122223333:user/alice",
                "type": "IAMUser",
            },
        },
    },
}


IAM_USER_SUCCESS_WITH_MFA_DOC = {
    "@timestamp": "2026-01-15T09:14:30.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "5b8d2f44-1c3e-4f0a-8e61-7a9c3d2b1e02",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-2",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "198.51.100.10",
        "ip": "198.51.100.10",
    },
    "user": {
        "id": "AIDAEXAMPLEUSERID0001",
        "name": "alice",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["AIDAEXAMPLEUSERID0001", "alice"],
        "ip": ["198.51.100.10"],
        "hosts": ["us-east-2.signin.aws.amazon.com"],
    },
    "user_agent": {
        "original": FIREFOX,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "us-east-2.signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=https://console.aws.amazon.com/console/home?isauthcode=true&state=hashArgsFromTB_us-east-2_5d1c, "
                "MobileVersion=No, "
                "MFAIdentifier=arn:aws:iam::111122223333:mfa/alice-phone, "
                "MFAUsed=Yes}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": "https://console.aws.amazon.com/console/home?isauthcode=true&state=hashArgsFromTB_us-east-2_5d1c",
                    "mfa_used": True,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": "https://console.aws.amazon.com/console/home?isauthcode=true&state=hashArgsFromTB_us-east-2_5d1c",
                    "MFAIdentifier": "arn:aws:iam::111122223333:mfa/alice-phone",
                    "MFAUsed": "Yes",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "arn": "arn:aws:iam::111122223333:user/alice",
                "type": "IAMUser",
            },
        },
    },
}


IAM_USER_FAILURE_DOC = {
    "@timestamp": "2026-01-15T09:10:41.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "9c2e7b10-4d6f-4e8a-b3c1-5f0a2d9e8c03",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "failure",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.7",
        "ip": "203.0.113.7",
    },
    "user": {
        "id": "AIDAEXAMPLEUSERID0001",
        "name": "alice",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["AIDAEXAMPLEUSERID0001", "alice"],
        "ip": ["203.0.113.7"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "user_agent": {
        "original": FIREFOX,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=" + LOGIN_TO + ", "
                "MobileVersion=No, "
                "MFAUsed=No}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": LOGIN_TO,
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "error_message": "Failed authentication",
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": LOGIN_TO,
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Failure",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Failure}",
            "user_identity": {
                "type": "IAMUser",
            },
        },
    },
}


UNKNOWN_USER_FAILURE_DOC = {
    "@timestamp": "2026-01-15T03:02:17.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "2a4c6e80-1b3d-4f5a-9c7e-0d2f4a6b8c04",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "failure",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "192.0.2.55",
        "ip": "192.0.2.55",
    },
    "user": {
        "name": "HIDDEN_DUE_TO_SECURITY_REASONS",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["HIDDEN_DUE_TO_SECURITY_REASONS"],
        "ip": ["192.0.2.55"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "user_agent": {
        "original": "Go-http-client/1.1",
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=https://console.aws.amazon.com, "
                "MobileVersion=No, "
                "MFAUsed=No}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": "https://console.aws.amazon.com",
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "error_message": "No username found in supplied account",
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": "https://console.aws.amazon.com",
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Failure",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Failure}",
            "user_identity": {
                "type": "IAMUser",
            },
        },
    },
}


ROOT_SUCCESS_DOC = {
    "@timestamp": "2026-01-15T11:30:00.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "3c2a64e2-7f0b-4d4c-9a51-6d3a1e0c7b10",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.20",
        "ip": "203.0.113.20",
    },
    "user": {
        "id": "111122223333",
    },
    "user_agent": {
        "original": FIREFOX,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["111122223333"],
        "ip": ["203.0.113.20"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2, "
                "MobileVersion=No, "
                "MFAUsed=No}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": "https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2",
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2",
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "arn": "arn:aws:iam::111122223333:root",
                "type": "Root",
            },
        },
    },
}


ROOT_FAILURE_DOC = {
    "@timestamp": "2026-01-15T11:29:12.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "7e1d9b35-2c4a-4b6e-8f01-3a5c7e9b1d11",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "failure",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.20",
        "ip": "203.0.113.20",
    },
    "user": {
        "id": "111122223333",
    },
    "user_agent": {
        "original": FIREFOX,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["111122223333"],
        "ip": ["203.0.113.20"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2, "
                "MobileVersion=No, "
                "MFAUsed=No}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": "https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2",
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "error_message": "Failed authentication",
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgsFromTB_us-east-1_a1b2",
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Failure",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Failure}",
            "user_identity": {
                "arn": "arn:aws:iam::111122223333:root",
                "type": "Root",
            },
        },
    },
}


SSO_ASSUMED_ROLE_DOC = {
    "@timestamp": "2026-01-15T09:12:00.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "4d6f8a10-3e5c-4a7b-9d1f-2b4d6f8a1c12",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-west-2",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "198.51.100.44",
        "ip": "198.51.100.44",
    },
    "user": {
        # set_user_email_from_session_name_39bbd1e6: e-mail session name (8.9.0)
        "email": "jane.doe@example.com",
        "id": "AROAEXAMPLEROLEID0001:jane.doe@example.com",
        "name": "AWSReservedSSO_AdminAccess_0123abcd",
    },
    "user_agent": {
        "original": CHROME,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "us-west-2.signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["jane.doe@example.com", "jane.doe", "AROAEXAMPLEROLEID0001:jane.doe@example.com", "AWSReservedSSO_AdminAccess_0123abcd"],
        "ip": ["198.51.100.44"],
        "hosts": ["us-west-2.signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": "{MobileVersion=No, MFAUsed=No}",
            "console_login": {
                "additional_eventdata": {
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLETEMPKEY01",
                "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdminAccess_0123abcd/jane.doe@example.com",
                "session_context": {
                    "creation_date": "2026-01-15T09:11:58.000Z",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_AdminAccess_0123abcd",
                        "principal_id": "AROAEXAMPLEROLEID0001",
                        "type": "Role",
                    },
                },
                "type": "AssumedRole",
            },
        },
    },
}


SAML_ASSUMED_ROLE_DOC = {
    "@timestamp": "2026-01-15T10:05:10.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "6f8a1c32-5e7b-4c9d-8f2a-4d6f8a1c3e13",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "198.51.100.61",
        "ip": "198.51.100.61",
    },
    "user": {
        # set_user_email_from_session_name_39bbd1e6: e-mail session name (8.9.0)
        "email": "john.smith@example.com",
        "id": "AROAEXAMPLEOKTAROLE01:john.smith@example.com",
        "name": "OktaAdmin",
    },
    "user_agent": {
        "original": CHROME,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["john.smith@example.com", "john.smith", "AROAEXAMPLEOKTAROLE01:john.smith@example.com", "OktaAdmin"],
        "ip": ["198.51.100.61"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": ("{LoginTo=https://console.aws.amazon.com/console/home, "
                "MobileVersion=No, "
                "MFAUsed=No, "
                "SamlProviderArn=arn:aws:iam::111122223333:saml-provider/Okta}"),
            "console_login": {
                "additional_eventdata": {
                    "login_to": "https://console.aws.amazon.com/console/home",
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "LoginTo": "https://console.aws.amazon.com/console/home",
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                    "SamlProviderArn": "arn:aws:iam::111122223333:saml-provider/Okta",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLETEMPKEY02",
                "arn": "arn:aws:sts::111122223333:assumed-role/OktaAdmin/john.smith@example.com",
                "session_context": {
                    "creation_date": "2026-01-15T10:05:09.000Z",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:role/OktaAdmin",
                        "principal_id": "AROAEXAMPLEOKTAROLE01",
                        "type": "Role",
                    },
                },
                "type": "AssumedRole",
            },
        },
    },
}


FEDERATED_USER_DOC = {
    "@timestamp": "2026-01-15T13:41:27.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "8a1c3e54-7b9d-4e1f-a3c5-6f8a1c3e5b14",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.99",
        "ip": "203.0.113.99",
    },
    "user": {
        "id": "111122223333:admin",
        "name": "ci-bot",
    },
    "user_agent": {
        "original": CHROME,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["admin", "111122223333:admin", "ci-bot"],
        "ip": ["203.0.113.99"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": "{MobileVersion=No, MFAUsed=No}",
            "console_login": {
                "additional_eventdata": {
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLEFEDKEY01",
                "arn": "arn:aws:sts::111122223333:federated-user/admin",
                "session_context": {
                    "creation_date": "2026-01-15T13:40:02.000Z",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:user/ci-bot",
                        "principal_id": "AIDAEXAMPLECIBOT0001",
                        "type": "IAMUser",
                    },
                },
                "type": "FederatedUser",
            },
        },
    },
}


EC2_INSTANCE_ROLE_DOC = {
    "@timestamp": "2026-01-15T14:02:51.000Z",
    "event": {
        "action": "ConsoleLogin",
        "category": ["authentication"],
        "dataset": "aws.cloudtrail",
        "id": "1c3e5b76-9d1f-4a3b-c5e7-8a1c3e5b7d15",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "198.51.100.200",
        "ip": "198.51.100.200",
    },
    "user": {
        "id": "AROAEXAMPLEROLEID0002:i-0123456789abcdef0",
        "name": "WebServerRole",
    },
    "user_agent": {
        "original": CHROME,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["i-0123456789abcdef0", "AROAEXAMPLEROLEID0002:i-0123456789abcdef0", "WebServerRole"],
        "ip": ["198.51.100.200"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": "{MobileVersion=No, MFAUsed=No}",
            "console_login": {
                "additional_eventdata": {
                    "mfa_used": False,
                    "mobile_version": False,
                },
            },
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "ConsoleLogin": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{ConsoleLogin=Success}",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLETEMPKEY03",
                "arn": "arn:aws:sts::111122223333:assumed-role/WebServerRole/i-0123456789abcdef0",
                "session_context": {
                    "creation_date": "2026-01-15T06:00:00.000Z",
                    # rename_json_userIdentity_sessionContext_ec2RoleDelivery_to_... (8.9.0)
                    "ec2_role_delivery": "2.0",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:role/WebServerRole",
                        "principal_id": "AROAEXAMPLEROLEID0002",
                        "type": "Role",
                    },
                },
                "type": "AssumedRole",
            },
        },
    },
}


GET_SIGNIN_TOKEN_SUCCESS_DOC = {
    "@timestamp": "2026-01-15T15:01:44.000Z",
    "event": {
        "action": "GetSigninToken",
        "dataset": "aws.cloudtrail",
        "id": "3e5b7d98-1f3a-4c5d-e7a9-1c3e5b7d9f16",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.50",
        "ip": "203.0.113.50",
    },
    "user": {
        "id": "AROAEXAMPLEDEPLOYROLE:ci-run-4411",
        "name": "DeployRole",
    },
    "user_agent": {
        "original": "python-requests/2.32.3",
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["ci-run-4411", "AROAEXAMPLEDEPLOYROLE:ci-run-4411", "DeployRole"],
        "ip": ["203.0.113.50"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": "{MobileVersion=No, MFAUsed=No}",
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "GetSigninToken": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{GetSigninToken=Success}",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLETEMPKEY04",
                "arn": "arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-4411",
                "session_context": {
                    "creation_date": "2026-01-15T15:00:03.000Z",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:role/DeployRole",
                        "principal_id": "AROAEXAMPLEDEPLOYROLE",
                        "type": "Role",
                    },
                },
                "type": "AssumedRole",
            },
        },
    },
}


GET_SIGNIN_TOKEN_DENIED_DOC = {
    "@timestamp": "2026-01-15T15:10:20.000Z",
    "event": {
        "action": "GetSigninToken",
        "dataset": "aws.cloudtrail",
        "id": "5b7d9fba-3a5c-4e7f-a9c1-3e5b7d9f1a17",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "failure",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.50",
        "ip": "203.0.113.50",
    },
    "user": {
        "id": "AROAEXAMPLEDEPLOYROLE:ci-run-4412",
        "name": "DeployRole",
    },
    "user_agent": {
        "original": "python-requests/2.32.3",
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["ci-run-4412", "AROAEXAMPLEDEPLOYROLE:ci-run-4412", "DeployRole"],
        "ip": ["203.0.113.50"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": "{MobileVersion=No, MFAUsed=No}",
            "error_code": "AccessDenied",
            "error_message": "Session duration exceeds the maximum allowed for role chaining",
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLETEMPKEY05",
                "arn": "arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-4412",
                "session_context": {
                    "creation_date": "2026-01-15T15:10:00.000Z",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:role/DeployRole",
                        "principal_id": "AROAEXAMPLEDEPLOYROLE",
                        "type": "Role",
                    },
                },
                "type": "AssumedRole",
            },
        },
    },
}


GET_SIGNIN_TOKEN_SSO_PORTAL_DOC = {
    "@timestamp": "2026-01-15T09:11:59.000Z",
    "event": {
        "action": "GetSigninToken",
        "dataset": "aws.cloudtrail",
        "id": "7d9fb1dc-5c7e-4a9b-c1e3-5b7d9f1a3c18",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "198.51.100.44",
        "ip": "198.51.100.44",
    },
    "user": {
        # set_user_email_from_session_name_39bbd1e6: e-mail session name (8.9.0)
        "email": "jane.doe@example.com",
        "id": "AROAEXAMPLEROLEID0001:jane.doe@example.com",
        "name": "AWSReservedSSO_AdminAccess_0123abcd",
    },
    "user_agent": {
        "original": "Jersey/${project.version}",
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["jane.doe@example.com", "jane.doe", "AROAEXAMPLEROLEID0001:jane.doe@example.com", "AWSReservedSSO_AdminAccess_0123abcd"],
        "ip": ["198.51.100.44"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "additional_eventdata": "{MobileVersion=No, MFAUsed=No}",
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "additional_eventdata": {
                    "MFAUsed": "No",
                    "MobileVersion": "No",
                },
                "response_elements": {
                    "GetSigninToken": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{GetSigninToken=Success}",
            "user_identity": {
                "access_key_id": "ASIAEXAMPLETEMPKEY06",
                "arn": "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_AdminAccess_0123abcd/jane.doe@example.com",
                "session_context": {
                    "creation_date": "2026-01-15T09:11:58.000Z",
                    "mfa_authenticated": "false",
                    "session_issuer": {
                        "account_id": "111122223333",
                        "arn": "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/us-west-2/AWSReservedSSO_AdminAccess_0123abcd",
                        "principal_id": "AROAEXAMPLEROLEID0001",
                        "type": "Role",
                    },
                },
                "type": "AssumedRole",
            },
        },
    },
}


PASSWORD_RECOVERY_REQUESTED_DOC = {
    "@timestamp": "2026-01-15T16:45:00.000Z",
    "event": {
        "action": "PasswordRecoveryRequested",
        "dataset": "aws.cloudtrail",
        "id": "9fb1d3fe-7e9a-4c1d-e3a5-7d9f1a3c5e19",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "signin.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "signin",
        },
    },
    "source": {
        "address": "203.0.113.99",
        "ip": "203.0.113.99",
    },
    "user": {
        "id": "111122223333",
    },
    "user_agent": {
        "original": FIREFOX,
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "signin.aws.amazon.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["111122223333"],
        "ip": ["203.0.113.99"],
        "hosts": ["signin.aws.amazon.com"],
    },
    "aws": {
        "cloudtrail": {
            "event_category": "Management",
            "event_type": "AwsConsoleSignIn",
            "event_version": "1.09",
            "flattened": {
                "response_elements": {
                    "PasswordRecoveryRequested": "Success",
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "response_elements": "{PasswordRecoveryRequested=Success}",
            "user_identity": {
                "arn": "arn:aws:iam::111122223333:root",
                "type": "Root",
            },
        },
    },
}


CREATE_LOGIN_PROFILE_DOC = {
    "@timestamp": "2026-01-15T09:20:05.000Z",
    "event": {
        "action": "CreateLoginProfile",
        "dataset": "aws.cloudtrail",
        "id": "d3f5a7c2-1c3e-4a5b-c7e9-1a3c5e7b9d21",
        "ingested": "2026-01-15T17:00:00Z",
        "kind": "event",
        "module": "aws",
        "outcome": "success",
        "provider": "iam.amazonaws.com",
        "type": ["info"],
    },
    "data_stream": {
        "dataset": "aws.cloudtrail",
        "namespace": "default",
        "type": "logs",
    },
    "ecs": {
        "version": "8.11.0",
    },
    "cloud": {
        "account": {
            "id": "111122223333",
        },
        "provider": "aws",
        "region": "us-east-1",
        # dissect_json_eventSource_to_cloud_service_name_5d2b7c94 (8.9.0)
        "service": {
            "name": "iam",
        },
    },
    "source": {
        "address": "198.51.100.10",
        "ip": "198.51.100.10",
    },
    "user": {
        "id": "AIDAEXAMPLEADMIN0001",
        "name": "admin-bob",
        "target": {
            "name": "carol",
        },
    },
    "related": {
        # 8.9.0: session name (extract_session_name_from_arn / append_related_user_session_name_*),
        # requestParameters.userName, then user.id and user.name (append_related_user_3b2f7fde,
        # _3b423052) go to related.user; related.ip / related.hosts are new (append_related_ip_*,
        # append_related_hosts_*)
        "user": ["carol", "AIDAEXAMPLEADMIN0001", "admin-bob"],
        "ip": ["198.51.100.10"],
    },
    "user_agent": {
        "original": "AWS Internal",
    },
    "tls": {
        "cipher": "TLS_AES_128_GCM_SHA256",
        "client": {
            "server_name": "iam.amazonaws.com",
        },
        "version": "1.3",
        "version_protocol": "tls",
    },
    "aws": {
        "cloudtrail": {
            "event_category": "Management",
            "event_type": "AwsApiCall",
            "event_version": "1.09",
            "flattened": {
                "request_parameters": {
                    "passwordResetRequired": True,
                    "userName": "carol",
                },
                "response_elements": {
                    "loginProfile": {
                        "createDate": "Jan 15, 2026 9:20:05 AM",
                        "passwordResetRequired": True,
                        "userName": "carol",
                    },
                },
            },
            # convert_json_managementEvent_to_aws_cloudtrail_management_event: type string (8.9.0)
            "management_event": "true",
            "read_only": False,
            "recipient_account_id": "111122223333",
            "request_id": "b1d3f5a0-9a1c-4e3f-a5c7-9f1a3c5e7b20",
            "request_parameters": "{userName=carol, passwordResetRequired=true}",
            # rename_json_sessionCredentialFromConsole_to_aws_cloudtrail_session_credential_from_console_6cdda950
            "session_credential_from_console": "true",
            "response_elements": ("{loginProfile={userName=carol, "
                "passwordResetRequired=true, "
                "createDate=Jan 15, "
                "2026 9:20:05 AM}}"),
            "user_identity": {
                "access_key_id": "ASIAEXAMPLECONSOLE01",
                "arn": "arn:aws:iam::111122223333:user/admin-bob",
                "session_context": {
                    "creation_date": "2026-01-15T08:55:41.000Z",
                    "mfa_authenticated": "true",
                },
                "type": "IAMUser",
            },
        },
    },
}


VARIANTS = {
    "iam user, success, no MFA": (IAM_USER_SUCCESS_NO_MFA, IAM_USER_SUCCESS_NO_MFA_DOC),
    "iam user, success, with MFA": (IAM_USER_SUCCESS_WITH_MFA, IAM_USER_SUCCESS_WITH_MFA_DOC),
    "iam user, failure": (IAM_USER_FAILURE, IAM_USER_FAILURE_DOC),
    "unknown user name, failure": (UNKNOWN_USER_FAILURE, UNKNOWN_USER_FAILURE_DOC),
    "root, success": (ROOT_SUCCESS, ROOT_SUCCESS_DOC),
    "root, failure": (ROOT_FAILURE, ROOT_FAILURE_DOC),
    "identity center role session": (SSO_ASSUMED_ROLE, SSO_ASSUMED_ROLE_DOC),
    "saml role session": (SAML_ASSUMED_ROLE, SAML_ASSUMED_ROLE_DOC),
    "federated user": (FEDERATED_USER, FEDERATED_USER_DOC),
    "ec2 instance role": (EC2_INSTANCE_ROLE, EC2_INSTANCE_ROLE_DOC),
    "GetSigninToken, success": (GET_SIGNIN_TOKEN_SUCCESS, GET_SIGNIN_TOKEN_SUCCESS_DOC),
    "GetSigninToken, denied": (GET_SIGNIN_TOKEN_DENIED, GET_SIGNIN_TOKEN_DENIED_DOC),
    "GetSigninToken, SSO portal": (GET_SIGNIN_TOKEN_SSO_PORTAL, GET_SIGNIN_TOKEN_SSO_PORTAL_DOC),
    "PasswordRecoveryRequested": (PASSWORD_RECOVERY_REQUESTED, PASSWORD_RECOVERY_REQUESTED_DOC),
    "iam CreateLoginProfile": (CREATE_LOGIN_PROFILE, CREATE_LOGIN_PROFILE_DOC),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_maps_to_the_integrations_document(name):
    record, expected = VARIANTS[name]
    assert to_ecs(record, ingested=INGESTED) == expected


def test_mapping_does_not_modify_the_record():
    record = copy.deepcopy(IAM_USER_FAILURE)
    to_ecs(record)
    assert record == IAM_USER_FAILURE


# --- pipeline rules, one at a time ------------------------------------------------------------

def test_issuer_user_name_does_not_overwrite_the_identitys_own_user_name():
    # The pipeline moves fields with rename, which refuses an existing target.
    record = copy.deepcopy(CREATE_LOGIN_PROFILE)
    record["userIdentity"]["sessionContext"]["sessionIssuer"] = {
        "type": "Role", "principalId": "AROAEXAMPLEOTHER0001",
        "arn": "arn:aws:iam::111122223333:role/Other", "accountId": "111122223333",
        "userName": "Other"}
    doc = to_ecs(record)
    assert doc["user"]["name"] == "admin-bob"
    assert doc["aws"]["cloudtrail"]["user_identity"]["session_context"]["session_issuer"][
        "arn"] == "arn:aws:iam::111122223333:role/Other"


def test_outcome_of_other_sign_in_events_ignores_response_elements():
    # Only ConsoleLogin reads responseElements; a PasswordUpdated "Failure" without an error
    # field is a success for the integration.
    record = copy.deepcopy(PASSWORD_RECOVERY_REQUESTED)
    record["eventName"] = "PasswordUpdated"
    record["responseElements"] = {"PasswordUpdated": "Failure"}
    assert to_ecs(record)["event"]["outcome"] == "success"


def test_console_login_outcome_comes_from_response_elements_over_error_fields():
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    record["errorMessage"] = "Some message"
    assert to_ecs(record)["event"]["outcome"] == "success"
    record["responseElements"] = {"ConsoleLogin": "FAILURE"}
    assert to_ecs(record)["event"]["outcome"] == "failure"


def test_mfa_used_is_false_only_for_exactly_No():
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    record["additionalEventData"]["MFAUsed"] = "no"
    record["additionalEventData"]["MobileVersion"] = "Yes"
    booleans = to_ecs(record)["aws"]["cloudtrail"]["console_login"]["additional_eventdata"]
    assert booleans["mfa_used"] is True and booleans["mobile_version"] is True


def test_mfa_booleans_are_console_login_only():
    doc = to_ecs(GET_SIGNIN_TOKEN_SUCCESS)
    assert "console_login" not in doc["aws"]["cloudtrail"]
    assert doc["aws"]["cloudtrail"]["flattened"]["additional_eventdata"]["MFAUsed"] == "No"


def test_source_ip_only_when_the_whole_address_is_an_ip():
    record = copy.deepcopy(CREATE_LOGIN_PROFILE)
    record["sourceIPAddress"] = "iam.amazonaws.com"
    doc = to_ecs(record)
    assert doc["source"] == {"address": "iam.amazonaws.com"}
    record["sourceIPAddress"] = "2001:db8::7"
    assert to_ecs(record)["source"] == {"address": "2001:db8::7", "ip": "2001:db8::7"}


def test_nulls_empty_strings_and_emptied_objects_are_dropped():
    record = copy.deepcopy(CREATE_LOGIN_PROFILE)
    record["requestParameters"] = {"userName": "", "tags": [], "policy": {"x": None}}
    record["errorCode"] = ""
    doc = to_ecs(record)
    ct = doc["aws"]["cloudtrail"]
    assert "request_parameters" not in ct and "request_parameters" not in ct["flattened"]
    assert "error_code" not in ct and doc["event"]["outcome"] == "success"
    assert "target" not in doc["user"]
    # 8.9.0 appends user.id before user.name (append_related_user_3b2f7fde, _3b423052)
    assert doc["related"]["user"] == ["AIDAEXAMPLEADMIN0001", "admin-bob"]


def test_dash_and_none_strings_are_dropped_like_nulls():
    # script_remove_nulls_before_renames (8.9.0) also drops "-" and "none" values.
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    record["additionalEventData"]["MFAUsed"] = "none"
    record["sourceIPAddress"] = "-"
    doc = to_ecs(record)
    assert "mfa_used" not in doc["aws"]["cloudtrail"]["console_login"]["additional_eventdata"]
    assert "source" not in doc


def test_flattened_copy_is_skipped_for_huge_objects_but_the_string_is_kept():
    record = copy.deepcopy(CREATE_LOGIN_PROFILE)
    record["requestParameters"]["policyDocument"] = "x" * 40000
    ct = to_ecs(record)["aws"]["cloudtrail"]
    assert ct["request_parameters"].startswith("{")
    assert len(ct["request_parameters"]) > 40000
    assert "request_parameters" not in ct["flattened"]
    # 8.9.0 copies user.target.name from json.requestParameters.userName
    # (set_user_target_name_75aa7975), not from the flattened copy, so it stays.
    assert to_ecs(record)["user"]["target"] == {"name": "carol"}


def test_console_login_without_response_elements_is_categorised_normally():
    # 8.9.0's script_add_ecs_categorization reads ctx.json?.responseElements?.ConsoleLogin
    # null-safely: the outcome comes from the error fields and the category is still set (the
    # 2.2x script dereferenced null here and skipped every later processor).
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    del record["responseElements"]
    doc = to_ecs(record)
    assert doc["event"]["outcome"] == "success" and doc["event"]["type"] == ["info"]
    assert doc["event"]["category"] == ["authentication"]
    assert doc["tls"]["version"] == "1.3"
    record["errorMessage"] = "Failed authentication"
    assert to_ecs(record)["event"]["outcome"] == "failure"


def test_resources_are_renamed_and_deduplicated():
    record = copy.deepcopy(CREATE_LOGIN_PROFILE)
    record["resources"] = [
        {"ARN": "arn:aws:iam::111122223333:user/carol", "accountId": "111122223333",
         "type": "AWS::IAM::User"},
        {"ARN": "arn:aws:iam::111122223333:user/carol", "accountId": "111122223333",
         "type": "AWS::IAM::User"},
    ]
    assert to_ecs(record)["aws"]["cloudtrail"]["resources"] == [
        {"arn": "arn:aws:iam::111122223333:user/carol", "account_id": "111122223333",
         "type": "AWS::IAM::User"}]


def test_ingested_created_and_enrichment_are_added_verbatim():
    doc = to_ecs(ROOT_SUCCESS, ingested=INGESTED, created="2026-01-15T11:31:02.117Z",
                 enrichment={"source": {"geo": {"country_iso_code": "SE"}, "as": {"number": 29518}}})
    assert doc["event"]["ingested"] == INGESTED
    assert doc["event"]["created"] == "2026-01-15T11:31:02.117Z"
    assert doc["source"] == {"address": "203.0.113.20", "ip": "203.0.113.20",
                             "geo": {"country_iso_code": "SE"}, "as": {"number": 29518}}


def test_event_time_with_fraction_and_offset_is_normalised_to_utc_millis():
    record = copy.deepcopy(ROOT_SUCCESS)
    record["eventTime"] = "2026-01-15T12:30:00.123456+01:00"
    assert to_ecs(record)["@timestamp"] == "2026-01-15T11:30:00.123Z"


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.pop("eventTime"), "eventTime"),
    (lambda r: r.update(eventTime="15/01/2026 09:12"), "eventTime"),
    (lambda r: r.update(userIdentity="alice"), "userIdentity"),
    (lambda r: r["userIdentity"].update(sessionContext=["x"]), "userIdentity.sessionContext"),
    (lambda r: r.update(responseElements="Success"), "responseElements"),
])
def test_bad_records_raise_naming_the_field(mutate, field):
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    mutate(record)
    with pytest.raises(EcsMappingError) as err:
        to_ecs(record)
    assert err.value.field == field


def test_not_an_object_and_bad_ingested_are_refused():
    with pytest.raises(EcsMappingError, match="record"):
        to_ecs(["not", "a", "record"])
    with pytest.raises(EcsMappingError, match="ingested"):
        to_ecs(ROOT_SUCCESS, ingested="yesterday")


# --- behaviour of the 8.9.0 pipeline the rule generators depend on ----------------------------

@pytest.mark.parametrize("mutate, outcome", [
    (lambda r: r.update(responseElements={"ConsoleLogin": "Failure"}), "failure"),
    (lambda r: r.pop("responseElements"), "success"),
    (lambda r: r.update(eventName="GetSigninToken", responseElements=None), "success"),
    (lambda r: r.update(eventName="GetSigninToken", errorCode="AccessDenied"), "failure"),
    (lambda r: r.update(eventName="PasswordUpdated",
                        responseElements={"PasswordUpdated": "Failure"}), "success"),
    (lambda r: r.update(eventName="CredentialVerification", responseElements=None,
                        serviceEventDetails={"CredentialVerification": "Failure"}), "success"),
])
def test_outcome_rules(mutate, outcome):
    # script_add_ecs_categorization: error fields, then ConsoleLogin's responseElements only
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    mutate(record)
    assert to_ecs(record)["event"]["outcome"] == outcome


@pytest.mark.parametrize("value, expected", [("Yes", True), ("No", False), ("YES", True),
                                             ("no", True), (None, None)])
def test_mfa_used_values(value, expected):
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    if value is None:
        del record["additionalEventData"]["MFAUsed"]
    else:
        record["additionalEventData"]["MFAUsed"] = value
    got = to_ecs(record)["aws"]["cloudtrail"]["console_login"]["additional_eventdata"]
    assert got.get("mfa_used") == expected


@pytest.mark.parametrize("address, ip", [("AWS Internal", None), ("redacted", None),
                                         ("2001:db8::7", "2001:db8::7"),
                                         ("198.51.100.300", None)])
def test_source_address_and_ip(address, ip):
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    record["sourceIPAddress"] = address
    doc = to_ecs(record)
    assert doc["source"].get("address") == address and doc["source"].get("ip") == ip
    # append_related_hosts_source_address: a dotted non-IP without spaces is a host name
    assert (address in doc["related"].get("hosts", [])) == (address == "198.51.100.300")


def test_event_type_is_copied_verbatim():
    record = copy.deepcopy(IAM_USER_SUCCESS_NO_MFA)
    record["eventType"] = "AwsConsoleSignin"
    assert to_ecs(record)["aws"]["cloudtrail"]["event_type"] == "AwsConsoleSignin"
    del record["eventType"]
    record["eventVersion"] = "1.05"
    assert "event_type" not in to_ecs(record)["aws"]["cloudtrail"]


def test_identity_center_user_and_root_without_user_name():
    record = {"eventVersion": "1.09", "eventTime": "2026-01-15T10:00:00Z",
              "eventSource": "signin.amazonaws.com", "eventName": "CredentialChallenge",
              "userIdentity": {"type": "IdentityCenterUser", "accountId": "111122223333",
                               "onBehalfOf": {"userId": "9067-uuid",
                                              "identityStoreArn": "arn:aws:identitystore::1:x"}},
              "serviceEventDetails": {"CredentialChallenge": "Failure"}, "eventID": "e1"}
    doc = to_ecs(record)
    # rename_user_id_identity_center_user_a2cfa5f2; no user.name outside UserAuthentication
    assert doc["user"] == {"id": "9067-uuid"} and doc["related"]["user"] == ["9067-uuid"]
    assert doc["event"]["outcome"] == "success"
    root = to_ecs(ROOT_SUCCESS)
    assert root["user"] == {"id": "111122223333"} and root["related"]["user"] == ["111122223333"]


def test_aws_service_actors_get_service_name_and_no_user_fields():
    # script_aws_service_actor_93211d93 + the conditions on the user.* renames
    record = copy.deepcopy(EC2_INSTANCE_ROLE)
    record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = (
        "arn:aws:iam::111122223333:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport")
    doc = to_ecs(record)
    assert doc["service"] == {"name": "support.amazonaws.com"}
    assert "name" not in doc.get("user", {}) and "id" not in doc.get("user", {})
    record = {"eventTime": "2026-01-15T10:00:00Z", "eventID": "e2", "eventName": "AssumeRole",
              "userIdentity": {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}}
    assert to_ecs(record)["service"] == {"name": "ec2.amazonaws.com"}


def test_processor_failures_are_recorded_as_pipeline_errors():
    record = copy.deepcopy(SSO_ASSUMED_ROLE)
    record["userIdentity"]["sessionContext"]["attributes"]["creationDate"] = "yesterday"
    doc = to_ecs(record)
    assert doc["event"]["kind"] == "pipeline_error" and doc["tags"] == ["preserve_original_event"]
    assert "date_json_userIdentity_sessionContext_attributes_creationDate" in doc["error"]["message"][0]
    assert "creation_date" not in doc["aws"]["cloudtrail"]["user_identity"]["session_context"]
    # basic_date_time_no_millis is one of the accepted formats
    record["userIdentity"]["sessionContext"]["attributes"]["creationDate"] = "20131102T010628Z"
    doc = to_ecs(record)
    assert doc["event"]["kind"] == "event" and doc["aws"]["cloudtrail"]["user_identity"][
        "session_context"]["creation_date"] == "2013-11-02T01:06:28.000Z"


# --- Map.toString ---------------------------------------------------------------------------

def test_map_to_string_uses_hashmap_order_not_record_order():
    # Same keys, AWS order and another order: HashMap iteration order is the same.
    one = to_ecs(dict(ROOT_SUCCESS, additionalEventData={
        "MobileVersion": "No", "LoginTo": "https://x", "MFAUsed": "No"}))
    two = to_ecs(dict(ROOT_SUCCESS, additionalEventData={
        "MFAUsed": "No", "MobileVersion": "No", "LoginTo": "https://x"}))
    text = "{LoginTo=https://x, MobileVersion=No, MFAUsed=No}"
    assert one["aws"]["cloudtrail"]["additional_eventdata"] == text
    assert two["aws"]["cloudtrail"]["additional_eventdata"] == text


@pytest.mark.parametrize("value, text", [
    ({"a": [1, 2.5, True, "x"], "b": {"c": None, "d": 1e7}}, "{a=[1, 2.5, true, x], b={d=1.0E7}}"),
    ({"n": 0.001, "m": 1.5e-05, "k": 123456789012345}, "{k=123456789012345, m=1.5E-5, n=0.001}"),
])
def test_java_to_string_prints_values_as_java_does(value, text):
    from harness.elastic.ecs import _clean
    assert java_to_string(_clean(value)) == text


JAVA = shutil.which("java")


@pytest.mark.skipif(JAVA is None, reason="no java on PATH: HashMap order not cross-checked")
def test_hashmap_order_matches_java(tmp_path):
    from harness.elastic.ecs import _java_order
    source = tmp_path / "Order.java"
    source.write_text(
        "import java.io.*; import java.util.*;\n"
        "public class Order { public static void main(String[] a) throws Exception {\n"
        "  BufferedReader r = new BufferedReader(new InputStreamReader(System.in, \"UTF-8\"));\n"
        "  PrintStream out = new PrintStream(System.out, true, \"UTF-8\"); String line;\n"
        "  while ((line = r.readLine()) != null) { HashMap<String, String> m = new HashMap<>();\n"
        "    for (String k : line.split(\"\\t\", -1)) m.put(k, \"\");\n"
        "    out.println(String.join(\"\\t\", m.keySet())); } } }\n")
    rng = random.Random(20260115)
    alphabet = string.ascii_letters + string.digits + "_-é"
    key_sets = []
    for _ in range(500):
        size = rng.choice([2, 3, 5, 12, 13, 25, 49, 97])
        keys = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 14)))
                for _ in range(size)}
        key_sets.append(sorted(keys, key=lambda _: rng.random()))
    # 9 and 10 keys with one hashCode: the table grows early instead of making a tree bin
    colliding = ["".join(p) for p in itertools.product(["Aa", "BB"], repeat=4)]  # one hashCode
    key_sets += [colliding[:n] for n in (8, 9, 10)]
    run = subprocess.run([JAVA, str(source)], input="\n".join("\t".join(k) for k in key_sets),
                         capture_output=True, text=True, encoding="utf-8", timeout=120)
    if run.returncode != 0:
        pytest.skip("java could not run the check: %s" % run.stderr[:200])
    java_orders = run.stdout.split("\n")
    for keys, java in zip(key_sets, java_orders):
        assert "\t".join(_java_order(tuple(keys))) == java


# --- get_field ------------------------------------------------------------------------------

def test_get_field_reads_nested_dotted_flattened_and_multi_fields():
    doc = to_ecs(CREATE_LOGIN_PROFILE)
    assert get_field(doc, "user.target.name") == "carol"
    # 8.9.0 order: request userName, then user.id, user.name (append_related_user_0121b806,
    # _3b2f7fde, _3b423052)
    assert get_field(doc, "related.user") == ["carol", "AIDAEXAMPLEADMIN0001", "admin-bob"]
    assert get_field(doc, "aws.cloudtrail.flattened.response_elements.loginProfile.userName") \
        == "carol"
    assert get_field(doc, "aws.cloudtrail.request_parameters.text") \
        == "{userName=carol, passwordResetRequired=true}"
    assert get_field(doc, "aws.cloudtrail.error_code") is None
    assert get_field({"source.ip": "192.0.2.1", "a": [{"b": 1}, {"b": [2, 3]}]}, "source.ip") \
        == "192.0.2.1"
    assert get_field({"a": [{"b": 1}, {"b": [2, 3]}]}, "a.b") == [1, 2, 3]


# --- mapping --------------------------------------------------------------------------------

def _leaves(node, prefix=""):
    for key, value in node.items():
        name = prefix + key
        if mapping.field_type(name) == "flattened":
            yield name, value
        elif isinstance(value, dict):
            yield from _leaves(value, name + ".")
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                yield from _leaves(item, name + ".")
        else:
            yield name, value


_PYTHON_TYPES = {"keyword": (str, bool), "constant_keyword": (str,), "date": (str,),
                 "match_only_text": (str,),
                 "boolean": (bool,), "ip": (str,), "flattened": (dict,)}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_produced_field_is_mapped_with_a_fitting_type(name):
    record, _ = VARIANTS[name]
    doc = to_ecs(record, ingested=INGESTED, created=INGESTED)
    for field, value in _leaves(doc):
        kind = mapping.field_type(field)
        assert kind is not None, field
        for item in value if isinstance(value, list) else [value]:
            assert isinstance(item, _PYTHON_TYPES[kind]), (field, item)
        if kind == "constant_keyword":
            assert value == mapping.constant_value(field)


def test_field_types_the_rules_depend_on():
    assert mapping.field_type("aws.cloudtrail.console_login.additional_eventdata.mfa_used") \
        == "boolean"
    assert mapping.field_type("aws.cloudtrail.user_identity.session_context.mfa_authenticated") \
        == "keyword"
    assert mapping.field_type("source.ip") == "ip"
    assert mapping.field_type("source.address") == "keyword"
    assert mapping.field_type("aws.cloudtrail.flattened.response_elements") == "flattened"
    assert mapping.field_type("aws.cloudtrail.flattened.response_elements.ConsoleLogin") \
        == "keyword"
    assert mapping.flattened_root("aws.cloudtrail.flattened.response_elements.ConsoleLogin") \
        == "aws.cloudtrail.flattened.response_elements"
    assert mapping.field_type("aws.cloudtrail") is None and mapping.is_object("aws.cloudtrail")
    # 8.9.0 writes it (rename_json_sessionCredentialFromConsole_to_..._6cdda950)
    assert mapping.field_type("aws.cloudtrail.session_credential_from_console") == "keyword"
    assert mapping.field_type("user.email") == "keyword"
    assert mapping.field_type("user.target.name") == "keyword"
    assert mapping.field_type("user.changes.name") == "keyword"
    assert mapping.field_type("related.ip") == "ip"
    assert mapping.field_type("aws.cloudtrail.management_event") == "keyword"


def test_index_template_body():
    body = mapping.index_template()
    assert body["index_patterns"] == ["logs-aws.cloudtrail-*"]
    assert body["data_stream"] == {} and body["priority"] > 100
    props = body["template"]["mappings"]["properties"]
    assert body["template"]["mappings"]["dynamic"] is False
    ct = props["aws"]["properties"]["cloudtrail"]["properties"]
    mfa = ct["console_login"]["properties"]["additional_eventdata"]["properties"]["mfa_used"]
    assert mfa == {"type": "boolean"}
    assert ct["flattened"]["properties"]["response_elements"] == {"type": "flattened"}
    assert ct["request_parameters"] == {"type": "keyword", "ignore_above": 8191,
                                        "fields": {"text": {"type": "text"}}}
    assert props["source"]["properties"]["ip"] == {"type": "ip"}
    assert props["@timestamp"] == {"type": "date"}
    assert props["event"]["properties"]["dataset"] == {"type": "constant_keyword",
                                                       "value": "aws.cloudtrail"}
    assert props["user"]["properties"]["name"] == {
        "type": "keyword", "ignore_above": 1024, "fields": {"text": {"type": "match_only_text"}}}
