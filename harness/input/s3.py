"""``s3://bucket/prefix``: CloudTrail objects listed by their key layout and streamed, never downloaded whole.

CloudTrail writes ``<prefix>/AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<file>.json.gz``, and for an
organization trail ``<prefix>/AWSLogs/<org-id>/<account>/CloudTrail/...`` (CloudTrail user guide,
"Finding your CloudTrail log files", docs.aws.amazon.com/awscloudtrail/latest/userguide/
get-and-view-cloudtrail-log-files.html; file names: cloudtrail-log-file-examples.html); digests go to ``CloudTrail-Digest/`` beside ``CloudTrail/``. The
listing walks that layout one level at a time (``Delimiter="/"``), enters only the accounts and regions
selected, and with ``--since`` and ``--until`` lists only the day folders in range, so a month of one
account is a month of listings, not the bucket. Objects that are not log files are counted, not read.

boto3 is optional (extra ``s3``) and imported only here; credentials come from its standard chain,
``--profile`` picks a profile, and boto3 itself honours ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_S3``
(AWS SDKs and Tools reference guide, "Service-specific endpoints",
docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html; botocore ``configprovider.py``).
"""

import datetime as dt
import io
import re
from collections import Counter

from .errors import InputError
from .names import display
from .tree import time_order

_ACCOUNT = re.compile(r"^\d{12}$")
_ORG = re.compile(r"^o-[a-z0-9]{10,32}$")
_YEAR = re.compile(r"^\d{4}$")
_TWO = re.compile(r"^\d{2}$")
_LOG_NAME = re.compile(r"_CloudTrail_[^_/]+_(\d{8}T\d{4}Z)_[^/]*\.json(\.gz)?$")
_DIGEST_NAME = re.compile(r"_CloudTrail-Digest_")
# folders above AWSLogs/ that are searched for it (a trail's S3KeyPrefix may have several levels)
_MAX_PREFIX_DEPTH = 4


def parse_url(url):
    m = re.match(r"^s3://([^/]+)/?(.*)$", url)
    if not m or not m.group(1):
        raise InputError("%s: expected s3://bucket/prefix" % display(url))
    return m.group(1), m.group(2)


def _boto3():
    try:
        import boto3
    except ImportError:
        raise InputError("reading s3:// needs boto3: pip install 'awssignin[s3]'")
    return boto3


class _Body(io.RawIOBase):
    """An S3 object's streaming body as a raw stream, for io.BufferedReader (and gzip's peek)."""

    def __init__(self, body):
        self.body = body

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.body.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        try:
            self.body.close()
        finally:
            io.RawIOBase.close(self)


