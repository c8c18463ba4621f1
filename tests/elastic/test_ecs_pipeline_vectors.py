"""harness.elastic.ecs against the AWS integration's own CloudTrail pipeline tests.

Each input line of ``tests/data/elastic_pipeline/test-*.log`` is mapped with ``to_ecs`` and
compared, leaf by leaf, with the document the pipeline test expects (same file name plus
``-expected.json``; source paths and commits in that directory's README). Every leaf of both
documents is compared except the ones listed in ``NOT_REPRODUCED`` (what ecs.py documents as not
computed) and ``NOT_FROM_THE_PIPELINE`` (what Fleet or the shipper adds, which a pipeline test
does not see), plus per-file exclusions with their reason.
"""
import json
from pathlib import Path

import pytest

from harness.elastic.ecs import AWS_PACKAGE_VERSION, PIPELINE_COMMIT, to_ecs

DATA = Path(__file__).resolve().parent.parent / "data" / "elastic_pipeline"

# Prefixes (a leaf matches when it equals one or lies below it) and their reasons.
NOT_REPRODUCED = {
    "actor": "entity script (actor_target_mapping tag) is not reproduced",
    "target": "entity script is not reproduced",
    "related.entity": "entity script is not reproduced",
    "user.entity": "entity script is not reproduced",
    "user.target.entity": "entity script is not reproduced",
    "host.entity": "entity script is not reproduced",
    "host.target": "entity script is not reproduced",
    "service.entity": "entity script is not reproduced",
    "service.target": "entity script is not reproduced",
    "entity": "entity script is not reproduced",
    "source.geo": "GeoIP needs a database: compared in test_geo_enrichment.py",
    "source.as": "GeoIP (ASN) needs a database: compared in test_geo_enrichment.py",
    "user_agent.name": "user-agent parsing is not reproduced",
    "user_agent.version": "user-agent parsing is not reproduced",
    "user_agent.device": "user-agent parsing is not reproduced",
    "user_agent.os": "user-agent parsing is not reproduced",
    "event.original": "to_ecs takes the parsed record; the test runner keeps the raw line",
    "tags": "set by the pipeline test configuration (the integration policy), not the pipeline",
}
NOT_FROM_THE_PIPELINE = {
    "data_stream": "added by Elastic Agent / the data stream, not by the pipeline",
    "event.dataset": "constant_keyword of the data stream, not written by the pipeline",
    "event.module": "constant_keyword of the data stream, not written by the pipeline",
}

# Expected files generated before processors of the modelled pipeline existed: the fields those
# processors write are excluded for that file only, and asserted by hand in the tests below.
STALE = {
    "test-user-authentication.log": {
        "cloud.provider": "set_cloud_provider_aws_8f31c0e6 came after this file (4.1.0)",
        "cloud.service.name": "dissect_json_eventSource_to_cloud_service_name_5d2b7c94 came later",
        "user.id": "rename_user_id_identity_center_user_a2cfa5f2 came later",
        "related.user": "append_related_user_3b2f7fde / _on_behalf_of_user_id came later",
        "aws.cloudtrail.user_identity.on_behalf_of": "set/rename ..._on_behalf_of_... came later",
        "aws.cloudtrail.user_identity.credential_id": "rename ..._credential_id_c8f40d29 came later",
    },
}

VECTORS = sorted(p.name for p in DATA.glob("test-*.log"))


def _leaves(node, prefix=""):
    out = {}
    for key, value in node.items():
        name = prefix + key
        if isinstance(value, dict) and value and not name.startswith("aws.cloudtrail.flattened."):
            out.update(_leaves(value, name + "."))
        else:
            out[name] = value       # flattened sub-objects compare whole
    return out


def _excluded(name, extra):
    for table in (NOT_REPRODUCED, NOT_FROM_THE_PIPELINE, extra):
        for prefix in table:
            if name == prefix or name.startswith(prefix + "."):
                return True
    return False


def _cases():
    for name in VECTORS:
        lines = (DATA / name).read_text(encoding="utf-8").splitlines()
        expected = json.loads((DATA / (name + "-expected.json")).read_text(encoding="utf-8"))
        docs = expected["expected"]
        assert len(lines) == len(docs), name
        for i, (line, doc) in enumerate(zip(lines, docs)):
            yield pytest.param(name, json.loads(line), doc, id="%s#%d" % (name, i))


@pytest.mark.parametrize("name, record, expected", list(_cases()))
def test_pipeline_vector(name, record, expected):
    created = expected.get("event", {}).get("created")
    got = to_ecs(record, created=created)
    extra = STALE.get(name, {})
    want = {k: v for k, v in _leaves(expected).items() if not _excluded(k, extra)}
    have = {k: v for k, v in _leaves(got).items() if not _excluded(k, extra)}
    assert sorted(have) == sorted(want)
    for key in want:
        assert have[key] == want[key], key


def test_vectors_present_and_module_names_its_version():
    assert AWS_PACKAGE_VERSION == "8.9.0" and PIPELINE_COMMIT.startswith("3ab4281")
    assert "test-console-login-json.log" in VECTORS and "test-user-authentication.log" in VECTORS
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "packages/aws/data_stream/cloudtrail/_dev/test/pipeline" in readme
    assert PIPELINE_COMMIT in readme


def test_user_authentication_fields_of_the_modelled_pipeline():
    # The stored expected file predates these processors (see STALE); what 8.9.0 writes:
    record = json.loads((DATA / "test-user-authentication.log").read_text().splitlines()[0])
    doc = to_ecs(record)
    assert doc["cloud"]["provider"] == "aws"
    assert doc["cloud"]["service"] == {"name": "signin"}
    # rename_user_id_identity_center_user_a2cfa5f2: IdentityCenterUser without principalId
    assert doc["user"]["id"] == "redacted"
    # rename_additionalEventData_UserName_to_username_552c89e0 + set_user_email_d6b77481
    assert doc["user"]["name"] == doc["user"]["email"] == "redacted@example.com"
    # append_related_user_3b2f7fde (user.id), _3b423052 (user.name), _on_behalf_of_user_id (dup)
    assert doc["related"]["user"] == ["redacted", "redacted@example.com"]
    assert doc["aws"]["cloudtrail"]["user_identity"]["on_behalf_of"] == {
        "user_id": "redacted",
        "identity_store_arn": "arn:aws:identitystore::redacted:identitystore/redacted"}
    assert doc["aws"]["cloudtrail"]["user_identity"]["credential_id"] == "redacted"
    # serviceEventDetails never decides the outcome
    assert doc["event"]["outcome"] == "success" and "category" not in doc["event"]
