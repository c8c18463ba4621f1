"""Writing into a Splunk app's ``local/`` without losing what the user already has there.

``local/*.conf`` belongs to the user (Splunk's own UI writes there too). A change is a text edit of
the stanzas and keys the change owns: every other line (stanzas, keys, comments, blank lines, their
order) stays byte for byte, and the result is read back with ksconf's parser and compared with the
original, so an edit that would alter anything else is refused instead of written.
"""

import os
import re
import tempfile

from ksconf.conf.parser import GLOBAL_STANZA, PARSECONF_MID_NC, ConfParserException, parse_conf, parse_conf_string

from ..splunk.appbuild import conf_value

_KEY = re.compile(r"\s*([^#\[\s=][^=]*?)\s*=")


class LocalConfError(ValueError):
    """A local/ file cannot be merged; the message names the file and stanza."""


def read_conf(path):
    """``{stanza: {key: value}}`` of an existing conf file ({} when it does not exist)."""
    if not os.path.exists(path):
        return {}
    try:
        parsed = parse_conf(path, profile=PARSECONF_MID_NC)
    except (ConfParserException, OSError, UnicodeDecodeError) as err:
        raise LocalConfError("%s: %s" % (path, err))
    return dict((k, dict(v)) for k, v in parsed.items())


def _logical_lines(lines):
    """[(start, end)] index ranges of logical lines (a trailing backslash continues a line)."""
    out, i = [], 0
    while i < len(lines):
        start = i
        while lines[i].rstrip("\r\n").endswith("\\") and i + 1 < len(lines):
            i += 1
        out.append((start, i + 1))
        i += 1
    return out


def _sections(lines):
    """[(stanza or None, [(start, end, key or None)])] in file order."""
    sections = [(None, [])]
    for start, end in _logical_lines(lines):
        text = lines[start].strip()
        if text.startswith("[") and text.endswith("]") and not text.startswith("#"):
            sections.append((text[1:-1], [(start, end, "[")]))
            continue
        m = _KEY.match(lines[start])
        sections[-1][1].append((start, end, m.group(1) if m and not text.startswith("#") else None))
    return sections


def merge_text(text, set_keys, drop_keys):
    """``text`` with ``set_keys`` ({stanza: {key: value}}) written and ``drop_keys`` ({stanza: [key]})
    removed; a stanza left without keys or comments by a drop is removed with its header."""
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    sections = _sections(lines)
    replace = {}              # line index -> replacement lines (for the first line of a range); others dropped
    dropped = set()
    tail = {}                 # line index -> lines to add after it
    seen = set()
    for name, items in sections:
        if name is None:
            continue
        seen.add(name)
        wanted = dict(set_keys.get(name, {}))
        gone = set(drop_keys.get(name, ()))
        for start, end, key in items:
            if key in wanted:
                replace[start] = ["%s = %s\n" % (key, conf_value(wanted.pop(key), "[%s] %s" % (name, key)))]
                dropped.update(range(start + 1, end))
            elif key in gone:
                dropped.update(range(start, end))
        if wanted:
            # after the stanza's last key (or its header), before comments that lead into the next
            last = max(end for start, end, key in items if key is not None)
            tail[last - 1] = ["%s = %s\n" % (k, conf_value(v, "[%s] %s" % (name, k))) for k, v in wanted.items()]
        remaining = [(s, e, k) for s, e, k in items[1:] if s not in dropped and lines[s].strip()]
        if gone and not remaining and name not in set_keys:
            dropped.update(range(items[0][0], items[-1][1]))
    out = []
    for i, line in enumerate(lines):
        if i in replace:
            out.extend(replace[i])
        elif i not in dropped:
            out.append(line)
        out.extend(tail.get(i, ()))
    for name in set_keys:
        if name not in seen:
            if out and out[-1].strip():
                out.append("\n")
            out.append("[%s]\n" % name)
            out.extend("%s = %s\n" % (k, conf_value(v, "[%s] %s" % (name, k))) for k, v in set_keys[name].items())
    return "".join(out)


def _parsed(text, where):
    try:
        conf = parse_conf_string(text, profile=PARSECONF_MID_NC)
    except ConfParserException as err:
        raise LocalConfError("%s: %s" % (where, err))
    return dict((("" if k is GLOBAL_STANZA else k), dict(v)) for k, v in conf.items())


def merge_file(path, set_keys, drop_keys, write=True):
    """Merge into the conf file at ``path`` (created when missing). Returns True when it changed (or,
    with ``write=False``, would change)."""
    before = ""
    if os.path.exists(path):
        try:
            with open(path, "r", encoding="utf-8") as handle:
                before = handle.read()
        except (OSError, UnicodeDecodeError) as err:
            raise LocalConfError("%s: %s" % (path, err))
    after = merge_text(before, set_keys, drop_keys)
    _check(before, after, set_keys, drop_keys, path)
    if after == before or not write:
        return after != before
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".awssignin-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(after)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def _check(before, after, set_keys, drop_keys, path):
    """The merged text holds exactly the intended change (a guard against a bug in the line editor)."""
    old, new = _parsed(before, path), _parsed(after, path + " (merged)")
    expected = dict((k, dict(v)) for k, v in old.items())
    for stanza, keys in drop_keys.items():
        for key in keys:
            expected.get(stanza, {}).pop(key, None)
        if stanza in expected and not expected[stanza] and stanza not in set_keys:
            del expected[stanza]
    for stanza, keys in set_keys.items():
        expected.setdefault(stanza, {}).update(keys)
    # a stanza that loses its keys but keeps a comment stays, empty
    for stanza in list(new):
        if stanza not in expected and not new[stanza]:
            expected[stanza] = {}
    if new != expected:
        raise LocalConfError("%s: refusing to write: the merge would change more than the tuned keys" % path)
