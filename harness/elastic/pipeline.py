"""The ingest pipeline that makes Elastic count a CloudTrail event once, like the engine does.

Multi-region and organisation trails deliver the same sign-in event (same ``eventID``) in several S3
objects. Elastic's AWS integration does not de-duplicate them: its CloudTrail pipeline never sets
``_id``, and the aws-s3 input derives ``_id`` from the S3 object and offset, which differ per copy
(elastic/integrations#5668). Each copy is then a document: a query rule alerts on both.

The integration calls ``logs-aws.cloudtrail@custom`` at the end of its pipeline when it exists.
Ours fingerprints ``event.id`` into ``_id`` (as Elastic's own O365 integration does for its audit
ids), so the second copy's ``create`` conflicts with the first and is dropped. It holds within one
backing index: a copy that arrives after a rollover is indexed again (the threshold rules also count
distinct ``event.id`` for that reason).
"""

import json

from ..build import distributable

NAME = "logs-aws.cloudtrail@custom"


def dedup_pipeline():
    """The body for ``PUT _ingest/pipeline/logs-aws.cloudtrail@custom``."""
    return {
        "description": "awssignin: one document per CloudTrail eventID (multi-trail copies conflict on _id)",
        "processors": [
            {"fingerprint": {"fields": ["event.id"], "target_field": "_id", "method": "SHA-256",
                             "ignore_missing": True,
                             "tag": "awssignin-dedup-event-id"}},
        ],
        "_meta": {"managed_by": "awssignin"},
    }


def pipeline_path(layout):
    return layout.dist / "elastic" / ("ingest-pipeline-%s.json" % NAME)


@distributable
def dedup_pipeline_file(layout, detections):
    path = pipeline_path(layout)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dedup_pipeline(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return [path]


SETUP = """## Setup

Requires the Elastic AWS integration (CloudTrail data stream, `logs-aws.cloudtrail-*`).

AWS delivers an event once per trail that records it. To alert once per event, install the
awssignin ingest pipeline `%s` (`dist/elastic/ingest-pipeline-%s.json` from `awssignin build`):
`PUT _ingest/pipeline/%s` with that body. If you already have a `%s` pipeline, add its
fingerprint processor to yours instead of replacing it.
""" % (NAME, NAME, NAME, NAME)
