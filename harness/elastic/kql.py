"""KQL (Kibana Query Language) parsed as Kibana parses it and evaluated as Elasticsearch runs it.

Grammar: Kibana's ``kbn-es-query`` kuery grammar (PEG), rule for rule: ``or`` < ``and`` < ``not``
(keywords case-insensitive), parentheses, ``field: value``, ``field: (a or b and not c)``,
``field < value`` (also ``<= > >=``), quoted phrases with ``\\" \\\\ \\t \\r \\n \\uXXXX``
escapes, unquoted literals (which may contain spaces, stop at `` or ``/`` and ``/``not ``, and
escape specials with a backslash), ``*`` wildcards in unquoted values only. Unquoted ``true``,
``false`` and ``null`` are JSON literals, everything else is a string.

Semantics (detection rules send KQL without a data view, so every value becomes a ``match`` /
``match_phrase`` / ``query_string`` / ``exists`` / ``range`` query resolved by the field's
mapping in ``mapping.py``):

- keyword (and flattened sub-keys): exact, case-sensitive; values longer than ``ignore_above``
  are never matched. Wildcards are case-sensitive too. Quoted and unquoted behave the same,
  except that only unquoted ``*`` is a wildcard.
- ``field: *`` is ``exists``; an object path (``aws.cloudtrail.console_login: *``) exists when
  any field below it does.
- arrays match when any element matches; ``not`` is ``must_not``, so it is true when the field
  is missing.
- boolean fields accept only true/false (``mfa_used: false`` never matches "No" or a missing
  field; ``mfa_used: no`` is an error in Elasticsearch, and here).
- ip fields accept an address or a CIDR block; date fields accept ISO 8601 or epoch millis, with
  Elasticsearch's rounding of partial dates (``@timestamp: 2026-01-15`` is the whole day);
  long fields compare numerically.
- constant_keyword fields (``data_stream.dataset``, ``event.dataset`` ...) take their value from
  the mapping, so they match every document whatever its _source holds.
- flattened roots match any leaf value.
- geo_point fields take only ``field: *`` (exists); a value, wildcard or range on one is a
  KqlValueError, because Elasticsearch refuses those queries on geo_point (see
  ``refuse_unsupported_type``). ``field: *`` on a text field works too.

Refused with KqlUnsupported (valid KQL, but not evaluated faithfully here or not meaningful for
our index): nested ``parent:{...}`` queries (they need ``nested`` mappings, and this index has
none: use dotted names), values without a field (they search every field), wildcard field
names, value queries on text fields, date math (``now-1d``), and wildcard values containing
whitespace (Kibana sends them as one pattern when it resolves the field as keyword, as a
query_string split on the space when it does not; which one depends on the version). A field
that is not mapped raises KqlUnmappedField: Kibana would silently match nothing.
"""
from __future__ import annotations

import calendar
import functools
import ipaddress
import re
from typing import Any, Callable, Dict, List, Optional, Set, Tuple, Union

from . import mapping

Predicate = Callable[[Dict[str, Any]], bool]

__all__ = [
    "KqlError", "KqlSyntaxError", "KqlValueError", "KqlUnsupported", "KqlUnmappedField",
    "compile_kql", "check", "fields_referenced", "parse",
]


# ----------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------

class KqlError(ValueError):
    """A query problem with its 0-based character ``position`` in ``text``."""

    def __init__(self, message: str, text: str = "", position: Optional[int] = None):
        self.reason = message
        self.text = text
        self.position = position
        where = "" if position is None else "at offset %d: " % position
        excerpt = ""
        if position is not None and text:
            excerpt = "\n  %s\n  %s^" % (text.replace("\n", " "), " " * position)
        super().__init__(where + message + excerpt)


class KqlSyntaxError(KqlError):
    """Text that Kibana's KQL parser rejects."""


class KqlValueError(KqlSyntaxError):
    """A value Elasticsearch rejects for the field's type (``mfa_used: no``, ``source.ip: abc``):
    the rule would fail at every run."""


class KqlUnsupported(KqlError):
    """Valid KQL that the local evaluator does not run (see the module docstring)."""


class KqlUnmappedField(KqlUnsupported):
    """A field absent from the index mapping; Kibana would match nothing, silently."""

    def __init__(self, message: str, text: str = "", position: Optional[int] = None,
                 field: str = ""):
        self.field = field
        super().__init__(message, text, position)


# ----------------------------------------------------------------------------------------------
# AST
# ----------------------------------------------------------------------------------------------

class _Wild:
    """The wildcard symbol inside an unquoted literal (an escaped ``\\*`` is a plain '*')."""

    def __repr__(self) -> str:
        return "*"


WILDCARD = _Wild()


