"""Plays splunkd's side of the custom search command protocol v2 ("chunked"), with the stdlib only.

The driver runs a command script exactly as splunkd does (notes/splunk.md §1.5): it spawns
``python <app>/bin/<cmd>.py`` with no arguments (any argument makes splunklib fall back to protocol v1),
sends one ``getinfo`` with a complete ``searchinfo``, then the events as ``execute`` chunks, newest first,
reading each reply before sending the next chunk; finally it closes stdin (splunklib reads until EOF)
and collects the exit code and stderr.

What splunkd sends, and what it does with the replies, depends on the getinfo reply's ``type``
(``streaming`` when absent) and ``required_fields``; the driver does the same:

- ``streaming`` / ``stateful`` with ``required_fields`` ("selected fields"): only those fields plus
  ``_chunked_idx`` (the record's position in its chunk) are sent, and each output row is merged back
  onto the remaining fields of the event its ``_chunked_idx`` names. A row with no or an unknown
  ``_chunked_idx`` is a *new* row; what splunkd does with it is undocumented, so the driver fails
  (a command that turns events into new rows must declare ``reporting``).
- ``streaming`` / ``stateful`` without them: every field, no index; output rows replace the chunk.
- ``events``: every field even when ``required_fields`` is set, no index; output rows replace the chunk.
- ``reporting``: only ``required_fields`` (when set), no index; output rows replace the events.
- a ``streaming_preop`` is refused: splunkd would run that search first (on the indexers) and feed
  its output to the command; the driver does not run pre-ops.

Evidence: Splunk support's description of the getinfo reply, quoted at
https://community.splunk.com/t5/user/viewprofilepage/user-id/32262 ("If required_fields is set and this
command is a 'streaming' or 'stateful' command, Splunk will send only the specified fields ... but the
output of the external process will be merged with all remaining fields"; ``type`` defaults to
``streaming``); splunkd transcripts recorded by NDietrich/Splunk-CustomSearchProtocol-v2
(``example_messages/``: ``doubleage (streaming).md``, ``accumages (stateful).md``, ``sortages(events).md``,
``averageage (reporting).md``, ``reporting.txt``) and by splunk/splunk-sdk-python
(``tests/searchcommands/recordings/scpv2/Splunk-6.3/{countmatches,sum.map,sum.reduce}.*``, removed in
commit 81ab83c); tests/splunk/test_scp.py plays them. Where splunkd's behaviour is not documented
(whether ``_chunked_idx`` counts per chunk or per search, absent columns, events a selected-fields
command returns no row for, how a reporting command's per-chunk outputs combine) the driver makes the
choice that is least convenient for the command: per-chunk indexes, no column for a field no record
has, such events dropped, outputs concatenated.

    result = run_command("addon/bin/awssignin.py", ["detection=root_console_login"], records)
    result.records, result.messages  # output rows, [(level, text), ...] from every reply
"""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from urllib.parse import quote

HEADER = re.compile(rb"^chunked\s+1\.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n$")
SPLUNK_VERSION = "9.4.0"
MAX_RESULT_ROWS = 50000
DEFAULT_TIMEOUT = 600.0  # seconds for the whole conversation; a hung command is killed, not waited for
FIELD_SIZE_LIMIT = 2 ** 31 - 1
STDERR_TAIL = 40  # lines of the child's stderr quoted in errors
INDEX_FIELD = "_chunked_idx"
COMMAND_TYPES = ("streaming", "stateful", "events", "reporting")
SELECTED_FIELDS_TYPES = ("streaming", "stateful")  # the types whose output splunkd merges by index


