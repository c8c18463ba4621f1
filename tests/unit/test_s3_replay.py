"""Replay from S3, against moto's S3 server on 127.0.0.1 (never AWS): the CloudTrail key layout,
pruned listings, digests and other objects ignored, the same alerts as the same files on disk."""

import gzip
import json
import sys

import pytest

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from click.testing import CliRunner  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.reader import InputError, Reader  # noqa: E402
from fixturedata import all_fixture_records, fixture_records  # noqa: E402

BUCKET = "trail-bucket"
ACCOUNT, ORG_ACCOUNT, ORG = "111122223333", "444455556666", "o-abcdefghij"


@pytest.fixture(scope="module")
def server():
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    yield "http://%s:%d" % (host, port)
    srv.stop()


@pytest.fixture
def aws(server, monkeypatch, tmp_path):
    """Fake credentials and the local endpoint; no user AWS configuration is read."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", server)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    client = boto3.client("s3")
    try:
        client.create_bucket(Bucket=BUCKET)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", ()):
            client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    return client


def _name(account, region, stamp, n):
    return "%s_CloudTrail_%s_%s_Ab%014d.json.gz" % (account, region, stamp, n)


def put_trail(client, records):
    """The records as CloudTrail would file them: per account, region and delivery day, plus a digest,
    another service's logs and a stray object; returns {key: records}."""
    layout = {}
    for i, record in enumerate(records):
        account = record.get("recipientAccountId", ACCOUNT)
        region = record.get("awsRegion", "us-east-1")
        day = record["eventTime"][:10].replace("-", "/")
        when = record["eventTime"]  # delivered in the 5 minutes after: YYYYMMDDTHHmmZ
        stamp = "%sT%s%02dZ" % (when[:10].replace("-", ""), when[11:13], int(when[14:16]) // 5 * 5)
        owner = "%s/%s" % (ORG, account) if account == ORG_ACCOUNT else account
        key = "trail/AWSLogs/%s/CloudTrail/%s/%s/%s" % (owner, region, day, _name(account, region, stamp, 0))
        layout.setdefault(key, []).append(record)
    for key, chunk in layout.items():
        client.put_object(Bucket=BUCKET, Key=key, Body=gzip.compress(json.dumps({"Records": chunk}).encode()))
    client.put_object(Bucket=BUCKET, Key="trail/AWSLogs/%s/CloudTrail-Digest/us-east-1/2026/03/10/"
                      "%s_CloudTrail-Digest_us-east-1_t_us-east-1_20260310T100000Z.json.gz" % (ACCOUNT, ACCOUNT),
                      Body=gzip.compress(b'{"digestStartTime": "2026-03-10T09:00:00Z"}'))
    client.put_object(Bucket=BUCKET, Key="trail/AWSLogs/%s/elasticloadbalancing/x.log.gz" % ACCOUNT, Body=b"x")
    client.put_object(Bucket=BUCKET, Key="README.txt", Body=b"not a log")
    return layout


def records_of(name):
    return fixture_records(name)


def read(url, **options):
    skips = []
    reader = Reader([url], on_skip=skips.append, **options)
    return [r for r, _ in reader], skips, reader


def test_every_log_object_is_read_and_the_rest_counted(aws):
    records = records_of("root_console_brute_force/two_bursts_two_accounts.json")
    put_trail(aws, records)  # one of its accounts files under an organization trail's folder
    got, skips, reader = read("s3://%s/" % BUCKET)
    assert sorted(r["eventID"] for r in got) == sorted(r["eventID"] for r in records) and skips == []
    assert reader.stats["s3 digest prefixes ignored"] == 1
    assert reader.stats["s3 non-log objects ignored"] == 1            # README.txt
    assert reader.stats["s3 prefixes ignored (not CloudTrail)"] == 1  # elasticloadbalancing/
    assert reader.s3.objects_done == reader.s3.objects_total > 0
    assert reader.s3.bytes_done == reader.s3.bytes_total > 0
    # both an account trail's folder and an organization trail's were read
    assert {r["recipientAccountId"] for r in got} == {ACCOUNT, ORG_ACCOUNT}


def _shifted(records, day):
    out = []
    for r in records:
        r = dict(r, eventTime=day + r["eventTime"][10:], eventID="%s-%s" % (day, r["eventID"]))
        out.append(r)
    return out


def test_since_until_list_only_the_days_in_range(aws):
    base = records_of("root_console_brute_force/two_bursts_two_accounts.json")
    records = _shifted(base, "2026-02-01") + base + _shifted(base, "2026-03-12") + _shifted(base, "2027-01-01")
    put_trail(aws, records)
    got, skips, reader = read("s3://%s/trail/" % BUCKET, since="2026-03-10", until="2026-03-11")
    assert sorted(r["eventID"] for r in got) == sorted(r["eventID"] for r in base) and skips == []
    days = sorted({p.split("/CloudTrail/")[1].split("/", 1)[1] for p, _ in reader.s3.listed if "/CloudTrail/us-east-1/" in p})
    # the days from --since to the day after --until; never a year or month folder, never the whole region
    assert days == ["2026/03/10/", "2026/03/11/", "2026/03/12/"]
    # the 03/12 folder was listed but its records fall after --until: counted, not skipped
    assert reader.stats["records outside the selection"] == len(base)


def test_one_open_end_prunes_year_and_month_folders(aws):
    base = records_of("root_console_brute_force/two_bursts_two_accounts.json")
    put_trail(aws, _shifted(base, "2025-06-01") + base)
    got, _, reader = read("s3://%s/trail/" % BUCKET, since="2026-01-01")
    assert sorted(r["eventID"] for r in got) == sorted(r["eventID"] for r in base)
    assert not any("/2025/06/" in p for p, _ in reader.s3.listed)


def test_account_and_region_filters_prune_folders(aws):
    records = records_of("root_console_brute_force/two_bursts_two_accounts.json")
    put_trail(aws, records)
    got, _, reader = read("s3://%s/trail/AWSLogs/" % BUCKET, accounts=[ORG_ACCOUNT])
    assert got and {r["recipientAccountId"] for r in got} == {ORG_ACCOUNT}
    assert not any("/%s/" % ACCOUNT in p for p, _ in reader.s3.listed)
    got, _, reader = read("s3://%s/trail" % BUCKET, regions="eu-west-1")
    assert got == [] and not any("us-east-1" in p for p, _ in reader.s3.listed)


def test_a_corrupt_object_is_a_skip_and_its_neighbours_are_read(aws):
    records = records_of("root_console_login/root_success.json")
    layout = put_trail(aws, records)
    bad = "trail/AWSLogs/%s/CloudTrail/us-east-1/2026/03/10/%s" % (ACCOUNT, _name(ACCOUNT, "us-east-1", "20260310T0000Z", 1))
    aws.put_object(Bucket=BUCKET, Key=bad, Body=gzip.compress(b'{"Records": [{"eventID": "x"')[:-9])
    got, skips, _ = read("s3://%s/" % BUCKET)
    assert len(got) == sum(len(v) for v in layout.values())
    assert [s.reason for s in skips] == ["truncated or corrupt gzip"] and skips[0].location == "s3://%s/%s" % (BUCKET, bad)


def test_one_object_named_exactly(aws):
    records = records_of("root_console_login/root_success.json")
    key = sorted(put_trail(aws, records))[0]
    got, skips, _ = read("s3://%s/%s" % (BUCKET, key))
    assert got and skips == []


def test_profile_and_errors_are_clear(aws, tmp_path, monkeypatch):
    records = records_of("root_console_login/root_success.json")
    put_trail(aws, records)
    (tmp_path / "aws-config").write_text("[profile backtest]\nregion = us-east-1\n")
    (tmp_path / "aws-credentials").write_text("[backtest]\naws_access_key_id = a\naws_secret_access_key = b\n")
    got, _, _ = read("s3://%s/" % BUCKET, profile="backtest")
    assert got
    with pytest.raises(InputError, match="--profile"):
        read("s3://%s/" % BUCKET, profile="nope")
    with pytest.raises(InputError, match="no-such-bucket"):
        read("s3://no-such-bucket/")
    with pytest.raises(InputError, match="s3://bucket/prefix"):
        read("s3://")
    monkeypatch.setitem(sys.modules, "boto3", None)  # boto3 not installed
    with pytest.raises(InputError, match=r"awssignin\[s3\]"):
        read("s3://%s/" % BUCKET)


def test_replay_from_s3_gives_the_alerts_of_the_same_files_on_disk(aws, tmp_path):
    records = all_fixture_records()
    layout = put_trail(aws, records)
    for key, chunk in layout.items():
        local = tmp_path / key
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(gzip.compress(json.dumps({"Records": chunk}).encode()))

    def alerts(source):
        result = CliRunner().invoke(main, ["replay", source, "--format", "jsonl"], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return sorted(line for line in result.stdout.splitlines() if line.startswith("{"))

    from_s3 = alerts("s3://%s/trail/" % BUCKET)
    assert from_s3 and from_s3 == alerts(str(tmp_path / "trail"))


def test_replay_options_reach_the_reader(aws):
    records = records_of("root_console_brute_force/two_bursts_two_accounts.json")
    put_trail(aws, records)
    result = CliRunner().invoke(main, ["replay", "s3://%s/" % BUCKET, "--format", "jsonl", "--account", ORG_ACCOUNT,
                                       "--detections", "root_console_brute_force"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    alerts = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert alerts and {a["group"]["account_id"] for a in alerts} == {ORG_ACCOUNT}
    bad = CliRunner().invoke(main, ["replay", "s3://%s/" % BUCKET, "--since", "soon"])
    assert bad.exit_code == 2 and "--since" in bad.output


def test_progress_names_objects_bytes_and_time_left(aws):
    records = records_of("root_console_brute_force/two_bursts_two_accounts.json")
    put_trail(aws, records)
    reader = Reader(["s3://%s/" % BUCKET])
    iterator = iter(reader)
    next(iterator)
    total = reader.s3.objects_total
    assert reader.s3.progress(10.0).startswith("objects 1/%d, " % total) and "ETA" in reader.s3.progress(10.0)
    list(iterator)
    assert reader.s3.progress(10.0).startswith("objects %d/%d, " % (total, total))
    assert "ETA" not in reader.s3.progress(10.0)
