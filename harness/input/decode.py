"""Decode a byte stream of CloudTrail JSON, whatever its form, one record at a time, in linear time.

The form is read from the content, never the name. A stream is a sequence of top-level JSON values:

- ``{"Records": [...]}`` documents (CloudTrail's files; ``zcat *.json.gz`` concatenates them),
- ``{"Events": [...], "NextToken": ...}`` pages of ``aws cloudtrail lookup-events`` (each event holds
  its record as a JSON string in ``CloudTrailEvent``, newest first: CloudTrail API reference,
  https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_Event.html and API_LookupEvents.html),
- a JSON array of records (exports, often pretty-printed), when the stream starts with ``[``,
- records themselves: NDJSON, or objects one after the other in any layout.

Each record is decoded on its own from a window of text that only moves forward (``raw_decode`` at an
offset; a record that does not fit yet is retried with twice the window, so a record costs a small
constant times its size) and no record may be longer than ``limits.MAX_RECORD_CHARS``: a longer one is
skipped as it streams past. After a malformed record the decoder resynchronises on the start of the
next record and says how many bytes it lost; trailing content, duplicate ``Records`` keys and
truncation are reported too.
"""

import codecs
import json
import re

from . import limits

try:  # optional: a faster parser for the common case, one record a line (extra "fast")
    import orjson
    _fast_loads = orjson.loads
except ImportError:  # pragma: no cover - exercised where orjson is not installed
    _fast_loads = None

_raw_decode = json.JSONDecoder().raw_decode
_SURROGATE = re.compile("[\udc80-\udcff]")
_NOT_WS = re.compile(r"[^ \t\r\n]")
_CONTAINER = re.compile(r'\{[ \t\r\n]*"(Records|Events)"[ \t\r\n]*:')
_KEY = re.compile(r'[ \t\r\n]*("(?:[^"\\]|\\.)*")[ \t\r\n]*:')
# where a record starts, to resynchronise on after damage: CloudTrail writes eventVersion first, the
# AWS CLI writes EventId first in a lookup-events page
# (or, in exports with sorted keys, the first keys a record can have in that order; no nested object
# of a CloudTrail record starts with them)
_RECORD_START = {"Records": re.compile(r'\{[ \t\r\n]*"(?:eventVersion|additionalEventData|apiVersion|awsRegion)"[ \t\r\n]*:'),
                 "Events": re.compile(r'\{[ \t\r\n]*"EventId"[ \t\r\n]*:')}
# after a damaged line of records: the next line that starts a JSON object or array
_LINE_START = re.compile(r"\n[ \t\r]*[{\[]")
_DOCUMENT_START = re.compile(r'\{[ \t\r\n]*"(?:Records|Events)"[ \t\r\n]*:')
_JSON_START = "{[\"-0123456789tfn"
_BLANK = re.compile(r"[ \t\r]*$")


class _Bad(Exception):
    """A value that could not be decoded: ``reason`` as counted, ``detail`` for the reader."""

    def __init__(self, reason, detail="", end=None):
        Exception.__init__(self, reason)
        self.reason = reason
        self.detail = detail
        self.end = end  # where the value ends, when it was decoded (nothing around it is lost)