class Literal:
    __slots__ = ("value", "quoted", "pos")

    def __init__(self, value: Union[str, bool, None], quoted: bool, pos: int):
        self.value = value
        self.quoted = quoted
        self.pos = pos

    def __repr__(self) -> str:
        return "Literal(%r%s)" % (self.value, ", quoted" if self.quoted else "")


class Wildcard:
    """An unquoted value with at least one wildcard: ``parts`` mixes strings and WILDCARD."""
    __slots__ = ("parts", "pos")

    def __init__(self, parts: List[Any], pos: int):
        self.parts = parts
        self.pos = pos

    @property
    def lone(self) -> bool:
        return len(self.parts) == 1 and self.parts[0] is WILDCARD

    @property
    def text(self) -> str:
        return "".join("*" if p is WILDCARD else p for p in self.parts)

    def __repr__(self) -> str:
        return "Wildcard(%r)" % self.text


Value = Union[Literal, Wildcard]


class Node:
    """op: 'or' / 'and' (args = nodes), 'not' (args = [node]), 'is' (field, value),
    'range' (field, operator, value), 'all' (match everything)."""
    __slots__ = ("op", "args", "pos")

    def __init__(self, op: str, args: List[Any], pos: int):
        self.op = op
        self.args = args
        self.pos = pos

    def __repr__(self) -> str:
        return "%s(%s)" % (self.op, ", ".join(repr(a) for a in self.args))


# ----------------------------------------------------------------------------------------------
# Parser: a hand-written PEG mirroring Kibana's grammar, with its backtracking
# ----------------------------------------------------------------------------------------------

_SPACE = frozenset(" \t\r\n\u00a0")
_SPECIAL = frozenset('\\():<>"*{}')
SPECIAL_CHARACTERS = _SPECIAL  # what a bare value must escape (the generator, querygen.py, escapes these)
# JavaScript's String.prototype.trim() set (Kibana trims unquoted literals with it).
_JS_TRIM = frozenset(" \t\n\v\f\r\u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff"
                     + "".join(chr(c) for c in range(0x2000, 0x200b)))
_HEX = frozenset("0123456789abcdefABCDEF")
_RANGE_OPS = (("<=", "lte"), (">=", "gte"), ("<", "lt"), (">", "gt"))


class _Fail(Exception):
    pass


# Deepest nesting of parentheses / ``not`` accepted (in the query and in a field's value list). The
# parser, the compiler and the compiled predicate recurse once per level, so a hostile query would
# otherwise end in RecursionError; real rules nest a few levels.
MAX_DEPTH = 64


