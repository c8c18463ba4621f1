"""A parser and evaluator for the subset of SPL's ``search`` command that our saved searches use.

Supported (semantics from the Search Reference "search" page and the Search Manual, notes/splunk.md §7):

- ``field=value``, ``field="quoted value"``, spaces around the operator, dotted and ``{}`` field names
  bare or quoted (``"additionalEventData.MFAUsed"=Yes``);
- ``*`` wildcards quoted or not, anywhere in a value; ``field=*`` means the field exists; a lone ``*``
  matches every event;
- ``field!=value``: the field exists and no value matches (so ``field!=*`` never matches), whereas
  ``NOT field=value`` also matches events without the field;
- ``field IN (a, "b c", d*)`` = ``field=a OR field="b c" OR field=d*``;
- ``< <= > >=``: numeric when both sides are numbers, otherwise lexicographic (code-point order, so
  case-sensitive: "Uppercase letters are sorted before lowercase letters"); ``=`` and ``!=`` always
  compare text, so ``1`` does not match ``1.0``;
- CIDR values (``sourceIPAddress=203.0.113.0/24``) match the addresses in the network, as ``search``
  does for IPv4 and IPv6;
- ``AND``, ``OR``, ``NOT`` (operators only in upper case), implicit AND, parentheses, with the
  ``search`` command's precedence: parentheses > NOT > OR > AND, so ``a=1 b=2 OR c=3`` is
  ``a=1 AND (b=2 OR c=3)``;
- values match case-insensitively, field names case-sensitively; a multivalue field matches when
  any of its values does; an empty value is an absent field (see fieldview.py);
- backslash escapes ``\\"``, ``\\\\``, ``\\|``; triple-backtick comments; a leading ``search`` keyword.

Everything else raises SplUnsupported naming the construct and its position: bare terms and quoted
phrases (full-text search against ``_raw`` depends on Splunk's segmentation), pipes, subsearches,
unexpanded macros, ``CASE()``/``TERM()`` and other function-like syntax, time modifiers
(``earliest=`` ...), index and event-type selectors, ``!=`` on a ``{}`` (multivalue) field (Splunk
does not document it; write ``NOT field=value``), lower-case operators (they are bare terms).
Malformed input raises SplSyntaxError with the position.

``compile_search`` turns the text into nested closures once; evaluating a record is then a few dict
lookups and string comparisons.

``compile_iplocation`` evaluates the arguments of an ``iplocation`` stage (the fields it adds, from
the GeoIP database in use: see its section below).
"""

from __future__ import annotations

import ipaddress
import operator
import re
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Set, Tuple

Record = Dict[str, Any]
Predicate = Callable[[Record], bool]

KEYWORDS = ("AND", "OR", "NOT")

# Search modifiers and time options of the search command that select events by something other
# than a field of the event; the field view cannot answer them.
_MODIFIERS = {
    "earliest": "time modifier", "latest": "time modifier", "starttime": "time modifier",
    "endtime": "time modifier", "timeformat": "time modifier", "_index_earliest": "time modifier",
    "_index_latest": "time modifier", "index": "index selector", "splunk_server": "server selector",
    "splunk_server_group": "server selector", "eventtype": "event type selector",
    "eventtypetag": "event type selector", "hosttag": "tag selector", "tag": "tag selector",
    "savedsearch": "saved search reference", "savedsplunk": "saved search reference",
}

