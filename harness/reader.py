"""Reading CloudTrail from everything a user has, as a stream of records.

Accepts CloudTrail's own files (``{"Records": [...]}``, usually ``.json.gz``, anywhere in an
``AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`` tree), NDJSON (one record a line, plain or
``.gz``), directories (recursively) and standard input (``-``). Records of a CloudTrail file are
decoded one at a time, so memory does not grow with the input.

Nothing is dropped silently: every record or file that cannot be read is reported to ``on_skip`` with
a reason and a location (file and line, or file and ``Records[i]``) and counted in ``stats``.
"""

import gzip
import io
import json
import os
import re
import sys
import zlib
from collections import Counter

CHUNK = 1 << 20
_CLOUDTRAIL_HEAD = re.compile(rb'^\s*\{\s*"Records"\s*:\s*')
_CLOUDTRAIL_NAME_TIME = re.compile(r"_(\d{8}T\d{4}Z)_")
_SURROGATE = re.compile("[\udc80-\udcff]")
_WS = " \t\r\n"
RECORD_SUFFIXES = (".json", ".json.gz", ".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".gz")


class Skip(object):
    __slots__ = ("reason", "location", "detail")

    def __init__(self, reason, location, detail=""):
        self.reason = reason
        self.location = location
        self.detail = detail

    def __str__(self):
        return "%s: %s%s" % (self.location, self.reason, (" (%s)" % self.detail) if self.detail else "")


class Reader(object):
    """Iterate ``(record, location)`` over ``paths``. ``stats`` counts records, files and skips."""

    def __init__(self, paths, on_skip=None, stdin=None):
        self.paths = list(paths)
        self.on_skip = on_skip
        self.stdin = stdin
        self.stats = Counter()
        self.skipped = Counter()
        self.bytes_read = 0

    # -- reporting -------------------------------------------------------------------------------
    def skip(self, reason, location, detail=""):
        self.skipped[reason] += 1
        if self.on_skip is not None:
            self.on_skip(Skip(reason, location, detail))

    # -- files -----------------------------------------------------------------------------------
    def files(self):
        """Expand the paths: directories recursively, CloudTrail files in time order."""
        for path in self.paths:
            if path == "-":
                yield "-"
            elif os.path.isdir(path):
                for f in self._walk(path):
                    yield f
            elif os.path.exists(path):
                yield path
            else:
                self.skip("no such file", path)

    def _walk(self, top):
        found = []
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            if "CloudTrail-Digest" in dirnames:
                # digest files hold hashes, not events
                dirnames.remove("CloudTrail-Digest")
                self.stats["digest directories ignored"] += 1
            for name in filenames:
                full = os.path.join(dirpath, name)
                if name.endswith(RECORD_SUFFIXES):
                    found.append(full)
                else:
                    self.skip("not a log file (by name)", full)
        # CloudTrail names files <acct>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz: read them
        # in time order across regions so that events arrive roughly in order.
        def order(f):
            m = _CLOUDTRAIL_NAME_TIME.search(os.path.basename(f))
            return (0, m.group(1), f) if m else (1, "", f)
        return sorted(found, key=order)

    def __iter__(self):
        for f in self.files():
            self.stats["files"] += 1
            for item in self._read_file(f):
                yield item

    def _read_file(self, f):
        name = "<stdin>" if f == "-" else f
        try:
            raw = (self.stdin if self.stdin is not None else sys.stdin.buffer) if f == "-" else open(f, "rb", CHUNK)
        except OSError as err:
            self.skip("cannot open", name, str(err))
            return
        try:
            stream = raw if hasattr(raw, "peek") else io.BufferedReader(raw, CHUNK)
            if stream.peek(2)[:2] == b"\x1f\x8b":
                stream = gzip.GzipFile(fileobj=stream, mode="rb")
            head = stream.peek(512)[:512]
            if _CLOUDTRAIL_HEAD.match(head):
                gen = self._read_cloudtrail(stream, name)
            else:
                gen = self._read_ndjson(stream, name)
            for item in gen:
                yield item
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            self.skip("truncated or corrupt gzip", name, str(err) or "unexpected end of data")
        except OSError as err:
            self.skip("read error", name, str(err))
        finally:
            if f != "-":
                raw.close()

    def _read_ndjson(self, stream, name):
        lineno = 0
        loads = json.loads
        check = self._check
        for line in stream:
            lineno += 1
            self.bytes_read += len(line)
            try:
                record = loads(line)
            except UnicodeDecodeError as err:
                self.skip("not UTF-8", "%s:%d" % (name, lineno), "byte %d" % err.start)
                continue
            except ValueError as err:
                if line.strip():  # blank lines are allowed between records
                    self.skip("not JSON", "%s:%d" % (name, lineno), _short(err))
                continue
            if type(record) is dict and "Records" in record and "eventID" not in record:
                # a whole CloudTrail file on one line
                for item in self._records_of(record.get("Records"), name, "%s:%d " % (name, lineno)):
                    yield item
                continue
            checked = check(record, "%s:%d" % (name, lineno))
            if checked is not None:
                yield checked

    def _records_of(self, records, name, prefix):
        if not isinstance(records, list):
            self.skip("Records is not a list", prefix.strip() or name)
            return
        for i, record in enumerate(records):
            checked = self._check(record, "%sRecords[%d]" % (prefix, i))
            if checked is not None:
                yield checked

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
        self.stats["records"] += 1
        return record, location

    def _read_cloudtrail(self, stream, name):
        """Decode ``{"Records": [ {...}, ... ]}`` one record at a time."""
        decoder = json.JSONDecoder()
        text = _Text(stream, self)
        m = text.expect_records_array()
        if m == "not-list":
            self.skip("Records is not a list", name)
            return
        if m == "bad":
            self.skip("not JSON", name, "expected {\"Records\": [")
            return
        i = 0
        while True:
            c = text.next_nonspace()
            if c is None:
                self.skip("truncated file", "%s Records[%d]" % (name, i), "the Records array does not end")
                return
            if c == "]":
                return
            if c == "," and i > 0:
                text.pos += 1
                c = text.next_nonspace()
                if c is None:
                    self.skip("truncated file", "%s Records[%d]" % (name, i), "the Records array does not end")
                    return
            elif i > 0:
                self.skip("not JSON", "%s Records[%d]" % (name, i), "expected ',' or ']'")
                return
            location = "%s Records[%d]" % (name, i)
            try:
                record, end = text.decode(decoder)
            except ValueError as err:
                self.skip("not JSON", location, _short(err))
                return
            if text.tainted and _SURROGATE.search(text.buf, text.pos, end):
                self.skip("not UTF-8", location)
            else:
                checked = self._check(record, location)
                if checked is not None:
                    yield checked
            text.pos = end
            i += 1


def _short(err):
    text = str(err)
    return text if len(text) < 120 else text[:117] + "..."


class _Text(object):
    """A growing window of decoded text over a byte stream, for incremental raw_decode."""

    def __init__(self, stream, reader):
        self.stream = stream
        self.reader = reader
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.tainted = False
        self.pending = b""

    def _more(self):
        if self.eof:
            return False
        data = self.stream.read1(CHUNK) if hasattr(self.stream, "read1") else self.stream.read(CHUNK)
        if not data:
            self.eof = True
            data = b""
        self.reader.bytes_read += len(data)
        data = self.pending + data
        # keep an incomplete UTF-8 sequence at the end for the next chunk
        cut = len(data)
        if not self.eof:
            for back in range(1, 4):
                if cut - back >= 0 and (data[cut - back] & 0xC0) == 0xC0:
                    cut -= back
                    break
                if cut - back >= 0 and (data[cut - back] & 0x80) == 0:
                    break
        self.pending = data[cut:]
        try:
            chunk = data[:cut].decode("utf-8")
        except UnicodeDecodeError:
            chunk = data[:cut].decode("utf-8", "surrogateescape")
            self.tainted = True
        if self.pos > CHUNK:
            self.buf = self.buf[self.pos:]
            self.pos = 0
        self.buf += chunk
        return bool(chunk) or not self.eof

    def next_nonspace(self):
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _WS:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._more():
                return None

    def expect_records_array(self):
        while len(self.buf) < 64 and self._more():
            pass
        m = re.match(r'\s*\{\s*"Records"\s*:\s*', self.buf)
        if not m:
            return "bad"
        self.pos = m.end()
        c = self.next_nonspace()
        if c != "[":
            return "not-list"
        self.pos += 1
        return "ok"

    def decode(self, decoder):
        while True:
            try:
                value, end = decoder.raw_decode(self.buf, self.pos)
                # a number or literal cut at the chunk edge would decode short: only trust it
                # when something follows in the buffer
                if end < len(self.buf) or self.eof:
                    return value, end
            except ValueError:
                if self.eof:
                    raise
            if not self._more():
                value, end = decoder.raw_decode(self.buf, self.pos)
                return value, end