class _Parser:
    def __init__(self, text: str):
        self.s = text
        self.n = len(text)
        self.far = 0                # furthest position a rule failed at, for the error message
        self.expected: Set[str] = set()
        self.depth = 0              # nesting of not_query / not_values, bounded by MAX_DEPTH

    def enter(self, pos: int) -> None:
        """One nesting level deeper (callers decrement ``depth``); refuse past MAX_DEPTH. Raised as
        a KqlSyntaxError, not a _Fail, so that no backtracking alternative is tried."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise KqlSyntaxError("the query nests parentheses and 'not' more than %d levels deep; "
                                 "simplify it" % MAX_DEPTH, self.s, pos)

    # -- failure bookkeeping ------------------------------------------------------------------
    def fail(self, pos: int, what: str) -> _Fail:
        if pos > self.far:
            self.far, self.expected = pos, {what}
        elif pos == self.far:
            self.expected.add(what)
        return _Fail()

    def error(self) -> KqlSyntaxError:
        found = "end of query" if self.far >= self.n else repr(self.s[self.far])
        expected = ", ".join(sorted(self.expected)) or "a query"
        return KqlSyntaxError("expected %s but found %s" % (expected, found), self.s, self.far)

    # -- entry ----------------------------------------------------------------------------------
    def parse(self) -> Node:
        pos = self.spaces(0)
        node: Optional[Node] = None
        try:
            node, pos = self.or_query(pos)
        except _Fail:
            node = None
        pos = self.spaces(pos)
        if pos != self.n:
            self.fail(pos, "the end of the query")
            raise self.error()
        return node if node is not None else Node("all", [], 0)

    # -- query level ----------------------------------------------------------------------------
    def or_query(self, pos: int) -> Tuple[Node, int]:
        return self._chain(pos, self.and_query, self.or_kw, "or")

    def and_query(self, pos: int) -> Tuple[Node, int]:
        return self._chain(pos, self.not_query, self.and_kw, "and")

    def _chain(self, pos: int, item: Callable, keyword: Callable, op: str) -> Tuple[Node, int]:
        start = pos
        head, pos = item(pos)
        nodes = [head]
        while True:
            try:
                p = keyword(pos)
                nxt, p = item(p)
            except _Fail:
                break
            nodes.append(nxt)
            pos = p
        return (nodes[0] if len(nodes) == 1 else Node(op, nodes, start)), pos

    def not_query(self, pos: int) -> Tuple[Node, int]:
        # every nesting level (a parenthesis, a 'not') passes through here once
        self.enter(pos)
        try:
            try:
                p = self.not_kw(pos)
                inner, p = self.sub_query(p)
                return Node("not", [inner], pos), p
            except _Fail:
                return self.sub_query(pos)
        finally:
            self.depth -= 1

    def sub_query(self, pos: int) -> Tuple[Node, int]:
        if pos < self.n and self.s[pos] == "(":
            try:
                p = self.spaces(pos + 1)
                inner, p = self.or_query(p)
                p = self.spaces(p)
                return inner, self.char(p, ")")
            except _Fail:
                pass
        return self.nested_query(pos)

    def nested_query(self, pos: int) -> Tuple[Node, int]:
        try:
            field, p = self.literal(pos)
            p = self.char(self.spaces(p), ":")
            p = self.spaces(p)
        except _Fail:
            return self.expression(pos)
        if p < self.n and self.s[p] == "{":
            raise KqlUnsupported(
                "nested queries (field:{...}) need a 'nested' mapping and logs-aws.cloudtrail-* "
                "has none; write the dotted field names instead", self.s, p)
        return self.expression(pos)

    def expression(self, pos: int) -> Tuple[Node, int]:
        # FieldRangeExpression / FieldValueExpression / ValueExpression, in that order.
        try:
            field, p = self.literal(pos)
            p = self.spaces(p)
            op, p = self.range_operator(p)
            p = self.spaces(p)
            value, p = self.literal(p)
            return Node("range", [field, op, value], pos), p
        except _Fail:
            pass
        try:
            field, p = self.literal(pos)
            p = self.char(self.spaces(p), ":")
            p = self.spaces(p)
            partial, p = self.list_of_values(p)
            return _bind(partial, field), p
        except _Fail:
            pass
        value, p = self.value(pos)
        return Node("is", [None, value], pos), p

    # -- value lists ----------------------------------------------------------------------------
    # A value list is kept as ('vor'|'vand'|'vnot'|'v', ...) until bound to its field.
    def list_of_values(self, pos: int) -> Tuple[tuple, int]:
        if pos < self.n and self.s[pos] == "(":
            try:
                p = self.spaces(pos + 1)
                partial, p = self.or_values(p)
                p = self.spaces(p)
                return partial, self.char(p, ")")
            except _Fail:
                pass
        value, p = self.value(pos)
        return ("v", value), p

    def or_values(self, pos: int) -> Tuple[tuple, int]:
        return self._value_chain(pos, self.and_values, self.or_kw, "vor")

    def and_values(self, pos: int) -> Tuple[tuple, int]:
        return self._value_chain(pos, self.not_values, self.and_kw, "vand")

    def _value_chain(self, pos: int, item: Callable, keyword: Callable,
                     op: str) -> Tuple[tuple, int]:
        head, pos = item(pos)
        parts = [head]
        while True:
            try:
                p = keyword(pos)
                nxt, p = item(p)
            except _Fail:
                break
            parts.append(nxt)
            pos = p
        return (parts[0] if len(parts) == 1 else (op, parts)), pos

    def not_values(self, pos: int) -> Tuple[tuple, int]:
        self.enter(pos)
        try:
            try:
                p = self.not_kw(pos)
                inner, p = self.list_of_values(p)
                return ("vnot", inner, pos), p
            except _Fail:
                return self.list_of_values(pos)
        finally:
            self.depth -= 1

    # -- tokens ---------------------------------------------------------------------------------
    def value(self, pos: int) -> Tuple[Value, int]:
        try:
            return self.quoted(pos)
        except _Fail:
            return self.unquoted(pos)

    def literal(self, pos: int) -> Tuple[Value, int]:
        return self.value(pos)

    def quoted(self, pos: int) -> Tuple[Literal, int]:
        s = self.s
        if pos >= self.n or s[pos] != '"':
            raise self.fail(pos, "a value")
        p = pos + 1
        out = []
        while p < self.n:
            c = s[p]
            if c == "\\":
                esc = self._escaped_whitespace(p) or self._unicode(p)
                if esc:
                    out.append(esc[0])
                    p = esc[1]
                    continue
                if p + 1 < self.n and s[p + 1] in '\\"':
                    out.append(s[p + 1])
                    p += 2
                    continue
            if c == '"':
                return Literal("".join(out), True, pos), p + 1
            out.append(c)
            p += 1
        raise self.fail(p, "a closing '\"'")

    def unquoted(self, pos: int) -> Tuple[Value, int]:
        s = self.s
        p = pos
        chars: List[Any] = []
        while p < self.n:
            c = s[p]
            if c == "\\":
                esc = (self._escaped_whitespace(p) or self._escaped_special(p)
                       or self._unicode(p) or self._escaped_keyword(p))
                if esc:
                    chars.append(esc[0])
                    p = esc[1]
                    continue
                break
            if c == "*":
                chars.append(WILDCARD)
                p += 1
                continue
            if c in _SPECIAL or self._keyword_at(p):
                break
            chars.append(c)
            p += 1
        if not chars:
            raise self.fail(pos, "a value")
        while chars and chars[0] is not WILDCARD and chars[0] in _JS_TRIM:
            chars.pop(0)
        while chars and chars[-1] is not WILDCARD and chars[-1] in _JS_TRIM:
            chars.pop()
        if any(c is WILDCARD for c in chars):
            parts: List[Any] = []
            for c in chars:
                if c is WILDCARD or not parts or parts[-1] is WILDCARD:
                    parts.append(c)
                else:
                    parts[-1] += c
            return Wildcard(parts, pos), p
        text = "".join(chars)
        literal: Union[str, bool, None] = {"null": None, "true": True, "false": False}.get(text, text)
        return Literal(literal, False, pos), p

    def _escaped_whitespace(self, p: int) -> Optional[Tuple[str, int]]:
        pair = self.s[p:p + 2]
        mapped = {"\\t": "\t", "\\r": "\r", "\\n": "\n"}.get(pair)
        return (mapped, p + 2) if mapped else None

    def _escaped_special(self, p: int) -> Optional[Tuple[str, int]]:
        if p + 1 < self.n and self.s[p + 1] in _SPECIAL:
            return self.s[p + 1], p + 2
        return None

    def _unicode(self, p: int) -> Optional[Tuple[str, int]]:
        seq = self.s[p + 1:p + 6]
        if len(seq) == 5 and seq[0] == "u" and all(h in _HEX for h in seq[1:]):
            return chr(int(seq[1:], 16)), p + 6
        return None

    def _escaped_keyword(self, p: int) -> Optional[Tuple[str, int]]:
        for word in ("or", "and", "not"):
            typed = self.s[p + 1:p + 1 + len(word)]
            if typed.lower() == word:
                return typed, p + 1 + len(word)
        return None

    def _keyword_at(self, p: int) -> bool:
        s = self.s
        if s[p] in _SPACE:
            for word in ("or", "and"):
                end = p + 1 + len(word)
                if s[p + 1:end].lower() == word and end < self.n and s[end] in _SPACE:
                    return True
            return False
        return s[p:p + 3].lower() == "not" and p + 3 < self.n and s[p + 3] in _SPACE

    def or_kw(self, pos: int) -> int:
        return self._spaced_keyword(pos, "or")

    def and_kw(self, pos: int) -> int:
        return self._spaced_keyword(pos, "and")

    def _spaced_keyword(self, pos: int, word: str) -> int:
        p = self.spaces(pos)
        if p == pos:
            raise self.fail(pos, word.upper())
        end = p + len(word)
        if self.s[p:end].lower() != word:
            raise self.fail(p, word.upper())
        q = self.spaces(end)
        if q == end:
            raise self.fail(end, "whitespace")
        return q

    def not_kw(self, pos: int) -> int:
        end = pos + 3
        if self.s[pos:end].lower() != "not":
            raise self.fail(pos, "NOT")
        q = self.spaces(end)
        if q == end:
            raise self.fail(end, "whitespace")
        return q

    def range_operator(self, pos: int) -> Tuple[str, int]:
        for text, op in _RANGE_OPS:
            if self.s.startswith(text, pos):
                return op, pos + len(text)
        raise self.fail(pos, "':', '<', '<=', '>' or '>='")

    def char(self, pos: int, ch: str) -> int:
        if pos < self.n and self.s[pos] == ch:
            return pos + 1
        raise self.fail(pos, repr(ch))

    def spaces(self, pos: int) -> int:
        while pos < self.n and self.s[pos] in _SPACE:
            pos += 1
        return pos


def _bind(partial: tuple, field: Value) -> Node:
    kind = partial[0]
    if kind == "v":
        return Node("is", [field, partial[1]], partial[1].pos)
    if kind == "vnot":
        return Node("not", [_bind(partial[1], field)], partial[2])
    children = [_bind(p, field) for p in partial[1]]
    return Node("or" if kind == "vor" else "and", children, children[0].pos)


def parse(text: str) -> Node:
    """Parse KQL into a Node tree. Raises KqlSyntaxError (or KqlUnsupported for nested queries)."""
    if not isinstance(text, str):
        raise KqlSyntaxError("a KQL query must be a string, got %s" % type(text).__name__)
    return _Parser(text).parse()


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------

def compile_kql(text: str, allow_unmapped: bool = False) -> Predicate:
    """Compile a KQL query into ``predicate(doc) -> bool`` over ``ecs.to_ecs`` documents.

    Raises what ``check`` raises. With ``allow_unmapped=True`` an unmapped field matches nothing
    instead (what Kibana does), for evaluating queries the lint would reject.
    """
    return _compile_cached(text, allow_unmapped)


def check(text: str) -> None:
    """Raise KqlSyntaxError / KqlValueError / KqlUnsupported / KqlUnmappedField (each with the
    offset in the text) unless the query parses, every field is mapped and every value suits its
    field's type."""
    compile_kql(text)