class ScpError(RuntimeError):
    """The conversation failed: an error reply, a dead or hung child, a malformed frame, rc != 0.

    ``messages`` holds every inspector message received, ``returncode`` and ``stderr`` the child's.
    """

    def __init__(self, message, messages=(), returncode=None, stderr="", getinfo=None, records=()):
        self.reason = message
        self.messages = list(messages)
        self.returncode = returncode
        self.stderr = stderr
        self.getinfo = getinfo
        self.records = list(records)
        text = message
        errors = [m[1] for m in self.messages if m[0] in ("ERROR", "FATAL")]
        if errors:
            text += "\ncommand errors:\n  " + "\n  ".join(errors)
        if returncode is not None:
            text += "\nexit code: %s" % returncode
        tail = stderr_tail(stderr)
        if tail:
            text += "\nstderr (last lines):\n" + tail
        RuntimeError.__init__(self, text)


class ScpResult(object):
    """A finished conversation: output ``records`` (dicts; lists for multivalue fields), every inspector
    message as ``(level, text)``, the ``getinfo`` reply's metadata, the exit code and stderr."""

    def __init__(self, records, messages, getinfo, returncode, stderr):
        self.records = records
        self.messages = messages
        self.getinfo = getinfo
        self.returncode = returncode
        self.stderr = stderr

    def messages_at(self, level):
        return [text for lvl, text in self.messages if lvl == level]

    def __repr__(self):
        return "ScpResult(%d records, %d messages, returncode=%r)" % (
            len(self.records), len(self.messages), self.returncode)


def stderr_tail(text, lines=STDERR_TAIL):
    return "\n".join(text.rstrip().splitlines()[-lines:]) if text and text.strip() else ""


# --- frames -------------------------------------------------------------------------------------

def encode_frame(metadata, body=b""):
    """One protocol message: header line, JSON metadata, body; lengths in bytes."""
    meta = json.dumps(metadata, separators=(",", ":")).encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    return b"chunked 1.0,%d,%d\n" % (len(meta), len(body)) + meta + body


def read_frame(stream):
    """(metadata dict, body str) from a binary stream, or None at EOF before a header.

    Blank lines before a header are skipped (splunklib tolerates them too). Raises ValueError on a
    malformed header, a truncated frame or metadata that is not a JSON object.
    """
    line = stream.readline()
    while line in (b"\n", b"\r\n"):
        line = stream.readline()
    if not line:
        return None
    match = HEADER.match(line)
    if match is None:
        raise ValueError("bad chunk header %r (expected 'chunked 1.0,<meta>,<body>')" % line[:120])
    meta_len, body_len = int(match.group(1)), int(match.group(2))
    meta = _read_exactly(stream, meta_len)
    body = _read_exactly(stream, body_len)
    try:
        metadata = json.loads(meta.decode("utf-8")) if meta_len else {}
    except ValueError as err:
        raise ValueError("chunk metadata is not JSON (%s): %r" % (err, meta[:200]))
    if not isinstance(metadata, dict):
        raise ValueError("chunk metadata is not a JSON object: %r" % meta[:200])
    return metadata, body.decode("utf-8")


def _read_exactly(stream, size):
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise ValueError("truncated chunk: expected %d bytes, got %d" % (size, len(data)))
    return data


# --- records <-> CSV ----------------------------------------------------------------------------

def _text(value):
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if value is True or value is False:
        return "1" if value else "0"
    return str(value)


def encode_mv(values):
    """['a', 'b$'] -> '$a$;$b$$$' (the __mv_ encoding)."""
    return ";".join("$" + _text(v).replace("$", "$$") + "$" for v in values)


_MV_ITEM = re.compile(r"\$((?:\$\$|[^$])*)\$(?:;|$)")


def decode_mv(cell):
    return [m.group(1).replace("$$", "$") for m in _MV_ITEM.finditer(cell)]


