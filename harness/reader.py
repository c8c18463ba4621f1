"""Reading CloudTrail from everything a user has, as a stream of records.

Sources: files, directories (recursively), standard input (``-``) and ``s3://bucket/prefix`` (CloudTrail's
bucket layout, listed by day). The form of each is read from its content, never its name: gzip (one
member or many), ``{"Records": [...]}`` documents (one or concatenated), ``aws cloudtrail
lookup-events`` pages, a JSON array of records, NDJSON. Records are decoded one at a time
(``harness.input.decode``), so memory does not grow with the input.

Nothing is dropped silently: every record, file or object that cannot be read is reported to
``on_skip`` as a ``Skip(reason, location, detail)`` and counted in ``skipped`` by reason; what is
deliberately not read (digest files, records outside --since/--until) is counted in ``stats``. A path on
the command line that does not exist raises ``InputNotFound`` before anything is read.
"""

import gzip
import io
import os
import stat
import sys
import zlib
from collections import Counter

from .input import limits, tree
from .input.decode import Decoder
from .input.errors import InputError, InputNotFound
from .input.names import display
from .input.selection import Selection

__all__ = ["Reader", "Skip", "InputError", "InputNotFound", "CHUNK"]

CHUNK = limits.CHUNK  # read size; a module global so that tests can make it small


class Skip(object):
    """Something that could not be read: a short stable ``reason``, where (``location``), and why."""

    __slots__ = ("reason", "location", "detail")

    def __init__(self, reason, location, detail=""):
        self.reason = reason
        self.location = location
        self.detail = detail

    def __str__(self):
        return "%s: %s%s" % (self.location, self.reason, (" (%s)" % self.detail) if self.detail else "")


class Reader(object):
    """Iterate ``(record, location)`` over ``paths``.

    ``stats`` counts records (``records``), sources (``files``) and what was deliberately left out;
    ``skipped`` counts skips by reason; ``bytes_read`` is the bytes decoded (after gzip).
    ``since``/``until``/``accounts``/``regions`` select records (and prune S3 listings); ``profile`` is
    the AWS profile for ``s3://`` sources."""

    def __init__(self, paths, on_skip=None, stdin=None, since=None, until=None, accounts=None, regions=None,
                 profile=None, prefilter=None):
        self.paths = list(paths)
        self.prefilter = prefilter  # needles: NDJSON lines with none of them are counted, not parsed (decode.py)
        self.on_skip = on_skip
        self.stdin = stdin
        self.selection = Selection(since, until, accounts, regions)
        self.profile = profile
        self.stats = Counter()
        self.skipped = Counter()
        self.bytes_read = 0
        self.s3 = None  # the S3 source once an s3:// path is listed (its progress: objects and bytes)

    # -- reporting -------------------------------------------------------------------------------
    def skip(self, reason, location, detail=""):
        self.skipped[reason] += 1
        if self.on_skip is not None:
            self.on_skip(Skip(reason, location, detail))

    # -- sources ---------------------------------------------------------------------------------
    def check_paths(self):
        """Raise ``InputNotFound`` naming every local path on the command line that does not exist."""
        missing = [display(p) for p in self.paths
                   if p != "-" and not _is_s3(p) and not os.path.lexists(p)]
        missing += [display(p) + " (a broken symbolic link)" for p in self.paths
                    if p != "-" and not _is_s3(p) and os.path.islink(p) and not os.path.exists(p)]
        if missing:
            raise InputNotFound(missing)

    def files(self):
        """Expand the paths: directories recursively (CloudTrail files in time order), S3 prefixes."""
        self.check_paths()
        # list S3 first: a bucket that cannot be listed stops the run before any record is read
        listed = {}
        for path in self.paths:
            if _is_s3(path) and path not in listed:
                from .input.s3 import S3Source
                self.s3 = S3Source(path, self.selection, self.profile, self.stats, self.s3 and self.s3.client())
                listed[path] = self.s3.urls()
        for path in self.paths:
            if path == "-":
                yield "-"
                continue
            if _is_s3(path):
                for url in listed[path]:
                    yield url
                continue
            try:
                st = os.stat(path)
            except OSError as err:
                self.skip("cannot read", display(path), err.strerror or str(err))
                continue
            if stat.S_ISDIR(st.st_mode):
                for f in tree.walk(path, self.skip, self.stats):
                    yield f
            elif stat.S_ISREG(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
                # named on the command line, a pipe is meant to be read: replay <(zcat ...)
                yield path
            else:
                self.skip("not a regular file", display(path), tree.kind(st.st_mode))

    def __iter__(self):
        for f in self.files():
            self.stats["files"] += 1
            for item in self._read_file(f):
                yield item

    def _open(self, f):
        if f == "-":
            stdin = self.stdin if self.stdin is not None else getattr(sys.stdin, "buffer", sys.stdin)
            if stdin is None or getattr(stdin, "closed", False):
                raise OSError("standard input is closed")
            return stdin, "<stdin>"
        if _is_s3(f):
            return self.s3.open(f), display(f)
        return open(f, "rb", buffering=0), display(f)

    def _read_file(self, f):
        try:
            raw, name = self._open(f)
        except OSError as err:
            self.skip("cannot open", "<stdin>" if f == "-" else display(f), err.strerror or str(err))
            return
        stream_errors = self.s3.stream_errors() if self.s3 is not None and _is_s3(f) else ()
        try:
            stream = raw if hasattr(raw, "peek") else io.BufferedReader(raw, CHUNK)
            if stream.peek(2)[:2] == b"\x1f\x8b":
                # gzip.GzipFile reads every member of a multi-member file, one after the other
                stream = gzip.GzipFile(fileobj=stream, mode="rb")
            read = getattr(stream, "read1", stream.read)
            decoder = Decoder(read, name, CHUNK, self._check, self.skip, self.stats, self._count_bytes,
                              self.prefilter)
            for item in decoder:
                yield item
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            self.skip("truncated or corrupt gzip", name, str(err) or "unexpected end of data")
        except (OSError, ValueError) as err:  # ValueError: reading a file closed under us
            self.skip("read error", name, getattr(err, "strerror", None) or str(err))
        except stream_errors as err:
            self.skip("read error", name, str(err))
        finally:
            if f != "-":
                raw.close()

    def _count_bytes(self, n):
        self.bytes_read += n

    def _check(self, record, location):
        if type(record) is not dict:
            self.skip("not a JSON object", location)
            return None
        event_id = record.get("eventID")
        event_time = record.get("eventTime")
        if type(event_id) is not str or type(event_time) is not str or not event_id or not event_time:
            for key, value in (("eventID", event_id), ("eventTime", event_time)):
                if value is None or value == "":
                    self.skip("missing %s" % key, location)
                    return None
                if not isinstance(value, str):
                    self.skip("bad %s" % key, location, "expected a string")
                    return None
        if self.selection.active and not self.selection.wants(record):
            self.stats["records outside the selection"] += 1
            return None
        self.stats["records"] += 1
        return record, location


def _is_s3(path):
    return isinstance(path, str) and path.startswith("s3://")