def fields_referenced(text: str) -> Set[str]:
    """Field names the query uses (``*`` excluded). Raises KqlSyntaxError on bad syntax."""
    names: Set[str] = set()

    def walk(node: Node) -> None:
        if node.op in ("is", "range"):
            field = node.args[0]
            if field is not None and not (isinstance(field, Wildcard) and field.lone):
                names.add(_field_name(field))
        elif node.op != "all":
            for child in node.args:
                walk(child)

    walk(parse(text))
    return names


@functools.lru_cache(maxsize=512)
def _compile_cached(text: str, allow_unmapped: bool) -> Predicate:
    return _Compiler(text, allow_unmapped).compile(parse(text))


# ----------------------------------------------------------------------------------------------
# Compiler: Node -> closure
# ----------------------------------------------------------------------------------------------

def _always(_doc: Dict[str, Any]) -> bool:
    return True


def _never(_doc: Dict[str, Any]) -> bool:
    return False


def _field_name(field: Value) -> str:
    if isinstance(field, Wildcard):
        return field.text
    value = field.value
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return value


class _Compiler:
    def __init__(self, text: str, allow_unmapped: bool):
        self.text = text
        self.allow_unmapped = allow_unmapped

    def compile(self, node: Node) -> Predicate:
        op = node.op
        if op == "all":
            return _always
        if op == "not":
            inner = self.compile(node.args[0])
            return lambda doc: not inner(doc)
        if op in ("and", "or"):
            children = tuple(self.compile(child) for child in node.args)
            return _and(children) if op == "and" else _or(children)
        if op == "is":
            return self.compile_is(node)
        return self.compile_range(node)

    # -- field resolution -----------------------------------------------------------------------
    def resolve(self, field: Optional[Value], node: Node, value_is_exists: bool) -> Optional[str]:
        """The field's name, or None when the query should match nothing (allow_unmapped)."""
        if field is None:
            raise KqlUnsupported("a value without a field searches every field; write field: value",
                                 self.text, node.pos)
        if isinstance(field, Wildcard):
            raise KqlUnsupported("wildcard field names (%s) are not supported; name the fields"
                                 % field.text, self.text, field.pos)
        name = _field_name(field)
        if mapping.field_type(name) is None and not (value_is_exists and mapping.is_object(name)):
            if self.allow_unmapped:
                return None
            raise KqlUnmappedField(
                "field %r is not in the logs-aws.cloudtrail-* mapping; Kibana would match nothing"
                % name, self.text, field.pos, field=name)
        return name

    # -- field: value ---------------------------------------------------------------------------
    def compile_is(self, node: Node) -> Predicate:
        field, value = node.args
        if isinstance(field, Wildcard) and field.lone and isinstance(value, Wildcard) and value.lone:
            return _always                                   # *: *
        exists = isinstance(value, Wildcard) and value.lone
        name = self.resolve(field, node, exists)
        if name is None:
            return _never
        if exists:
            return self.compile_exists(name)
        kind = mapping.field_type(name)
        self.refuse_unsupported_type(name, kind, field.pos)
        if isinstance(value, Wildcard):
            return self.compile_wildcard(name, kind, value)
        literal = value.value
        if literal is None:
            raise KqlValueError("null is not a value Elasticsearch can match (%s: null); "
                                "use 'not %s: *' for a missing field" % (name, name),
                                self.text, value.pos)
        if kind == "constant_keyword":
            return _always if _keyword_text(literal) == mapping.constant_value(name) else _never
        if kind == "keyword":
            return _match_any(_values_getter(name), _keyword_text(literal).__eq__)
        if kind == "flattened":
            return _match_any(_values_getter(name), _keyword_text(literal).__eq__)
        if kind == "boolean":
            wanted = self.boolean(literal, name, value.pos)
            return _match_any(_values_getter(name), lambda v: v is wanted)
        if kind == "date":
            low, high = self.date_bounds(literal, name, value.pos)
            return _match_any(_values_getter(name), lambda v: low <= v <= high)
        if kind == "ip":
            low, high = self.ip_bounds(literal, name, value.pos, allow_cidr=True)
            return _match_any(_values_getter(name), lambda v: low <= v <= high)
        if kind == "long":
            number = self.number(literal, name, value.pos)
            if not number.is_integer():
                return _never           # a long never equals a fraction
            return _match_any(_values_getter(name), lambda v: v == number)
        raise KqlUnsupported("fields of type %s are not supported" % kind, self.text, field.pos)

    def compile_exists(self, name: str) -> Predicate:
        if mapping.field_type(name) is None:            # an object path: any field below it
            return _or(tuple(self.compile_exists(f) for f in mapping.fields_under(name)))
        if mapping.field_type(name) == "constant_keyword":
            return _always
        if mapping.field_type(name) in ("geo_point", "text", "match_only_text"):
            # `exists` works on these (geo_point has doc values, text is indexed), although a value
            # query does not (refuse_unsupported_type). Any non-null value in _source is indexed: a
            # malformed point makes Elasticsearch reject the whole document (no ignore_malformed
            # in our mapping), and text has no ignore_above.
            source = _source_reader(mapping.source_path(name))
            return lambda doc: bool(source(doc))
        getter = _values_getter(name)
        return lambda doc: bool(getter(doc))

    def compile_wildcard(self, name: str, kind: str, value: Wildcard) -> Predicate:
        if kind not in ("keyword", "constant_keyword", "flattened"):
            raise KqlValueError("wildcards only work on keyword fields; %s is %s"
                                % (name, kind), self.text, value.pos)
        if any(p is not WILDCARD and any(c in _SPACE for c in p) for p in value.parts):
            # Kibana sends this as one wildcard pattern when it knows the field is a keyword,
            # but as query_string (which splits on the space into OR'ed terms) when it does not:
            # the result depends on the Kibana version and the field type.
            raise KqlUnsupported("a wildcard value containing whitespace (%s) means different "
                                 "things across Kibana versions; put * where the space is"
                                 % value.text, self.text, value.pos)
        pattern = re.compile("".join(".*" if p is WILDCARD else re.escape(p)
                                     for p in value.parts), re.DOTALL)
        if kind == "constant_keyword":
            return _always if pattern.fullmatch(mapping.constant_value(name) or "") else _never
        matches = pattern.fullmatch
        return _match_any(_values_getter(name), lambda v: matches(v) is not None)

    # -- field < value --------------------------------------------------------------------------
    def compile_range(self, node: Node) -> Predicate:
        field, op, value = node.args
        name = self.resolve(field, node, False)
        if name is None:
            return _never
        kind = mapping.field_type(name)
        self.refuse_unsupported_type(name, kind, field.pos)
        if isinstance(value, Wildcard):
            raise KqlValueError("a range bound cannot contain a wildcard", self.text, value.pos)
        literal = value.value
        if literal is None:
            raise KqlValueError("null is not a range bound", self.text, value.pos)
        if kind == "date":
            low, high = self.date_bounds(literal, name, value.pos)
            # Elasticsearch rounds a partial date up for gt/lte and down for gte/lt.
            bound = high if op in ("gt", "lte") else low
        elif kind == "ip":
            low, high = self.ip_bounds(literal, name, value.pos, allow_cidr=False)
            bound = low
        elif kind == "long":
            bound = self.number(literal, name, value.pos)
        elif kind == "boolean":
            bound = self.boolean(literal, name, value.pos)
        else:
            bound = _keyword_text(literal)              # keyword-like: lexicographic
        test = _RANGE_TESTS[op]
        if kind == "constant_keyword":
            constant = mapping.constant_value(name)
            return _always if constant is not None and test(constant, bound) else _never
        return _match_any(_values_getter(name), lambda v: test(v, bound))

    # -- value typing ---------------------------------------------------------------------------
    def refuse_unsupported_type(self, name: str, kind: Optional[str], pos: int) -> None:
        if kind in ("text", "match_only_text"):
            raise KqlUnsupported("%s is a text field (analysed); use the keyword field %s"
                                 % (name, mapping.source_path(name)), self.text, pos)
        if kind == "geo_point":
            # Elasticsearch refuses every value query on a geo_point field, so the rule would fail
            # at each run: the match query KQL sends is "Field [f] of type [geo_point] does not
            # support match queries", a term query "Geometry fields do not support exact searching,
            # use dedicated geometry queries instead: [f]" (GeoPointFieldMapper, MatchQueryBuilder
            # tests); range and wildcard queries are refused likewise. Only `f: *` (an exists
            # query, which geo_point supports through its doc values, see
            # https://www.elastic.co/guide/en/elasticsearch/reference/current/query-dsl-exists-query.html)
            # is valid; points are searched with geo_bounding_box / geo_distance / geo_shape, which
            # KQL cannot express.
            raise KqlValueError("%s is a geo_point field, and Elasticsearch rejects value, wildcard "
                                "and range queries on geo_point (\"does not support match queries\"): "
                                "the rule would fail at every run; only '%s: *' works, and KQL cannot "
                                "express geo queries" % (name, name), self.text, pos)

    def boolean(self, literal: Any, name: str, pos: int) -> bool:
        if literal is True or literal == "true":
            return True
        if literal is False or literal == "false":
            return False
        raise KqlValueError("%s is a boolean field: the value must be true or false, not %r"
                            % (name, literal), self.text, pos)

    def number(self, literal: Any, name: str, pos: int) -> float:
        try:
            if isinstance(literal, bool):
                raise ValueError
            number = float(literal)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return number
        except ValueError:
            raise KqlValueError("%s is a numeric field: %r is not a number" % (name, literal),
                                self.text, pos)

    def date_bounds(self, literal: Any, name: str, pos: int) -> Tuple[int, int]:
        text = _keyword_text(literal)
        if text.startswith("now") or "||" in text:
            raise KqlUnsupported("date math (%s) is not evaluated locally" % text, self.text, pos)
        bounds = _date_bounds(text)
        if bounds is None:
            raise KqlValueError("%s is a date field: %r is neither ISO 8601 nor epoch millis"
                                % (name, text), self.text, pos)
        return bounds

    def ip_bounds(self, literal: Any, name: str, pos: int, allow_cidr: bool) -> Tuple[int, int]:
        text = _keyword_text(literal)
        try:
            if "/" in text and allow_cidr:
                network = ipaddress.ip_network(text, strict=False)
                return _ip_key(network.network_address), _ip_key(network.broadcast_address)
            key = _ip_key(ipaddress.ip_address(text))
            return key, key
        except ValueError:
            what = "an IP address or CIDR block" if allow_cidr else "an IP address"
            raise KqlValueError("%s is an ip field: %r is not %s" % (name, text, what),
                                self.text, pos)