class S3Source(object):
    """The CloudTrail log objects under one ``s3://`` URL, listed once, in CloudTrail time order."""

    def __init__(self, url, selection, profile=None, stats=None, client=None):
        self.url = url
        self.bucket, self.prefix = parse_url(url)
        self.selection = selection
        self.profile = profile
        self.stats = stats if stats is not None else Counter()
        self._client = client
        self.listed = []          # (prefix, delimiter) of every listing request, in order
        self.objects_total = 0    # for progress: what the listing found ...
        self.bytes_total = 0
        self.objects_done = 0     # ... and what has been opened so far
        self.bytes_done = 0

    # -- client ----------------------------------------------------------------------------------
    def client(self):
        if self._client is None:
            boto3 = _boto3()
            import botocore.exceptions as bex
            try:
                session = boto3.session.Session(profile_name=self.profile) if self.profile else boto3.session.Session()
                self._client = session.client("s3")
            except bex.ProfileNotFound as err:
                raise InputError("--profile: %s" % err)
        return self._client

    def stream_errors(self):
        """What reading an object's body can raise besides OSError (a dropped connection, ...)."""
        import botocore.exceptions as bex
        return (bex.BotoCoreError, bex.ClientError)

    # -- listing ---------------------------------------------------------------------------------
    def _list(self, prefix, delimiter=True):
        """``(sub-prefixes, [(key, size)])`` directly under ``prefix`` (or everything, without delimiter)."""
        import botocore.exceptions as bex
        self.listed.append((prefix, "/" if delimiter else ""))
        self.stats["s3 list requests"] += 1
        args = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            args["Delimiter"] = "/"
        subdirs, objects = [], []
        try:
            for page in self.client().get_paginator("list_objects_v2").paginate(**args):
                subdirs.extend(p["Prefix"] for p in page.get("CommonPrefixes", ()))
                objects.extend((o["Key"], o.get("Size", 0)) for o in page.get("Contents", ()))
        except bex.NoCredentialsError:
            raise InputError("%s: no AWS credentials (the standard chain found none; see --profile)" % self.url)
        except bex.ClientError as err:
            raise InputError("%s: listing s3://%s/%s failed: %s" % (self.url, self.bucket, prefix, err))
        except bex.BotoCoreError as err:
            raise InputError("%s: %s" % (self.url, err))
        return subdirs, objects

    def urls(self):
        """Every log object to read, as ``s3://bucket/key``, in CloudTrail time order."""
        found = []
        prefix = self.prefix
        if prefix and not prefix.endswith("/"):
            # one object named exactly, or a folder named without its slash
            _, objects = self._list(prefix, delimiter=False)
            exact = [o for o in objects if o[0] == prefix]
            if exact:
                found = exact
            else:
                prefix += "/"
        if not found:
            self._collect(prefix, found)
        found.sort(key=lambda o: time_order(o[0]))
        self.objects_total = len(found)
        self.bytes_total = sum(size for _, size in found)
        self.stats["s3 objects listed"] += len(found)
        return ["s3://%s/%s" % (self.bucket, key) for key, _ in found]

    def _collect(self, prefix, found):
        segments = [s for s in prefix.split("/") if s]
        if "AWSLogs" not in segments:
            self._above_awslogs(prefix, segments, found)
            return
        after = segments[len(segments) - 1 - segments[::-1].index("AWSLogs") + 1:]
        self._below_awslogs(prefix, after, found)

    def _above_awslogs(self, prefix, segments, found):
        if len(segments) > _MAX_PREFIX_DEPTH:
            self.stats["s3 prefixes ignored (no AWSLogs/)"] += 1
            return
        subdirs, objects = self._list(prefix)
        self._ignore(objects)
        for sub in subdirs:
            self._collect(sub, found)

    def _ignore(self, objects):
        for key, _ in objects:
            if _DIGEST_NAME.search(key):
                self.stats["s3 digest objects ignored"] += 1
            else:
                self.stats["s3 non-log objects ignored"] += 1

    def _below_awslogs(self, prefix, after, found):
        sel = self.selection
        # where in AWSLogs/[org/]account/CloudTrail/region/YYYY/MM/DD/ the prefix points
        parts = list(after)
        if parts and _ORG.match(parts[0]):
            parts = parts[1:]
            if not parts:  # AWSLogs/<org-id>/: the accounts
                return self._accounts(prefix, found)
        if not parts:  # AWSLogs/: accounts or organizations
            return self._accounts(prefix, found)
        account = parts[0]
        if not _ACCOUNT.match(account) or (sel.accounts and account not in sel.accounts):
            self.stats["s3 prefixes ignored (not selected)"] += 1
            return
        rest = parts[1:]
        if not rest:  # AWSLogs/<account>/: its services
            subdirs, objects = self._list(prefix)
            self._ignore(objects)
            for sub in subdirs:
                name = sub.rstrip("/").rsplit("/", 1)[-1]
                if name == "CloudTrail":
                    self._regions(sub, found)
                elif name == "CloudTrail-Digest":
                    self.stats["s3 digest prefixes ignored"] += 1
                else:
                    self.stats["s3 prefixes ignored (not CloudTrail)"] += 1
            return
        if rest[0] != "CloudTrail":
            self.stats["s3 prefixes ignored (not CloudTrail)"] += 1
            return
        if len(rest) == 1:
            return self._regions(prefix, found)
        region = rest[1]
        if sel.regions and region not in sel.regions:
            self.stats["s3 prefixes ignored (not selected)"] += 1
            return
        self._dates(prefix, rest[2:], found)

    def _accounts(self, prefix, found):
        subdirs, objects = self._list(prefix)
        self._ignore(objects)
        for sub in subdirs:
            name = sub.rstrip("/").rsplit("/", 1)[-1]
            if _ORG.match(name) or _ACCOUNT.match(name):
                self._collect(sub, found)
            else:
                self.stats["s3 prefixes ignored (not CloudTrail)"] += 1

    def _regions(self, prefix, found):
        if self.selection.regions:  # named: no need to list them
            for region in sorted(self.selection.regions):
                self._dates(prefix + region + "/", [], found)
            return
        subdirs, objects = self._list(prefix)
        self._ignore(objects)
        for sub in subdirs:
            self._dates(sub, [], found)

    def _dates(self, prefix, known, found):
        """``prefix`` is a region folder plus the date folders in ``known`` (YYYY, MM, DD)."""
        sel = self.selection
        if len(known) > 3 or not all(_YEAR.match(k) if i == 0 else _TWO.match(k) for i, k in enumerate(known)):
            self.stats["s3 prefixes ignored (not CloudTrail)"] += 1
            return
        base = prefix
        for _ in known:
            base = base[:base.rstrip("/").rfind("/") + 1]
        days = sel.days()
        if days is not None:
            # both ends known: list exactly the day folders in range (inside the prefix given)
            for day in days:
                parts = ["%04d" % day.year, "%02d" % day.month, "%02d" % day.day]
                if parts[:len(known)] == known:
                    self._objects(base + "/".join(parts) + "/", found)
            return
        if len(known) == 3 or not (sel.since or sel.until):
            return self._objects(prefix, found)
        # one end open: walk years, months, days, pruning what falls outside
        subdirs, objects = self._list(prefix)
        self._ignore(objects)
        for sub in subdirs:
            name = sub.rstrip("/").rsplit("/", 1)[-1]
            if self._date_in_range(known + [name]):
                self._dates(sub, known + [name], found)
            else:
                self.stats["s3 prefixes ignored (not selected)"] += 1

    def _date_in_range(self, parts):
        sel = self.selection
        try:
            numbers = [int(p) for p in parts]
            first = dt.datetime(numbers[0], numbers[1] if len(numbers) > 1 else 1, numbers[2] if len(numbers) > 2 else 1)
        except (ValueError, OverflowError):
            return False
        if len(parts) == 1:
            last = dt.datetime(numbers[0] + 1, 1, 1) if numbers[0] < 9999 else dt.datetime.max
        elif len(parts) == 2:
            last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        else:
            last = first + dt.timedelta(days=1)
        # the folder of a day can hold records of the day before (delivered after midnight)
        if sel.since and last <= sel.since:
            return False
        if sel.until and first > sel.until + dt.timedelta(days=1):
            return False
        return True

    def _objects(self, prefix, found):
        _, objects = self._list(prefix, delimiter=False)
        since = self.selection.since.strftime("%Y%m%dT%H%MZ") if self.selection.since else None
        for key, size in objects:
            m = _LOG_NAME.search(key)
            if not m:
                self._ignore([(key, size)])
            elif since and m.group(1) < since:
                # delivered before --since: it holds only records from before it (CloudTrail user
                # guide, "CloudTrail log file name format")
                self.stats["s3 objects before --since"] += 1
            else:
                found.append((key, size))

    # -- reading ---------------------------------------------------------------------------------
    def open(self, url):
        """A raw stream of the object's bytes (OSError when it cannot be fetched)."""
        import botocore.exceptions as bex
        bucket, key = parse_url(url)
        try:
            response = self.client().get_object(Bucket=bucket, Key=key)
        except (bex.ClientError, bex.BotoCoreError) as err:
            raise OSError(str(err))
        self.objects_done += 1
        self.bytes_done += response.get("ContentLength", 0) or 0
        return io.BufferedReader(_Body(response["Body"]), 1 << 20)

    def progress(self, seconds):
        """``objects 3/120, 1.2/310.0 MB, ETA 4m10s`` for a progress line, ``seconds`` into the run."""
        text = "objects %d/%d, %.1f/%.1f MB" % (self.objects_done, self.objects_total, self.bytes_done / 1e6,
                                               self.bytes_total / 1e6)
        if self.bytes_done and self.bytes_total > self.bytes_done:
            left = int(seconds * (self.bytes_total - self.bytes_done) / self.bytes_done)
            text += ", ETA %s" % ("%dm%02ds" % divmod(left, 60) if left >= 60 else "%ds" % left)
        return text