class Window(object):
    """Decoded text over a byte stream: ``buf[pos:]`` is what is not consumed yet.

    Offsets in ``buf`` are relative; ``byte_offset`` and ``line_of`` turn them into the stream's own
    byte offsets and line numbers (counted once, as the window moves)."""

    def __init__(self, read, chunk, on_bytes):
        self._read = read
        self.chunk = chunk
        self._on_bytes = on_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.tainted = False     # some bytes were not UTF-8 (surrogate-escaped in buf)
        self._base_bytes = 0     # stream bytes before buf[0]
        self._mark = (0, 0)      # (offset in buf, bytes before it): byte offsets counted forward
        self._line = 1           # line number at buf[_line_at]
        self._line_at = 0
        self._nl = (-1, 0)       # (next newline found, searched up to): line ends found once
        self.passed_records = 0  # records begun in the text the last resync passed over
        self.started = False
        self._needles_buf = None  # skip_lines: the text its needle offsets are for
        self._needles_at = {}

    # -- reading ---------------------------------------------------------------------------------
    def avail(self):
        return len(self.buf) - self.pos

    def more(self, need=1):
        """Read until ``need`` more characters are available past ``pos`` or the stream ends."""
        if self.eof:
            return False
        parts = []
        got = 0
        while got < need:
            data = self._read(self.chunk)
            if not data:
                self.eof = True
                parts.append(self._decoder.decode(b"", True))
                break
            self._on_bytes(len(data))
            text = self._decoder.decode(data)
            if not self.tainted and not text.isascii() and _SURROGATE.search(text):
                self.tainted = True
            parts.append(text)
            got += len(text)
        self._drop_consumed()
        self.buf = self.buf + "".join(parts) if parts else self.buf
        if not self.started and self.buf.startswith("\ufeff"):  # a byte-order mark, as Windows tools write
            self.buf = self.buf[1:]
        self.started = True
        return True

    def _drop_consumed(self):
        pos = self.pos
        if pos == 0 or (pos < self.chunk and pos * 2 < len(self.buf)):
            return
        line_upto = max(pos, self._line_at)
        self._line += self.buf.count("\n", self._line_at, line_upto)
        self._line_at = line_upto - pos
        self._base_bytes = self.byte_offset(pos)
        self._mark = (0, self._base_bytes)
        nl, searched = self._nl
        self._nl = (nl - pos if nl >= pos else -1, max(searched - pos, 0))
        self.buf = self.buf[pos:]
        self.pos = 0

    def peek(self):
        """The next character that is not white space (moving ``pos`` to it), or None at the end."""
        pos = self.pos
        if pos < len(self.buf) and self.buf[pos] not in " \t\r\n":
            return self.buf[pos]
        while True:
            m = _NOT_WS.search(self.buf, self.pos)
            if m:
                self.pos = m.start()
                return self.buf[self.pos]
            self.pos = len(self.buf)
            if not self.more():
                return None

    def ensure(self, n):
        while self.avail() < n and self.more(n - self.avail()):
            pass
        return self.avail() >= n

    # -- positions -------------------------------------------------------------------------------
    def byte_offset(self, p):
        at, before = self._mark
        if p < at:
            at, before = 0, self._base_bytes
        if self.buf.isascii():
            count = p - at
        else:
            count = len(self.buf[at:p].encode("utf-8", "surrogateescape"))
        self._mark = (p, before + count)
        return before + count

    def line_of(self, p):
        if p > self._line_at:
            self._line += self.buf.count("\n", self._line_at, p)
            self._line_at = p
        return self._line

    def next_newline(self, p, limit):
        """Offset of the first newline at or after ``p`` within ``limit`` characters, or -1."""
        nl, searched = self._nl
        if nl >= p:
            return nl if nl - p <= limit else -1
        start = max(p, searched)
        end = min(len(self.buf), p + limit + 1)
        if start >= end:
            return -1
        nl = self.buf.find("\n", start, end)
        self._nl = (nl, end if nl == -1 else nl)
        return nl

    # -- values ----------------------------------------------------------------------------------
    def decode(self, line=False):
        """Decode the JSON value at ``pos`` (not consuming it): ``(value, end)``, or raise ``_Bad``.

        ``line``: the value probably fills the rest of its line (NDJSON), worth trying the fast parser on."""
        limit = limits.MAX_RECORD_CHARS
        if line and _fast_loads is not None:
            nl = self.next_newline(self.pos, limit)
            if nl != -1:
                try:
                    value = _fast_loads(self.buf[self.pos:nl])
                except (ValueError, TypeError, RecursionError):
                    pass  # not exactly one value on this line: the exact decoder below says why
                else:
                    return self._accepted(value, nl)
        want = 1  # first what the window holds; then twice as much each time
        while True:
            self.ensure(min(want, limit + 1))
            try:
                value, end = _raw_decode(self.buf, self.pos)
            except RecursionError:
                raise _Bad("too deeply nested", "more than %d levels" % limits.MAX_DEPTH)
            except ValueError as err:
                incomplete = (getattr(err, "pos", 0) >= len(self.buf) - 8
                              or getattr(err, "msg", "").startswith("Unterminated string"))
                if incomplete and not self.eof:
                    if self.avail() > limit:
                        raise _Bad("record too large", "over %d characters" % limit)
                    want = max(want, self.avail()) * 2
                    continue
                raise _Bad("not JSON", _short(err))
            if end == len(self.buf) and not self.eof and self.avail() <= limit:
                # a number or literal cut at the window's edge decodes short: only trust what is followed
                want = max(want, self.avail()) * 2
                continue
            if end - self.pos > limit:
                raise _Bad("record too large", "%d characters, over %d" % (end - self.pos, limit), end)
            return self._accepted(value, end)

    def _accepted(self, value, end):
        start = self.pos
        if self.buf.count("{", start, end) + self.buf.count("[", start, end) > limits.MAX_DEPTH \
                and _deeper_than(value, limits.MAX_DEPTH):
            raise _Bad("too deeply nested", "more than %d levels" % limits.MAX_DEPTH, end)
        if self.tainted and _SURROGATE.search(self.buf, start, end):
            bad = _SURROGATE.search(self.buf, start, end).start()
            raise _Bad("not UTF-8", "byte %d" % self.byte_offset(bad), end)
        return value, end

    def skip_lines(self, needles):
        """Move ``pos`` past the complete lines ahead that contain none of ``needles`` and no backslash
        (an escape may spell any text); returns how many lines (the replay prefilter, NDJSON only).

        Each needle is searched once over the text, in C: far cheaper than parsing the line."""
        skipped = 0
        limit = limits.MAX_RECORD_CHARS
        while True:
            buf, pos = self.buf, self.pos
            nl = buf.find("\n", pos)
            if nl != -1 and _BLANK.match(buf, pos, nl):
                pos = nl + 1  # the end of the line just decoded: not a line of its own
            if self._needles_buf is not buf:  # each needle's next offset, valid while buf is this text
                self._needles_buf, self._needles_at = buf, {}
            found = self._needles_at
            first = len(buf)
            for needle in needles:
                at = found.get(needle, -2)
                if at == -1:  # not in the rest of buf
                    continue
                if at < pos:
                    at = found[needle] = buf.find(needle, pos)
                    if at == -1:
                        continue
                if at < first:
                    first = at
            start = buf.rfind("\n", pos, first) + 1  # the line holding the first hit, or the last partial one
            # a line that is not a whole object ({...}) is parsed, so damage is still a skip
            clean = _whole_objects_end(buf, pos, start) if start > pos else start
            if clean < start:
                first, start = clean, clean
            if start > pos:
                lines = buf.count("\n", pos, start)
                if self._line_at <= pos:
                    self._line += buf.count("\n", self._line_at, pos) + lines
                    self._line_at = start
                skipped += lines
                self.pos = start
            elif pos > self.pos:
                self.pos = pos
            if first < len(buf) or self.eof or self.avail() > limit or not self.more():
                return skipped

    def skip_value_text(self):
        """Move past a value that is not wanted (an unknown key's value); False if it is broken."""
        if self.peek() is None:
            return False
        try:
            _, end = self.decode()
        except _Bad:
            return False
        self.pos = end
        return True

    def resync(self, pattern, keep=64):
        """Move ``pos`` to the next match of ``pattern`` (its start), reading on as needed.

        Returns True when found, False at the end of the stream (``pos`` at the end). Text passed over
        is dropped as the window moves, so memory stays bounded. ``passed_records`` counts the records
        that began in the text passed over (by their ``"eventID"`` keys)."""
        self.passed_records = 0
        while True:
            m = pattern.search(self.buf, self.pos)
            if m:
                self._passing(m.start())
                return True
            if self.eof:
                self._passing(len(self.buf))
                return False
            # keep a tail that could begin a match cut at the window's edge
            self._passing(max(self.pos, len(self.buf) - keep))
            self.more()

    def _passing(self, new):
        # occurrences that start before ``new`` (one cut at ``new`` is counted now, not again later)
        self.passed_records += self.buf.count('"eventID"', self.pos, min(len(self.buf), new + 8))
        self.pos = new