_RANGE_TESTS: Dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda v, b: v > b,
    "gte": lambda v, b: v >= b,
    "lt": lambda v, b: v < b,
    "lte": lambda v, b: v <= b,
}


def _and(children: Tuple[Predicate, ...]) -> Predicate:
    if len(children) == 2:
        first, second = children
        return lambda doc: first(doc) and second(doc)

    def run(doc: Dict[str, Any]) -> bool:
        for child in children:
            if not child(doc):
                return False
        return True
    return run


def _or(children: Tuple[Predicate, ...]) -> Predicate:
    if not children:
        return _never
    if len(children) == 2:
        first, second = children
        return lambda doc: first(doc) or second(doc)

    def run(doc: Dict[str, Any]) -> bool:
        for child in children:
            if child(doc):
                return True
        return False
    return run


def _match_any(getter: Callable[[Dict[str, Any]], list], test: Callable[[Any], bool]) -> Predicate:
    def run(doc: Dict[str, Any]) -> bool:
        for value in getter(doc):
            if test(value):
                return True
        return False
    return run


# ----------------------------------------------------------------------------------------------
# Reading typed values out of a document
# ----------------------------------------------------------------------------------------------

def _values_getter(name: str) -> Callable[[Dict[str, Any]], list]:
    """doc -> list of the field's indexed values, converted to the field type's comparable form.

    keyword: str (bool -> "true"/"false", numbers -> text; longer than ignore_above -> dropped);
    flattened: every leaf below the root or at the sub-key, as keyword; boolean: bool; date: epoch
    ms; ip: int in IPv6 space (IPv4 mapped, as Elasticsearch stores it); long: number. Values
    Elasticsearch would have refused at index time are skipped.
    """
    root = mapping.flattened_root(name)
    kind = mapping.field_type(name)
    source = _source_reader(mapping.source_path(name))
    if root is not None:
        leaves_only = name != root
        return lambda doc: _flattened_values(source(doc), leaves_only)
    if kind == "keyword":
        limit = mapping.ignore_above(name) or 0

        def keyword_values(doc: Dict[str, Any]) -> list:
            out = []
            for v in source(doc):
                text = _keyword_value(v)
                if text is not None and len(text) <= limit:
                    out.append(text)
            return out
        return keyword_values
    convert = {"boolean": _boolean_value, "date": _date_value, "ip": _ip_value,
               "long": _long_value}[kind]

    def typed_values(doc: Dict[str, Any]) -> list:
        out = []
        for v in source(doc):
            converted = convert(v)
            if converted is not None:
                out.append(converted)
        return out
    return typed_values