def encode_records(records, fields=None, index_field=None):
    """CSV as splunkd sends it: each field followed by its ``__mv_`` column; multivalue fields as
    newline-joined text plus the encoded list. ``fields`` restricts the columns (in that order; a field
    no record has gets no column); otherwise the union of keys in first-seen order. ``index_field`` adds
    that column with each record's position in the chunk."""
    if fields is None:
        names = {}
        for record in records:
            for key in record:
                if key not in names:
                    names[key] = None
        columns = list(names)
    else:
        present = set()
        for record in records:
            present.update(record)
        columns = [f for f in fields if f in present]
    if index_field is not None and index_field not in columns:
        columns.append(index_field)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header = []
    for name in columns:
        header.append(name)
        header.append("__mv_" + name)
    if not records:
        return ""
    writer.writerow(header)
    write = writer.writerow
    for idx, record in enumerate(records):
        get = record.get
        row = []
        for name in columns:
            value = idx if name == index_field else get(name)
            if value.__class__ is list:
                if len(value) > 1:
                    row.append("\n".join(_text(v) for v in value))
                    row.append(encode_mv(value))
                    continue
                value = value[0] if value else None
            row.append(_text(value))
            row.append("")
        write(row)
    return out.getvalue()


def decode_records(body):
    """A reply's CSV -> dicts. A non-empty ``__mv_`` cell gives a list, else the plain cell; an empty
    cell means the field is absent (Splunk has no empty values)."""
    if not body:
        return []
    if csv.field_size_limit() < FIELD_SIZE_LIMIT:
        csv.field_size_limit(FIELD_SIZE_LIMIT)  # an alert's event_ids can exceed the 128 KiB default
    reader = csv.reader(io.StringIO(body, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return []
    plain = [(i, name) for i, name in enumerate(header) if not name.startswith("__mv_")]
    mv_index = dict((name[5:], i) for i, name in enumerate(header) if name.startswith("__mv_"))
    records = []
    for row in reader:
        if not row:
            continue
        record = {}
        for i, name in plain:
            j = mv_index.get(name)
            if j is not None and j < len(row) and row[j]:
                record[name] = decode_mv(row[j])
            elif i < len(row) and row[i] != "":
                record[name] = row[i]
        records.append(record)
    return records


# --- the conversation ---------------------------------------------------------------------------

def searchinfo(args, raw_args, dispatch_dir, app, command, search_text, sid):
    return {
        "args": list(args),
        "raw_args": list(raw_args),
        "dispatch_dir": dispatch_dir,
        "sid": sid,
        "app": app,
        "owner": "admin",
        "username": "admin",
        "session_key": uuid.uuid4().hex,  # any text: the command must not need a live splunkd
        "splunkd_uri": "https://127.0.0.1:8089",
        "splunk_version": SPLUNK_VERSION,
        "search": quote(search_text, safe=""),
        "command": command,
        "maxresultrows": MAX_RESULT_ROWS,
        "earliest_time": "0",
        "latest_time": "0",
    }


def _messages(metadata):
    inspector = metadata.get("inspector") or {}
    return [(str(m[0]), str(m[1])) for m in inspector.get("messages", []) or []]


class Conversation(object):
    """One command process. ``start()`` does getinfo; ``execute()`` one chunk; ``close()`` ends it.

    Used directly by the benchmark (to time the chunks alone); ``run_command`` is the usual entry.
    """

    def __init__(self, script, args, python=None, search_text=None, raw_args=None, env=None,
                 timeout=DEFAULT_TIMEOUT):
        self.script = os.path.abspath(str(script))
        self.args = [str(a) for a in args]
        self.raw_args = [str(a) for a in raw_args] if raw_args is not None else list(self.args)
        self.python = python or sys.executable
        self.command = os.path.splitext(os.path.basename(self.script))[0]
        self.app = os.path.basename(os.path.dirname(os.path.dirname(self.script)))
        if search_text is None:
            search_text = "| %s %s" % (self.command, " ".join(self.raw_args))
        self.search_text = search_text
        self.env = env
        self.timeout = timeout
        self.messages = []
        self.records = []
        self.getinfo = None
        self.required_fields = None
        self.type = None
        self.proc = None
        self.dispatch_dir = None
        self._stderr = []
        self._timed_out = False
        self._closed = False

    # The child must never outlive us: every failure path goes through _fail, which kills it.
    def start(self):
        self.dispatch_dir = tempfile.mkdtemp(prefix="awssignin-dispatch-")
        env = dict(os.environ if self.env is None else self.env)
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")  # no __pycache__ inside the app
        env.setdefault("PYTHONIOENCODING", "utf-8")
        try:
            self.proc = subprocess.Popen(
                [self.python, self.script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, cwd=self.dispatch_dir, env=env)
        except OSError as err:
            shutil.rmtree(self.dispatch_dir, ignore_errors=True)
            raise ScpError("cannot start %s %s: %s" % (self.python, self.script, err))
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        self._timer = threading.Timer(self.timeout, self._kill_on_timeout)
        self._timer.daemon = True
        self._timer.start()
        sid = "scheduler__admin__%s__RMD5%s_at_0_0" % (self.app, uuid.uuid4().hex[:16])
        meta = {
            "action": "getinfo",
            "preview": False,
            "streaming_command_will_restart": False,
            "searchinfo": searchinfo(self.args, self.raw_args, self.dispatch_dir, self.app,
                                     self.command, self.search_text, sid),
        }
        reply, _ = self._exchange(encode_frame(meta), "getinfo")
        self.getinfo = reply
        messages = _messages(reply)
        if reply.get("error") or reply.get("finished") or any(m[0] in ("ERROR", "FATAL") for m in messages):
            self._fail("the command rejected getinfo")
        self.type = reply.get("type", "streaming")
        if self.type not in COMMAND_TYPES:
            self._fail("the command declared type %r; splunkd knows %s" % (self.type, ", ".join(COMMAND_TYPES)))
        if reply.get("streaming_preop"):
            self._fail("the command declared the streaming_preop %r: splunkd would run that search first "
                       "(on the indexers) and feed its output to the command; this driver runs no pre-ops"
                       % reply["streaming_preop"])
        required = reply.get("required_fields")
        if isinstance(required, list) and required and "*" not in required and self.type != "events":
            self.required_fields = [str(f) for f in required]
        return reply

    @property
    def merges(self):
        """True when splunkd merges the command's rows back onto the events by ``_chunked_idx``."""
        return self.required_fields is not None and self.type in SELECTED_FIELDS_TYPES

    def encode_chunk(self, records):
        """The CSV body splunkd would send for these records, given what getinfo declared."""
        if self.required_fields is None:
            return encode_records(records)
        return encode_records(records, self.required_fields, index_field=INDEX_FIELD if self.merges else None)

    def send(self, records, finished):
        """Send these events as one execute chunk, as splunkd would, and return the search's rows
        for them: merged onto the events by ``_chunked_idx`` or replacing them (see the module doc)."""
        return self.execute(self.encode_chunk(records), finished, events=records)

    def execute(self, body, finished, events=None):
        """Send one execute chunk (CSV text or bytes) and return the reply's parsed records. With
        ``events`` (the records ``body`` encodes) a selected-fields reply is merged onto them."""
        rows = decode_records(self.execute_raw(body, finished)[1])
        if events is not None and self.merges:
            rows = self._merge(rows, events)
        self.records.extend(rows)
        return rows

    def _merge(self, rows, events):
        selected = set(self.required_fields)
        merged, used = [], set()
        for number, row in enumerate(rows, 1):
            index = row.pop(INDEX_FIELD, None)
            if isinstance(index, str) and index.isdigit() and int(index) < len(events) and index not in used:
                used.add(index)
                event = events[int(index)]
                out = dict((k, v) for k, v in event.items() if k not in selected)
                out.update(row)
                merged.append(out)
                continue
            what = "no %s" % INDEX_FIELD if index is None else "%s=%r, %s" % (
                INDEX_FIELD, index, "already used" if index in used else "no event of this chunk")
            self._fail("output row %d of a %s command with required_fields has %s: it is a new row, not "
                       "one of the events, and what splunkd does with new rows in selected-fields mode is "
                       "undocumented; a command that turns events into new rows must declare type "
                       "'reporting'" % (number, self.type, what))
        return merged

    def execute_raw(self, body, finished):
        """Send one execute chunk and return the reply as (metadata, CSV text), checked but not parsed."""
        reply, reply_body = self._exchange(encode_frame({"action": "execute", "finished": bool(finished)}, body),
                                           "execute")
        if reply.get("error"):
            self._fail("the command returned an error chunk: %s" % reply.get("error"))
        if reply.get("finished") and not finished:
            self._fail("the command finished before the last chunk")
        return reply, reply_body

    def close(self):
        """Close stdin (splunklib exits at EOF), wait, and return (returncode, stderr text)."""
        if self._closed:
            return self.proc.returncode, "".join(self._stderr)
        self._closed = True
        try:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                rest = self.proc.stdout.read()
            except (OSError, ValueError):
                rest = b""
            self.proc.wait()
            self._stderr_thread.join(timeout=5)
        finally:
            self._timer.cancel()
            self.proc.stdout.close()
            shutil.rmtree(self.dispatch_dir, ignore_errors=True)
        stderr = "".join(self._stderr)
        if self._timed_out:
            raise ScpError("the command did not finish within %ss and was killed" % self.timeout,
                           self.messages, self.proc.returncode, stderr, self.getinfo, self.records)
        if rest.strip():
            raise ScpError("the command wrote %d bytes after its last reply: %r" % (len(rest), rest[:200]),
                           self.messages, self.proc.returncode, stderr, self.getinfo, self.records)
        return self.proc.returncode, stderr

    def _exchange(self, frame, what):
        try:
            self.proc.stdin.write(frame)
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as err:
            self._fail("cannot send %s: the command closed its input (%s)" % (what, err))
        try:
            got = read_frame(self.proc.stdout)
        except ValueError as err:
            self._fail("bad reply to %s: %s" % (what, err))
        if got is None:
            self._fail("the command exited without answering %s" % what)
        reply, body = got
        self.messages.extend(_messages(reply))
        return reply, body

    def _fail(self, reason):
        self._timer.cancel()
        try:
            returncode, stderr = self.close()
        except ScpError as err:
            if self._timed_out:
                reason = err.reason
            returncode, stderr = err.returncode, err.stderr
        if self._timed_out:
            reason = "the command did not answer within %ss and was killed" % self.timeout
        raise ScpError(reason, self.messages, returncode, stderr, self.getinfo, self.records)

    def _drain_stderr(self):
        for line in iter(self.proc.stderr.readline, b""):
            self._stderr.append(line.decode("utf-8", "replace"))
        self.proc.stderr.close()

    def _kill_on_timeout(self):
        if self.proc.poll() is None:
            self._timed_out = True
            self.proc.kill()


def chunks_of(records, size):
    if size < 1:
        raise ValueError("chunk_size must be at least 1, not %r" % size)
    return [records[i:i + size] for i in range(0, len(records), size)] or [[]]


def run_command(script, args, records, python=None, chunk_size=MAX_RESULT_ROWS, search_text=None,
                raw_args=None, env=None, timeout=DEFAULT_TIMEOUT):
    """Run a chunked search command over ``records`` (dicts in the order splunkd would send them:
    newest first) and return an ScpResult. Raises ScpError when the conversation fails or the command
    exits non-zero; the error carries the messages, exit code and stderr tail."""
    conv = Conversation(script, args, python=python, search_text=search_text, raw_args=raw_args,
                        env=env, timeout=timeout)
    conv.start()
    batches = chunks_of(list(records), chunk_size)
    for i, batch in enumerate(batches):
        conv.send(batch, finished=(i == len(batches) - 1))
    returncode, stderr = conv.close()
    if returncode != 0:
        raise ScpError("the command exited with code %s" % returncode, conv.messages, returncode, stderr,
                       conv.getinfo, conv.records)
    return ScpResult(conv.records, conv.messages, conv.getinfo, returncode, stderr)
