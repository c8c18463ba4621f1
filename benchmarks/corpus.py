"""A synthetic but realistic CloudTrail corpus for the benchmarks: mostly API calls, ~5% sign-in.

Records are built from the fixture records (every key AWS writes), with fresh eventIDs and times
spread over a day with CloudTrail-like disorder (a few minutes of jitter). Deterministic per seed.
"""

import json
import random
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "detections" / "fixtures"
T0 = 1773100800  # 2026-03-10T00:00:00Z

API_CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances", True), ("s3.amazonaws.com", "GetObject", True),
    ("s3.amazonaws.com", "PutObject", False), ("sts.amazonaws.com", "AssumeRole", False),
    ("kms.amazonaws.com", "Decrypt", True), ("lambda.amazonaws.com", "Invoke", False),
    ("dynamodb.amazonaws.com", "DescribeTable", True), ("iam.amazonaws.com", "ListRoles", True),
    ("logs.amazonaws.com", "CreateLogStream", False), ("monitoring.amazonaws.com", "PutMetricData", False),
]


def _signin_templates():
    out = []
    for path in sorted(FIXTURES.rglob("*.json")):
        with open(path, encoding="utf-8") as handle:
            for record in json.load(handle)["Records"]:
                if record.get("eventSource") == "signin.amazonaws.com":
                    out.append(record)
    return out


def _api_template():
    with open(FIXTURES / "root_console_login" / "root_success.json", encoding="utf-8") as handle:
        for record in json.load(handle)["Records"]:
            if record["eventSource"] != "signin.amazonaws.com":
                return record
    raise RuntimeError("no API call record in the fixtures")


def _iso(t):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def generate(path, count, signin_share=0.05, seed=1):
    rng = random.Random(seed)
    signin = _signin_templates()
    api = _api_template()
    span = 86400
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            t = T0 + int(span * i / count) + rng.randint(-300, 300)
            if rng.random() < signin_share:
                record = dict(rng.choice(signin))
            else:
                record = dict(api)
                source, name, read_only = API_CALLS[rng.randrange(len(API_CALLS))]
                record["eventSource"] = source
                record["eventName"] = name
                record["readOnly"] = read_only
                record["requestID"] = str(uuid.UUID(int=rng.getrandbits(128)))
                record["requestParameters"] = {"bucketName": "logs-%04d" % rng.randrange(500),
                                               "key": "app/%08x.json" % rng.getrandbits(32)}
            record["eventTime"] = _iso(t)
            record["eventID"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            out.write(json.dumps(record))
            out.write("\n")
    return path