def _source_reader(path: str) -> Callable[[Dict[str, Any]], list]:
    """doc -> flat list of the non-null values at a dotted path (nested keys, dotted keys, arrays).

    A plain nested path (what ``to_ecs`` builds) is read by the fast loop; when that loop misses
    (a dotted key, an array of objects on the way, an absent field) the general walk decides.
    A field written both nested and as a dotted key in one document reads the nested value only.
    """
    parts = tuple(path.split("."))
    joined = {(i, j): ".".join(parts[i:j])
              for i in range(len(parts)) for j in range(i + 2, len(parts) + 1)}

    def general(node: Any, i: int, out: list) -> None:
        if i == len(parts):
            _append_leaf(node, out)
            return
        if isinstance(node, list):
            for item in node:
                if isinstance(item, (dict, list)):
                    general(item, i, out)
            return
        if not isinstance(node, dict):
            return
        if parts[i] in node:
            general(node[parts[i]], i + 1, out)
        for j in range(i + 2, len(parts) + 1):
            key = joined[(i, j)]
            if key in node:
                general(node[key], j, out)

    def read(doc: Dict[str, Any]) -> list:
        node: Any = doc
        for part in parts:
            if type(node) is not dict or part not in node:
                break
            node = node[part]
        else:
            if type(node) is list:
                out: list = []
                _append_leaf(node, out)
                return out
            return [] if node is None else [node]
        out = []
        general(doc, 0, out)
        return out

    return read