_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")
_IPV4_CIDR = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}/\d{1,2}\Z")
_IPV6_CIDR = re.compile(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*/\d{1,3}\Z")


# ---------------------------------------------------------------------------------------------
# Errors


class SplError(ValueError):
    """A search we cannot evaluate. ``position`` is a 0-based offset into ``text``."""

    kind = "SPL error"

    def __init__(self, message: str, position: int, text: str, construct: Optional[str] = None):
        self.message = message
        self.position = position
        self.text = text
        self.construct = construct
        self.line = text.count("\n", 0, position) + 1
        self.column = position - (text.rfind("\n", 0, position) + 1) + 1
        ValueError.__init__(
            self, "%s: %s at position %d (line %d, column %d)"
            % (self.kind, message, position, self.line, self.column)
        )

    def excerpt(self) -> str:
        """The offending line with a caret under the position, for CLI output."""
        start = self.text.rfind("\n", 0, self.position) + 1
        end = self.text.find("\n", self.position)
        line = self.text[start:] if end < 0 else self.text[start:end]
        return "%s\n%s^" % (line, " " * (self.position - start))


class SplSyntaxError(SplError):
    """Malformed search text (unbalanced parentheses or quotes, dangling operator ...)."""

    kind = "SPL syntax error"


class SplUnsupported(SplError):
    """Valid SPL that the local evaluator does not reproduce; ``construct`` names it."""

    kind = "unsupported SPL"

    def __init__(self, construct: str, position: int, text: str, hint: str = ""):
        message = construct + (" (%s)" % hint if hint else "")
        SplError.__init__(self, message, position, text, construct)


# ---------------------------------------------------------------------------------------------
# Tokens


class _Tok(NamedTuple):
    kind: str       # "word", "op", "(", ")", ",", "eof"
    value: str      # decoded text (escapes resolved, quotes removed)
    pos: int
    end: int
    quoted: bool


_WORD_STOP = set(" \t\r\n\f\v()\",|[]=<>`")


def _tokenize(text: str) -> List[_Tok]:
    toks: List[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise SplSyntaxError("unterminated ``` comment", i, text)
            i = end + 3
        elif c == "`":
            raise SplUnsupported("macro call", i, text, "expand macros.conf macros before evaluating")
        elif c in "(),":
            toks.append(_Tok(c, c, i, i + 1, False))
            i += 1
        elif c == "|":
            raise SplUnsupported("pipe '|'", i, text, "only the search command's expression is evaluated; "
                                 "split the pipeline with split_pipeline()")
        elif c in "[]":
            raise SplUnsupported("subsearch '['", i, text)
        elif text.startswith("==", i):
            raise SplUnsupported("'==' operator", i, text, "the search command compares with '='")
        elif text.startswith("!=", i) or text.startswith("<=", i) or text.startswith(">=", i):
            toks.append(_Tok("op", text[i:i + 2], i, i + 2, False))
            i += 2
        elif c in "=<>":
            toks.append(_Tok("op", c, i, i + 1, False))
            i += 1
        elif c == '"':
            value, end = _read_quoted(text, i)
            toks.append(_Tok("word", value, i, end, True))
            i = end
        else:
            value, end = _read_word(text, i)
            toks.append(_Tok("word", value, i, end, False))
            i = end
    toks.append(_Tok("eof", "", n, n, False))
    return toks


def _unescape(text: str, i: int, out: List[str]) -> int:
    """Resolve the backslash sequence at text[i]; return the index after it.

    The search command expands \\" \\\\ and \\| and leaves other sequences as written.
    """
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if nxt in ('"', "\\", "|"):
        out.append(nxt)
        return i + 2
    if nxt == "*":
        raise SplUnsupported("escaped asterisk '\\*'", i, text,
                             "whether it matches a literal '*' is not documented")
    out.append("\\")
    if nxt:
        out.append(nxt)
        return i + 2
    return i + 1


def _read_quoted(text: str, start: int) -> Tuple[str, int]:
    out: List[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return "".join(out), i + 1
        if c == "\\":
            i = _unescape(text, i, out)
        else:
            out.append(c)
            i += 1
    raise SplSyntaxError("unterminated quoted string", start, text)


def _skip_quoted(text: str, start: int) -> int:
    """The index after the quoted string at text[start] (escapes skipped, not interpreted)."""
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return i + 1
        i += 2 if c == "\\" else 1
    raise SplSyntaxError("unterminated quoted string", start, text)


def _read_word(text: str, start: int) -> Tuple[str, int]:
    out: List[str] = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c in _WORD_STOP or (c == "!" and text.startswith("!=", i)):
            break
        if c == "\\":
            i = _unescape(text, i, out)
        else:
            out.append(c)
            i += 1
    return "".join(out), i


# ---------------------------------------------------------------------------------------------
# Parser: text -> tree of tuples
#   ("and", [nodes]) ("or", [nodes]) ("not", node) ("all",)
#   ("cmp", field, op, value, pos) ("in", field, [values], pos)


# Deepest nesting of parentheses / NOT accepted. The parser, the compiler and the compiled predicate
# recurse once per level, so a hostile search would otherwise end in RecursionError; real searches
# nest a few levels.
MAX_DEPTH = 64


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0
        # A leading "search" is the command's own name (the filter macros are "search *").
        first, second = self.peek(0), self.peek(1)
        if first.kind == "word" and not first.quoted and first.value == "search" and second.kind != "op":
            self.i = 1

    def enter(self, tok: _Tok) -> None:
        """One nesting level deeper (callers decrement ``depth``); refuse past MAX_DEPTH."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.syntax("parentheses and NOT nested more than %d levels deep; simplify the search"
                              % MAX_DEPTH, tok.pos)

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def is_kw(self, tok: _Tok, *names: str) -> bool:
        return tok.kind == "word" and not tok.quoted and tok.value in names

    def syntax(self, message: str, pos: int) -> SplSyntaxError:
        return SplSyntaxError(message, pos, self.text)

    def parse(self):
        if self.peek().kind == "eof":
            raise self.syntax("empty search", self.peek().pos)
        node = self.parse_and()
        tok = self.peek()
        if tok.kind == ")":
            raise self.syntax("unmatched ')'", tok.pos)
        if tok.kind != "eof":  # pragma: no cover - parse_and only stops at ')' or eof
            raise self.syntax("unexpected %r" % tok.value, tok.pos)
        return node

    def needs_operand(self, op: _Tok) -> None:
        nxt = self.peek()
        if nxt.kind in ("eof", ")") or self.is_kw(nxt, "AND", "OR"):
            raise self.syntax("%s needs an expression on its right" % op.value, op.pos)

    def parse_and(self):
        items = [self.parse_or()]
        while True:
            tok = self.peek()
            if tok.kind in ("eof", ")"):
                break
            if self.is_kw(tok, "AND"):
                self.i += 1
                self.needs_operand(tok)
            items.append(self.parse_or())
        return items[0] if len(items) == 1 else ("and", items)

    def parse_or(self):
        items = [self.parse_not()]
        while self.is_kw(self.peek(), "OR"):
            tok = self.peek()
            self.i += 1
            self.needs_operand(tok)
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else ("or", items)

    def parse_not(self):
        tok = self.peek()
        if self.is_kw(tok, "NOT"):
            self.i += 1
            self.needs_operand(tok)
            self.enter(tok)
            try:
                return ("not", self.parse_not())
            finally:
                self.depth -= 1
        return self.parse_primary()

    def parse_primary(self):
        tok = self.peek()
        if tok.kind == "(":
            self.i += 1
            if self.peek().kind == ")":
                raise self.syntax("empty parentheses", tok.pos)
            self.enter(tok)
            try:
                node = self.parse_and()
            finally:
                self.depth -= 1
            if self.peek().kind != ")":
                raise self.syntax("unclosed parenthesis", tok.pos)
            self.i += 1
            return node
        if tok.kind == ")":
            raise self.syntax("unmatched ')'", tok.pos)
        if tok.kind == "eof":
            raise self.syntax("expected an expression", tok.pos)
        if tok.kind == ",":
            raise SplUnsupported("comma outside an IN list", tok.pos, self.text,
                                 "quote values that contain commas")
        if tok.kind == "op":
            raise self.syntax("%r without a field name on its left" % tok.value, tok.pos)
        if self.is_kw(tok, "AND", "OR"):
            raise self.syntax("%s needs an expression on its left" % tok.value, tok.pos)
        nxt = self.peek(1)
        if nxt.kind == "op":
            return self.parse_comparison(tok, nxt)
        if self.is_kw(nxt, "IN") and self.peek(2).kind == "(":
            return self.parse_in(tok)
        self.i += 1
        if not tok.quoted and tok.value == "*":
            return ("all",)
        if nxt.kind == "(" and nxt.pos == tok.end and not tok.quoted:
            raise SplUnsupported("%s() directive or function" % tok.value, tok.pos, self.text,
                                 "the search command's CASE(), TERM() and functions are not evaluated")
        if tok.quoted:
            raise SplUnsupported("quoted phrase %s" % _show(tok.value, True), tok.pos, self.text,
                                 "full-text search against _raw is not evaluated; use field=value")
        hint = "full-text search against _raw is not evaluated; use field=value"
        if tok.value in ("and", "or", "not", "And", "Or", "Not"):
            hint = "operators must be upper case: %s" % tok.value.upper()
        raise SplUnsupported("bare term %s" % _show(tok.value, False), tok.pos, self.text, hint)

    def field_name(self, tok: _Tok) -> str:
        name = tok.value
        if not name:
            raise self.syntax("empty field name", tok.pos)
        if self.is_kw(tok, *KEYWORDS) or self.is_kw(tok, "IN"):
            raise self.syntax("%s is an operator, not a field name" % name, tok.pos)
        if "*" in name:
            raise SplUnsupported("wildcard in field name %s" % _show(name, tok.quoted), tok.pos, self.text)
        if name.startswith("'"):
            raise SplUnsupported("single-quoted field name %s" % name, tok.pos, self.text,
                                 "single quotes name fields in eval/where only; use the bare or double-quoted name")
        kind = _MODIFIERS.get(name.lower())
        if kind is None and name.lower().startswith("tag::"):
            kind = "tag selector"
        if kind is not None:
            raise SplUnsupported("%s %s=" % (kind, name), tok.pos, self.text)
        return name

    def value(self, after: _Tok, what: str) -> _Tok:
        tok = self.peek()
        if tok.kind != "word":
            raise self.syntax("expected a value after %s" % what, after.pos)
        if self.is_kw(tok, *KEYWORDS) or self.is_kw(tok, "IN"):
            raise self.syntax("value %s is an SPL operator: quote it (\"%s\")" % (tok.value, tok.value), tok.pos)
        if tok.value == "":
            raise SplUnsupported("empty value \"\"", tok.pos, self.text,
                                 "Splunk has no empty field values; test absence with NOT field=*")
        self.i += 1
        return tok

    def parse_comparison(self, field_tok: _Tok, op_tok: _Tok):
        field = self.field_name(field_tok)
        self.i += 2
        val = self.value(op_tok, "'%s'" % op_tok.value)
        if op_tok.value == "!=" and "{}" in field:
            raise SplUnsupported("'!=' on the multivalue field %s" % field, op_tok.pos, self.text,
                                 "Splunk does not document it; write NOT %s=..." % field)
        if op_tok.value in _COMPARE and "*" in val.value:
            raise SplUnsupported("wildcard in a %s comparison" % op_tok.value, val.pos, self.text)
        return ("cmp", field, op_tok.value, val.value, field_tok.pos)

    def parse_in(self, field_tok: _Tok):
        field = self.field_name(field_tok)
        self.i += 2  # field, IN
        open_tok = self.peek()
        self.i += 1
        values: List[str] = []
        prev = open_tok
        while True:
            tok = self.peek()
            if tok.kind == "eof":
                raise self.syntax("unclosed IN list", open_tok.pos)
            if tok.kind == ")" and not values:
                raise self.syntax("empty IN list", open_tok.pos)
            values.append(self.value(prev, "'%s' in the IN list" % prev.value).value)
            sep = self.peek()
            if sep.kind == ",":
                prev = sep
                self.i += 1
                continue
            if sep.kind == ")":
                self.i += 1
                return ("in", field, values, field_tok.pos)
            if sep.kind == "eof":
                raise self.syntax("unclosed IN list", open_tok.pos)
            raise self.syntax("expected ',' or ')' in IN list", sep.pos)


def _show(value: str, quoted: bool) -> str:
    return '"%s"' % value if quoted else "'%s'" % value


def _parse(text: str):
    if not isinstance(text, str):
        raise TypeError("search text must be a string, not %s" % type(text).__name__)
    return _Parser(text).parse()


# ---------------------------------------------------------------------------------------------
# Value matchers: str -> bool, built once per comparison


def _text(value: Any) -> str:
    if value.__class__ is str:
        return value
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _cidr(value: str):
    if _IPV4_CIDR.match(value) or _IPV6_CIDR.match(value):
        try:
            return ipaddress.ip_network(value, strict=False)
        except ValueError:
            return None
    return None


def _value_matcher(pattern: str) -> Callable[[str], bool]:
    """Case-insensitive whole-value match with '*' wildcards (and CIDR networks)."""
    low = re.sub(r"\*+", "*", pattern.lower())
    if low == "*":
        return lambda s: True
    if "*" not in low:
        network = _cidr(pattern)
        if network is not None:
            def in_network(s: str) -> bool:
                try:
                    return ipaddress.ip_address(s) in network
                except ValueError:
                    return s.lower() == low
            return in_network
        return lambda s: s == pattern or s.lower() == low
    parts = low.split("*")
    if len(parts) == 2:
        head, tail = parts
        if not tail:
            return lambda s: s.lower().startswith(head)
        if not head:
            return lambda s: s.lower().endswith(tail)
    if len(parts) == 3 and not parts[0] and not parts[2]:
        middle = parts[1]
        return lambda s: middle in s.lower()
    rx = re.compile(".*".join(re.escape(p) for p in parts), re.DOTALL)
    return lambda s: rx.fullmatch(s.lower()) is not None


def _compare_matcher(op: str, literal: str) -> Callable[[str], bool]:
    cmp = _COMPARE[op]
    lit_num = float(literal) if _NUMBER.match(literal) else None
    if lit_num is None:
        return lambda s: cmp(s, literal)

    def compare(s: str) -> bool:
        if _NUMBER.match(s):
            return cmp(float(s), lit_num)
        return cmp(s, literal)
    return compare


# ---------------------------------------------------------------------------------------------
# Predicates: record -> bool


def _any_value(values: Any, test: Callable[[str], bool]) -> bool:
    if values.__class__ is list or values.__class__ is tuple:
        for item in values:
            if item is not None and item != "" and test(_text(item)):
                return True
        return False
    return test(_text(values))


def _has_value(values: Any) -> bool:
    if values.__class__ is list or values.__class__ is tuple:
        return any(item is not None and item != "" for item in values)
    return True


def _field_test(field: str, test: Callable[[str], bool]) -> Predicate:
    def match(record: Record) -> bool:
        value = record.get(field)
        if value.__class__ is str:
            return test(value) if value else False  # "" is an absent field
        if value is None:
            return False
        return _any_value(value, test)
    return match


def _not_equal(field: str, test: Callable[[str], bool]) -> Predicate:
    # The field must have a value, and none of its values may match (hence field!=* never matches).
    def match(record: Record) -> bool:
        value = record.get(field)
        if value.__class__ is str:
            return not test(value) if value else False
        if value is None:
            return False
        return _has_value(value) and not _any_value(value, test)
    return match


def _all_of(preds: List[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda r: a(r) and b(r)

    def match(record: Record) -> bool:
        for pred in preds:
            if not pred(record):
                return False
        return True
    return match


def _any_of(preds: List[Predicate]) -> Predicate:
    if len(preds) == 2:
        a, b = preds
        return lambda r: a(r) or b(r)

    def match(record: Record) -> bool:
        for pred in preds:
            if pred(record):
                return True
        return False
    return match


def _build(node) -> Predicate:
    kind = node[0]
    if kind == "and":
        return _all_of([_build(n) for n in node[1]])
    if kind == "or":
        return _any_of([_build(n) for n in node[1]])
    if kind == "not":
        inner = _build(node[1])
        return lambda r: not inner(r)
    if kind == "all":
        return lambda r: True
    if kind == "in":
        _, field, values, _pos = node
        if not any("*" in v or _cidr(v) is not None for v in values):
            plain = frozenset(v.lower() for v in values)
            return _field_test(field, lambda s: s.lower() in plain)
        tests = [_value_matcher(v) for v in values]
        return _field_test(field, lambda s: any(t(s) for t in tests))
    _, field, op, value, _pos = node
    if op == "=":
        return _field_test(field, _value_matcher(value))
    if op == "!=":
        return _not_equal(field, _value_matcher(value))
    return _field_test(field, _compare_matcher(op, value))


# ---------------------------------------------------------------------------------------------
# Public API


def compile_search(text: str) -> Predicate:
    """Compile the expression of a ``search`` command into ``predicate(field_view) -> bool``.

    Raises SplSyntaxError or SplUnsupported (with the position) when the text is not something the
    evaluator reproduces faithfully.
    """
    return _build(_parse(text))


def check(text: str) -> None:
    """Raise SplSyntaxError / SplUnsupported if ``compile_search(text)`` would; return None otherwise."""
    compile_search(text)


def fields_referenced(text: str) -> Set[str]:
    """The field names the search compares (for lint: fields the field view must provide)."""
    found: Set[str] = set()

    def walk(node) -> None:
        kind = node[0]
        if kind in ("and", "or"):
            for child in node[1]:
                walk(child)
        elif kind == "not":
            walk(node[1])
        elif kind in ("cmp", "in"):
            found.add(node[1])

    walk(_parse(text))
    return found


class Stage(NamedTuple):
    command: str    # "search" for the implied first command
    args: str       # the text after the command name
    position: int   # offset of args in the pipeline text


def split_pipeline(text: str) -> List[Stage]:
    """Split a search pipeline on its top-level pipes (not inside quotes, comments or subsearches).

    The first stage is the implied ``search`` unless the text starts with a pipe (a generating
    command). Raises SplSyntaxError on unbalanced quotes or brackets.
    """
    cuts: List[int] = []
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("```", i):
            end = text.find("```", i + 3)
            if end < 0:
                raise SplSyntaxError("unterminated ``` comment", i, text)
            i = end + 3
            continue
        if c == '"':
            i = _skip_quoted(text, i)
            continue
        if c == "\\":
            i += 2
            continue
        if c == "[":
            depth += 1
        elif c == "]":
            if depth == 0:
                raise SplSyntaxError("unmatched ']'", i, text)
            depth -= 1
        elif c == "|" and depth == 0:
            cuts.append(i)
        i += 1
    if depth:
        raise SplSyntaxError("unclosed subsearch '['", text.rfind("["), text)
    bounds = [-1] + cuts + [n]
    stages: List[Stage] = []
    for k in range(len(bounds) - 1):
        start, end = bounds[k] + 1, bounds[k + 1]
        segment = text[start:end]
        if k == 0:
            if not cuts or segment.strip():
                stages.append(Stage("search", segment, start))
            continue
        m = re.match(r"\s*(\S+)\s?", segment)
        if not m:
            raise SplSyntaxError("empty command after '|'", bounds[k], text)
        stages.append(Stage(m.group(1), segment[m.end():], start + m.end()))
    return stages


# ---------------------------------------------------------------------------------------------
# iplocation
#
# Search Reference, iplocation (https://help.splunk.com/splunk-enterprise/spl-search-reference/9.4/
# search-commands/iplocation; SPL2: https://help.splunk.com/en/splunk-enterprise/search/
# spl2-search-reference/iplocation-command): ``iplocation [prefix=<string>] [allfields=<bool>]
# [lang=<string>] <ip-address-fieldname>`` looks the address up in a MaxMind-format database (the
# one Splunk ships; which vendor's data was not verified) and adds City, Country, Region, lat and lon (allfields=true also Continent,
# MetroCode, Timezone), each name prefixed by ``prefix``. "Because all the information might not
# be available for each IP address, an event can have empty field values"; "for IP addresses which
# do not have a location, such as internal addresses, no fields are added". Names come in the
# database's language ``lang`` (default English). Not documented, chosen here and marked so:
# Region is the first (largest) subdivision; lat / lon are the numbers' shortest decimal text; a
# multivalue address field is looked up by its first value.

IPLOCATION_FIELDS = ("City", "Country", "Region", "lat", "lon")
IPLOCATION_ALL_FIELDS = IPLOCATION_FIELDS + ("Continent", "MetroCode", "Timezone")
_BOOLEANS = {"true": True, "t": True, "1": True, "yes": True, "false": False, "f": False, "0": False, "no": False}


def _names(node: Any, lang: str) -> str:
    if isinstance(node, dict) and isinstance(node.get("names"), dict):
        value = node["names"].get(lang)
        if isinstance(value, str):
            return value
    return ""


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return ""
    return repr(value)


def iplocation_fields(record: Optional[Dict[str, Any]], lang: str = "en", allfields: bool = False) -> Dict[str, str]:
    """The fields ``iplocation`` adds for one database record (None: not in the database -> none)."""
    if not isinstance(record, dict):
        return {}
    subdivisions = record.get("subdivisions")
    first = subdivisions[0] if isinstance(subdivisions, list) and subdivisions else None
    location = record.get("location") if isinstance(record.get("location"), dict) else {}
    out = {
        "City": _names(record.get("city"), lang),
        "Country": _names(record.get("country"), lang),
        "Region": _names(first, lang),
        "lat": _number(location.get("latitude")),
        "lon": _number(location.get("longitude")),
    }
    if allfields:
        out["Continent"] = _names(record.get("continent"), lang)
        out["MetroCode"] = _number(location.get("metro_code"))
        tz = location.get("time_zone")
        out["Timezone"] = tz if isinstance(tz, str) else ""
    return out


def compile_iplocation(text: str, lookup: Optional[Callable[[str], Optional[Dict[str, Any]]]] = None
                       ) -> Callable[[Record], bool]:
    """Compile the arguments of an ``iplocation`` stage into ``stage(field_view) -> True`` that adds
    the fields to the view in place (iplocation keeps every event). ``lookup(address) -> record``
    defaults to the GeoIP database in use (harness.geoip.current()) at the time each event is
    evaluated; without one, no fields are added. Raises SplSyntaxError / SplUnsupported."""
    toks = _tokenize(text)
    options: Dict[str, str] = {}
    field: Optional[str] = None
    i = 0
    while toks[i].kind != "eof":
        tok = toks[i]
        if tok.kind != "word":
            raise SplSyntaxError("unexpected %r in iplocation arguments" % tok.value, tok.pos, text)
        if toks[i + 1].kind == "op" and toks[i + 1].value == "=":
            value = toks[i + 2]
            if value.kind != "word":
                raise SplSyntaxError("iplocation option %s= needs a value" % tok.value, toks[i + 1].pos, text)
            if tok.value not in ("prefix", "allfields", "lang"):
                raise SplUnsupported("iplocation option %s=" % tok.value, tok.pos, text)
            options[tok.value] = value.value
            i += 3
            continue
        if field is not None:
            raise SplSyntaxError("iplocation takes one IP address field", tok.pos, text)
        field = tok.value
        i += 1
    if field is None:
        raise SplSyntaxError("iplocation needs an IP address field", len(text), text)
    allfields = _BOOLEANS.get(options.get("allfields", "false").lower())
    if allfields is None:
        raise SplSyntaxError("iplocation allfields= takes a boolean, not %r" % options["allfields"],
                             text.find("allfields"), text)
    prefix = options.get("prefix", "")
    lang = options.get("lang", "en")

    def default_lookup(address: str) -> Optional[Dict[str, Any]]:
        from .. import geoip
        geo = geoip.current()
        return geo.record(address) if geo is not None else None

    find = lookup or default_lookup

    def stage(record: Record) -> bool:
        value = record.get(field)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            for name, found in iplocation_fields(find(value), lang, allfields).items():
                record[prefix + name] = found
        return True

    return stage