def _whole_objects_end(buf, pos, end):
    """Where the run of lines in ``buf[pos:end]`` (whole lines) that each look like one JSON object
    (first character ``{``, last ``}``; blank lines too) ends: the prefilter skips only those, and a
    truncated or foreign line is decoded and reported like any other."""
    lines = buf.count("\n", pos, end)
    if (buf.startswith("{", pos) and buf.count("\n{", pos, end - 1) == lines - 1
            and buf.count("}\n", pos, end) + buf.count("}\r\n", pos, end) == lines):
        return end
    p = pos
    while p < end:  # rare: some line is blank, indented or not an object; find the first bad one
        nl = buf.find("\n", p, end)
        line = buf[p:nl].strip()
        if line and not (line[0] == "{" and line[-1] == "}"):
            return p
        p = nl + 1
    return end


def _deeper_than(value, limit):
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        children = v.values() if type(v) is dict else v
        for child in children:
            if type(child) in (dict, list):
                stack.append((child, depth + 1))
    return False


def _short(err):
    text = str(err)
    return text if len(text) < 120 else text[:117] + "..."


class Decoder(object):
    """Iterate ``(record, location)`` over one stream; problems go to ``skip(reason, location, detail)``.

    ``check(value, location)`` decides whether a decoded value is a record (returns ``(record,
    location)`` or None after reporting a skip); ``stats`` counts what is neither record nor skip."""

    def __init__(self, read, name, chunk, check, skip, stats, on_bytes, prefilter=None):
        self.w = Window(read, chunk, on_bytes)
        # replay's prefilter: NDJSON lines with none of these texts (and no backslash) are counted, not parsed
        self.needles = tuple(prefilter) + ("\\",) if prefilter else None
        self.name = name
        self.check = check
        self.skip = skip
        self.stats = stats

    def _lost(self, start_byte, at_least=0):
        """``1234 bytes lost`` (and how many records began in them: their ``eventID`` keys, or
        ``at_least`` when a record was known to start there), counted in ``stats`` too."""
        lost = self.w.byte_offset(self.w.pos) - start_byte
        self.stats["bytes lost to damage"] += lost
        records = max(self.w.passed_records, at_least)
        self.w.passed_records = 0
        return "%d bytes lost" % lost + (", %d record%s began in them" % (records, "" if records == 1 else "s")
                                         if records else "")

    def __iter__(self):
        w = self.w
        mode = None  # "records" (NDJSON and the like), "array", "documents"
        documents = 0
        while True:
            if mode == "records" and self.needles is not None:
                skipped = w.skip_lines(self.needles)
                if skipped:
                    self.stats["lines not parsed"] += skipped
            c = w.peek()
            if c is None:
                return
            if c == "{":
                if w.avail() < 64:
                    w.ensure(64)
                m = _CONTAINER.match(w.buf, w.pos) if w.buf[w.pos + 2:w.pos + 3] in ("R", "E", "") \
                    or w.buf[w.pos + 1:w.pos + 2] != '"' else None
                if m:
                    documents += 1
                    mode = mode or "documents"
                    for item in self._document(m, documents):
                        yield item
                    continue
            if c == "[" and mode in (None, "array"):
                mode = "array"
                documents += 1
                for item in self._array(documents):
                    yield item
                continue
            if mode is None and c not in "{[":
                self.skip("not a log file", self.name, "it does not start with a JSON object or array")
                return
            if c not in _JSON_START or mode != "records" and mode is not None and c != "{":
                # text after the last document of the stream that begins no document or record
                start = w.byte_offset(w.pos)
                location = "%s:%d" % (self.name, w.line_of(w.pos))
                w.pos += 1
                w.resync(_DOCUMENT_START if mode != "records" else _LINE_START)
                if mode == "records" and w.pos < len(w.buf):
                    w.pos += 1
                self.skip("trailing content" if mode != "records" else "not JSON", location,
                          "at byte %d, %s" % (start, self._lost(start)))
                continue
            mode = mode or "records"
            for item in self._top_value():
                yield item

    # -- one record at the top level (NDJSON) ----------------------------------------------------
    def _top_value(self):
        """The items of the value at ``pos``: a list (a plain function: this is the hot path of NDJSON)."""
        w = self.w
        location = "%s:%d" % (self.name, w.line_of(w.pos))
        try:
            value, end = w.decode(line=True)
        except _Bad as bad:
            if bad.end is not None:
                w.pos = bad.end
                self.skip(bad.reason, location, bad.detail)
                return ()
            # resynchronise on the next line that starts an object or array
            start = w.byte_offset(w.pos)
            w.pos += 1
            if w.resync(_LINE_START):
                w.pos += 1
            detail = bad.detail + ("; " if bad.detail else "") + self._lost(start)
            self.skip(bad.reason, location, detail)
            return ()
        w.pos = end
        if type(value) is dict and "eventID" not in value and isinstance(value.get("Records", value.get("Events")), list):
            # a whole document decoded at once (its keys in another order, or on one NDJSON line)
            key = "Records" if "Records" in value else "Events"
            items = (self._element(key, element, "%s %s[%d]" % (location, key, i))
                     for i, element in enumerate(value[key]))
            return [item for item in items if item is not None]
        item = self.check(value, location)
        return () if item is None else (item,)

    # -- {"Records": [...]} and {"Events": [...]} -------------------------------------------------
    def _document(self, m, number):
        w = self.w
        prefix = self.name if number == 1 else "%s#%d" % (self.name, number)
        doc_start = w.byte_offset(w.pos)
        key = m.group(1)
        w.pos = m.end()
        seen = set()
        while True:
            if key in ("Records", "Events"):
                if key in seen:
                    self.skip("duplicate %s key" % key, prefix, "its records are read too")
                seen.add(key)
                c = w.peek()
                if c == "[":
                    w.pos += 1
                    ended = yield from self._elements(prefix, key, key)
                    if not ended:
                        return
                elif c is None:
                    self.skip("truncated file", prefix, "the document ends before its %s" % key)
                    return
                else:
                    try:
                        _, end = w.decode()
                    except _Bad as bad:
                        self._abandon(prefix, bad.reason, bad.detail, doc_start)
                        return
                    w.pos = end
                    self.skip("%s is not a list" % key, prefix)
            else:
                self.stats["document keys ignored"] += 1
                if not w.skip_value_text():
                    self._abandon(prefix, "not JSON", "the value of %s" % key, doc_start)
                    return
            c = w.peek()
            if c == "}":
                w.pos += 1
                return
            if c is None:
                self.skip("truncated file", prefix, "the document does not end (%d bytes from its start)"
                          % (w.byte_offset(w.pos) - doc_start))
                return
            key_match = _KEY.match(w.buf, w.pos + 1) if c == "," else None
            if key_match is None and c == ",":
                w.ensure(4096)
                key_match = _KEY.match(w.buf, w.pos + 1)
            if key_match is None:
                self._abandon(prefix, "not JSON", "expected ',' or '}' after %s" % key, doc_start)
                return
            try:
                key = json.loads(key_match.group(1))
            except ValueError:
                key = key_match.group(1)
            w.pos = key_match.end()

    def _abandon(self, prefix, reason, detail, doc_start):
        """The rest of a document cannot be read: report it and move to the next document."""
        w = self.w
        start = w.byte_offset(w.pos)
        w.pos += 1
        w.resync(_DOCUMENT_START)
        self.skip(reason, prefix, "%s; at byte %d, %s" % (detail, start, self._lost(start)))

    def _array(self, number):
        w = self.w
        prefix = self.name if number == 1 else "%s#%d" % (self.name, number)
        w.pos += 1
        yield from self._elements(prefix, "", "Records")

    def _elements(self, prefix, label, kind):
        """The elements of an array up to its ``]``; True when the array ended, False at truncation."""
        w = self.w
        start_pattern = _RECORD_START[kind]
        i = 0
        after_resync = False
        while True:
            c = w.peek()
            location = "%s %s[%d]" % (prefix, label, i)
            if c is None:
                self.skip("truncated file", location, "the %s array does not end" % (label or "top-level"))
                return False
            if c == "]":
                w.pos += 1
                return True
            if i > 0 and not after_resync:
                if c != ",":
                    if start_pattern.match(w.buf, w.pos):
                        # records one after the other without their comma: nothing to lose
                        self.skip("not JSON", location, "a missing ',' before it, at byte %d" % w.byte_offset(w.pos))
                    else:
                        self._resync_element(location, start_pattern, "expected ',' or ']'")
                        i += 1
                    after_resync = True
                    continue
                w.pos += 1
                c = w.peek()
                if c is None:
                    self.skip("truncated file", location, "the %s array does not end" % (label or "top-level"))
                    return False
                if c == "]":
                    self.skip("not JSON", location, "a comma before ']'")
                    w.pos += 1
                    return True
            after_resync = False
            try:
                value, end = w.decode()
            except _Bad as bad:
                if bad.end is not None:
                    w.pos = bad.end
                    self.skip(bad.reason, location, bad.detail)
                else:
                    self._resync_element(location, start_pattern, bad.detail, bad.reason)
                    after_resync = True
                i += 1
                continue
            w.pos = end
            item = self._element(kind, value, location)
            if item is not None:
                yield item
            i += 1

    def _resync_element(self, location, pattern, detail, reason="not JSON"):
        w = self.w
        start = w.byte_offset(w.pos)
        w.pos += 1
        found = w.resync(pattern)
        lost = self._lost(start, 1)
        self.skip(reason, location, "%s%sat byte %d, %s%s" % (
            detail, "; " if detail else "", start, lost, "" if found else ", to the end of the stream"))

    def _element(self, kind, value, location):
        if kind == "Events":
            # one event of a lookup-events page: the record is the JSON string in CloudTrailEvent
            if type(value) is not dict:
                self.skip("not a JSON object", location)
                return None
            text = value.get("CloudTrailEvent")
            if not isinstance(text, str):
                self.skip("no CloudTrailEvent" if text is None else "bad CloudTrailEvent", location,
                          "" if text is None else "expected a JSON string")
                return None
            try:
                value = (_fast_loads or json.loads)(text)
            except RecursionError:
                self.skip("too deeply nested", location + ".CloudTrailEvent")
                return None
            except ValueError:
                try:
                    value = json.loads(text)
                except RecursionError:
                    self.skip("too deeply nested", location + ".CloudTrailEvent")
                    return None
                except ValueError as err:
                    self.skip("not JSON", location + ".CloudTrailEvent", _short(err))
                    return None
            if (text.count("{") + text.count("[") > limits.MAX_DEPTH
                    and _deeper_than(value, limits.MAX_DEPTH)):
                self.skip("too deeply nested", location + ".CloudTrailEvent")
                return None
        return self.check(value, location)