def _append_leaf(node: Any, out: list) -> None:
    if node is None:
        return
    if isinstance(node, list):
        for item in node:
            _append_leaf(item, out)
    else:
        out.append(node)


def _flattened_values(found: list, leaves_only: bool) -> list:
    out: List[str] = []

    def leaves(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                leaves(value)
        elif isinstance(node, list):
            for value in node:
                leaves(value)
        else:
            text = _keyword_value(node)
            if text is not None:
                out.append(text)

    for node in found:
        if leaves_only and isinstance(node, dict):
            continue        # an intermediate object of a flattened field has no value of its own
        leaves(node)
    return out


def _keyword_text(literal: Any) -> str:
    if literal is True:
        return "true"
    if literal is False:
        return "false"
    return str(literal)


def _keyword_value(value: Any) -> Optional[str]:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return None         # an object where a keyword is expected: Elasticsearch rejects the doc


def _boolean_value(value: Any) -> Optional[bool]:
    if isinstance(value, bool):
        return value
    if value == "true":
        return True
    if value == "false":
        return False
    return None


def _long_value(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)               # a long field truncates a fractional _source value
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=65536)
def _parse_ip_text(text: str) -> Optional[int]:
    try:
        return _ip_key(ipaddress.ip_address(text))
    except ValueError:
        return None


def _ip_value(value: Any) -> Optional[int]:
    return _parse_ip_text(value) if isinstance(value, str) else None


def _ip_key(address: Union[ipaddress.IPv4Address, ipaddress.IPv6Address]) -> int:
    if address.version == 4:
        return (0xFFFF << 32) | int(address)
    return int(address)


def _date_value(value: Any) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)               # epoch millis
    if isinstance(value, str):
        bounds = _date_bounds(value)
        return bounds[0] if bounds else None
    return None


# strict_date_optional_time: yyyy[-MM[-dd[Thh[:mm[:ss[.fraction]]][zone]]]]
_DATE_RE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?)?)?)?$")


@functools.lru_cache(maxsize=65536)
def _date_bounds(text: str) -> Optional[Tuple[int, int]]:
    """A date string -> (first ms, last ms) it denotes: missing fields span their whole range,
    as Elasticsearch's date math parser fills them when rounding down / up."""
    if re.fullmatch(r"-?\d+", text):
        ms = int(text)
        return ms, ms
    m = _DATE_RE.match(text)
    if not m:
        return None
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    hour, minute, second = (int(g) if g else None for g in m.group(4, 5, 6))
    fraction = m.group(7)
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None and not 1 <= day <= calendar.monthrange(year, month or 1)[1]:
        return None
    if (hour or 0) > 23 or (minute or 0) > 59 or (second or 0) > 59:
        return None
    low_month, high_month = (month, month) if month is not None else (1, 12)
    low_day = day if day is not None else 1
    high_day = day if day is not None else calendar.monthrange(year, high_month)[1]
    low = calendar.timegm((year, low_month, low_day, hour or 0, minute or 0, second or 0, 0, 0, 0))
    high = calendar.timegm((year, high_month, high_day,
                            23 if hour is None else hour, 59 if minute is None else minute,
                            59 if second is None else second, 0, 0, 0))
    if fraction:
        millis = int(fraction.ljust(9, "0")[:3])
        low_ms, high_ms = low * 1000 + millis, high * 1000 + millis
    else:
        low_ms, high_ms = low * 1000, high * 1000 + 999
    zone = m.group(8)
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = (int(digits[:2]) * 60 + (int(digits[2:]) if len(digits) > 2 else 0)) * 60000
        if zone[0] == "+":
            low_ms, high_ms = low_ms - offset, high_ms - offset
        else:
            low_ms, high_ms = low_ms + offset, high_ms + offset
    return low_ms, high_ms
