"""Evaluate parsed EQL (eqlparse) over ECS documents with Elasticsearch's semantics.

Elasticsearch translates an EQL condition into Query DSL (QueryTranslator / ExpressionTranslators),
so per document every condition is what the matching query does:
- ``==``, ``in``, ``like``, functions: case-sensitive; ``:``, ``in~``, ``like~``, ``fn~``:
  case-insensitive. ``==`` never expands wildcards; ``:`` and ``like`` do (``*``, ``?``).
- A positive condition on a multi-valued field holds when ANY value satisfies it (term, terms,
  wildcard, prefix and range queries all match per value).
- ``not X``, ``!=`` and ``not in`` are ``must_not`` of the positive query: they hold when NO value
  satisfies X, including when the field is missing. ``f == null`` is "no value" (not exists),
  ``f != null`` is "has a value" (exists).
- ``stringContains(f, s)`` and ``endsWith(f, s)`` become wildcard queries ``*s*`` / ``*s``,
  ``startsWith`` a prefix query, ``cidrMatch`` a terms query on an ip field.
- An optional field (``?f``) absent from the mapping is the constant null; a comparison or
  function with a null constant is null, ``not null`` is null, ``and``/``or`` are three-valued
  (Kleene), and a null condition matches nothing. A non-optional unmapped field is an error.
- ``X where`` is a term query for X on the category field (any element of an array); ``any where``
  has no category filter, so it also matches documents without a category.

Constructs whose Elasticsearch behaviour is not reproduced here raise EqlUnsupported (with the
position), so a rule the local evaluator cannot run faithfully fails lint instead of passing.

Sequences (ES "How sequence queries handle matches", SequenceMatcher, OrdinalGroup):
events are ordered by timestamp, then tiebreaker (missing tiebreakers last), then input order
(standing in for Elasticsearch's implicit ``_shard_doc`` tiebreaker). Each join-key value has its
own state machine with one pending sequence per stage: a new match of stage i takes the pending
sequence of stage i-1 (the latest one strictly before it; older ones are discarded) and replaces
whatever was pending in stage i. The taken sequence is dropped, not put back, when the event is
more than ``maxspan`` after the sequence's first event (exactly ``maxspan`` still matches) or when
an ``until`` event with the same key lies between the sequence's last event (inclusive) and this
event. Join keys are never null unless written ``?field``; a multi-valued key joins under each of
its values (cartesian product over several keys, Elasticsearch >= 8.5).
"""
from __future__ import annotations

import calendar
import datetime as _dt
import ipaddress
import itertools
import re
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from .eqlparse import (
    And, Arith, Call, Compare, EqlError, EqlUnknownField, EqlUnsupported,
    EqlVerificationError, EventFilter, Field, InSet, Literal, Match, Not, Or, Query, walk,
)

FieldTypeFn = Callable[[str], Optional[str]]

# Mapping types by what EQL can do with them (Elasticsearch field data types).
STRING_TYPES = frozenset({"keyword", "constant_keyword", "wildcard", "flattened"})
NUMERIC_TYPES = frozenset({"long", "integer", "short", "byte", "double", "float", "half_float",
                           "scaled_float", "unsigned_long"})
DATE_TYPES = frozenset({"date", "date_nanos"})
TEXT_TYPES = frozenset({"text", "match_only_text"})
OBJECT_TYPES = frozenset({"object", "nested"})

# Every function Elasticsearch's EQL registry knows (names are case-insensitive there).
_ES_FUNCTIONS = frozenset({
    "between", "cidrmatch", "concat", "endswith", "indexof", "length", "startswith", "string",
    "stringcontains", "substring", "add", "divide", "modulo", "multiply", "number", "subtract",
})
_CASE_AWARE = frozenset({"between", "endswith", "indexof", "startswith", "stringcontains"})
_SUPPORTED_FUNCTIONS = frozenset({"stringcontains", "startswith", "endswith", "cidrmatch", "length"})
_REJECTED_PIPES = frozenset({"count", "filter", "sort", "unique", "unique_count"})

_MISSING = object()


class EqlDataError(EqlError):
    """A document the evaluator cannot place in time (no or bad timestamp)."""


# --------------------------------------------------------------------------------------------
# Field access and value coercion
# --------------------------------------------------------------------------------------------

def make_getter(name: str) -> Callable[[dict], list]:
    """Return doc -> list of leaf values for a dotted field name, like the ``fields`` API.

    Walks nested objects, descends into arrays of objects, also resolves dotted keys stored
    literally at any level ({"a.b": 1} or {"a": {"b.c": 1}}), flattens arrays, drops nulls.
    """
    parts = tuple(name.split("."))
    n = len(parts)
    # alternative dotted keys starting at each level: (next level, "p_i.p_i+1...")
    alts = tuple(tuple((j, ".".join(parts[i:j])) for j in range(i + 2, n + 1)) for i in range(n))

    def collect(node, i, out):
        while True:
            if i == n:
                _emit(node, out)
                return
            if isinstance(node, dict):
                for j, key in alts[i]:
                    sub = node.get(key, _MISSING)
                    if sub is not _MISSING:
                        collect(sub, j, out)
                node = node.get(parts[i], _MISSING)
                if node is _MISSING:
                    return
                i += 1
            elif isinstance(node, list):
                for el in node:
                    collect(el, i, out)
                return
            else:
                return

    def get(doc):
        out: list = []
        collect(doc, 0, out)
        return out

    return get


def _emit(node, out):
    if node is None or isinstance(node, dict):
        return              # null is no value; an object is not a leaf value
    if isinstance(node, list):
        for el in node:
            _emit(el, out)
        return
    out.append(node)


def as_keyword(v) -> Optional[str]:
    """The string a keyword field indexes for a _source value (None: not a scalar)."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int or t is float:
        return str(v)
    return None


def as_number(v):
    t = type(v)
    if t is int or t is float:
        return v
    if t is str:
        try:
            return int(v)
        except ValueError:
            try:
                return float(v)
            except ValueError:
                return None
    return None


def as_bool(v):
    if type(v) is bool:
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    return None


def _normalizer_for(literal):
    if isinstance(literal, bool):
        return as_bool
    if isinstance(literal, (int, float)):
        return as_number
    return as_keyword


def wildcard_regex(pattern: str, insensitive: bool):
    """``*`` = any run of characters, ``?`` = exactly one; everything else literal."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    flags = re.DOTALL | (re.IGNORECASE if insensitive else 0)
    return re.compile("".join(out), flags)


# --------------------------------------------------------------------------------------------
# Compiled forms
# --------------------------------------------------------------------------------------------

class _P:
    """A compiled condition: a constant (True/False/None) or fn(doc) -> True/False(/None)."""
    __slots__ = ("const", "fn", "nullable")

    def __init__(self, const=_MISSING, fn=None, nullable=False):
        self.const, self.fn, self.nullable = const, fn, nullable

    @property
    def is_const(self):
        return self.const is not _MISSING


class _V:
    """A compiled value: a constant, or fn(doc) -> list of values (one per array element)."""
    __slots__ = ("const", "fn", "ftype", "name", "script", "kind")

    def __init__(self, const=_MISSING, fn=None, ftype=None, name=None, script=False, kind="const"):
        self.const, self.fn, self.ftype, self.name = const, fn, ftype, name
        self.script, self.kind = script, kind

    @property
    def is_const(self):
        return self.const is not _MISSING


_TRUE, _FALSE, _NULL = _P(True), _P(False), _P(None)


def _const(v) -> _P:
    return _TRUE if v is True else _FALSE if v is False else _NULL


def _not(p: _P) -> _P:
    if p.is_const:
        return _NULL if p.const is None else _const(not p.const)
    f = p.fn
    if p.nullable:
        return _P(fn=lambda d: None if (r := f(d)) is None else not r, nullable=True)
    return _P(fn=lambda d: not f(d))


def _and(a: _P, b: _P) -> _P:
    for x, y in ((a, b), (b, a)):
        if x.is_const:
            if x.const is False:
                return _FALSE
            if x.const is True:
                return y
    if a.is_const and b.is_const:        # both null
        return _NULL
    if a.is_const or b.is_const:         # null and X: false when X is false, else null
        other = b if a.is_const else a
        g = other.fn
        return _P(fn=lambda d: False if g(d) is False else None, nullable=True)
    fa, fb = a.fn, b.fn
    if a.nullable or b.nullable:
        def kleene_and(d):
            ra = fa(d)
            if ra is False:
                return False
            rb = fb(d)
            if rb is False:
                return False
            return None if ra is None or rb is None else True
        return _P(fn=kleene_and, nullable=True)
    return _P(fn=lambda d: fa(d) and fb(d))


def _or(a: _P, b: _P) -> _P:
    for x, y in ((a, b), (b, a)):
        if x.is_const:
            if x.const is True:
                return _TRUE
            if x.const is False:
                return y
    if a.is_const and b.is_const:
        return _NULL
    if a.is_const or b.is_const:         # null or X: true when X is true, else null
        other = b if a.is_const else a
        g = other.fn
        return _P(fn=lambda d: True if g(d) is True else None, nullable=True)
    fa, fb = a.fn, b.fn
    if a.nullable or b.nullable:
        def kleene_or(d):
            ra = fa(d)
            if ra is True:
                return True
            rb = fb(d)
            if rb is True:
                return True
            return None if ra is None or rb is None else False
        return _P(fn=kleene_or, nullable=True)
    return _P(fn=lambda d: fa(d) or fb(d))


def _any_value(get, test) -> Callable[[dict], bool]:
    def fn(doc):
        for v in get(doc):
            if test(v):
                return True
        return False
    return fn


# --------------------------------------------------------------------------------------------
# Compiler
# --------------------------------------------------------------------------------------------

class _Compiler:
    def __init__(self, query: Query, field_type: Optional[FieldTypeFn], category_field: str,
                 constant_value: Optional[Callable[[str], Optional[str]]] = None):
        self.q = query
        self.text = query.text
        self.field_type = field_type
        self.constant_value = constant_value
        self.category_field = category_field
        self._getters: Dict[str, Callable] = {}

    # -- errors ------------------------------------------------------------------------------
    def unsupported(self, msg, node):
        raise EqlUnsupported(msg, self.text, getattr(node, "pos", None))

    def invalid(self, msg, node):
        raise EqlVerificationError(msg, self.text, getattr(node, "pos", None))

    def src(self, node) -> str:
        return _source_text(self.text, node)

    # -- fields ------------------------------------------------------------------------------
    def getter(self, name):
        g = self._getters.get(name)
        if g is None:
            cv = None
            if self.constant_value is not None and self.field_type is not None \
                    and self.field_type(name) == "constant_keyword":
                cv = self.constant_value(name)
            if cv is not None:
                # a constant_keyword holds its mapped value in every document of the index,
                # whether or not _source carries it
                g = (lambda value: lambda d: [value])(cv)
            else:
                g = make_getter(name)
            self._getters[name] = g
        return g

    def mapped_type(self, f: Field):
        """The field's mapping type; raises for unmapped non-optional fields.

        Returns _MISSING for an unmapped optional field (it becomes the null constant) and
        None when no mapping was supplied.
        """
        if self.field_type is None:
            return None
        t = self.field_type(f.name)
        if t is None:
            if f.optional:
                return _MISSING
            raise EqlUnknownField(
                f"Unknown column [{f.name}] (not in the mapping; write ?{f.name} if it may be "
                "absent)", self.text, f.pos, field=f.name)
        t = str(t)
        if t in OBJECT_TYPES:
            self.invalid(f"[{f.name}] is an {t} field, not a value", f)
        if t in TEXT_TYPES:
            self.invalid(f"[{f.name}] is a [{t}] field; EQL does not support text fields", f)
        return t

    # -- values ------------------------------------------------------------------------------
    def value(self, e) -> _V:
        if isinstance(e, Literal):
            return _V(const=e.value)
        if isinstance(e, Field):
            t = self.mapped_type(e)
            if t is _MISSING:
                return _V(const=None)
            return _V(fn=self.getter(e.name), ftype=t, name=e.name, kind="field")
        if isinstance(e, Call):
            return self.call_value(e)
        if isinstance(e, Arith):
            self.unsupported("arithmetic is not supported by the local EQL evaluator", e)
        if isinstance(e, (Not, And, Or, Compare, InSet, Match)):
            self.unsupported(f"a condition used as a value: [{self.src(e)}]", e)
        self.unsupported(f"unsupported expression [{self.src(e)}]", e)

    def function_name(self, e: Call) -> str:
        name = e.name.lower()
        if name == "wildcard":
            self.invalid("Unknown function [wildcard]: removed in Elasticsearch 8.0, use "
                         "like / like~ (or : for case-insensitive wildcards)", e)
        if name not in _ES_FUNCTIONS:
            self.invalid(f"Unknown function [{e.name}]", e)
        if e.insensitive and name not in _CASE_AWARE:
            self.invalid(f"Function [{e.name}] does not support case-insensitive matching (~)", e)
        if name not in _SUPPORTED_FUNCTIONS:
            self.unsupported(f"function [{e.name}] is not supported by the local EQL evaluator", e)
        return name

    def call_value(self, e: Call) -> _V:
        name = self.function_name(e)
        if name != "length":
            self.unsupported(f"[{e.name}(...)] returns a boolean; it cannot be used as a value", e)
        if len(e.args) != 1:
            self.invalid("error building [length]: expects exactly one argument", e)
        arg = self.value(e.args[0])
        self.require_string(arg, e.args[0], "length")
        if arg.is_const:
            return _V(const=None if arg.const is None else len(arg.const))
        g = arg.fn
        return _V(fn=lambda d: [len(v) for v in map(as_keyword, g(d)) if v is not None],
                  ftype="integer", name=arg.name, script=True, kind="script")

    def require_string(self, v: _V, node, what):
        if v.is_const:
            if v.const is not None and not isinstance(v.const, str):
                self.invalid(f"argument of [{what}] must be [string], found value "
                             f"[{self.src(node)}]", node)
            return
        if v.kind == "script":
            self.invalid(f"argument of [{what}] must be [string], found [{self.src(node)}] "
                         "of type [integer]", node)
        if v.ftype is not None and v.ftype not in STRING_TYPES:
            self.invalid(f"argument of [{what}] must be [string], found value "
                         f"[{self.src(node)}] type [{v.ftype}]", node)

    def string_constant(self, e, what) -> Optional[str]:
        """A constant string argument (None for a null constant)."""
        v = self.value(e)
        if not v.is_const:
            self.unsupported(f"[{what}] with a field as pattern, substring or CIDR block is not "
                             "supported by the local EQL evaluator", e)
        if v.const is not None and not isinstance(v.const, str):
            self.invalid(f"argument of [{what}] must be [string], found value [{self.src(e)}]", e)
        return v.const

    # -- conditions --------------------------------------------------------------------------
    def cond(self, e) -> _P:
        if isinstance(e, Literal):
            if isinstance(e.value, bool) or e.value is None:
                return _const(e.value)
            self.invalid(f"Condition expression needs to be boolean, found [{self.src(e)}]", e)
        if isinstance(e, Not):
            inner = self.cond(e.expr)
            if any(isinstance(n, Call) and n.name.lower() == "length" for n in walk(e.expr)):
                self.unsupported("negating a condition on length(...): Elasticsearch evaluates "
                                 "it as a multi-value script whose null handling is not "
                                 "reproduced", e)
            return _not(inner)
        if isinstance(e, And):
            return _and(self.cond(e.left), self.cond(e.right))
        if isinstance(e, Or):
            return _or(self.cond(e.left), self.cond(e.right))
        if isinstance(e, Compare):
            return self.compare(e)
        if isinstance(e, InSet):
            return self.in_set(e)
        if isinstance(e, Match):
            return self.match(e)
        if isinstance(e, Call):
            return self.call_cond(e)
        if isinstance(e, Field):
            self.unsupported(f"a bare field as a condition; write [{self.src(e)} == true]", e)
        if isinstance(e, Arith):
            self.unsupported("arithmetic is not supported by the local EQL evaluator", e)
        self.unsupported(f"unsupported condition [{self.src(e)}]", e)

    def compare(self, e: Compare) -> _P:
        op, left, right = e.op, e.left, e.right
        lv, rv = self.value(left), self.value(right)
        if lv.is_const and not rv.is_const:
            # Elasticsearch moves the literal to the right (and mirrors the operator)
            lv, rv, left, right = rv, lv, right, left
            op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
        if not rv.is_const:
            self.invalid("Comparisons against fields are not (currently) supported; offender "
                         f"[{self.src(right)}] in [{op}]", right)
        c = rv.const
        if c is None:
            # ``x == null`` is "x has no value", ``x != null`` "x has a value"
            if op in ("==", "!="):
                want_null = op == "=="
                if lv.is_const:
                    return _const((lv.const is None) == want_null)
                g = lv.fn
                if want_null:
                    return _P(fn=lambda d: not g(d))
                return _P(fn=lambda d: bool(g(d)))
            return _NULL
        if lv.is_const:
            if lv.const is None:
                return _NULL
            return _const(_compare_values(op, lv.const, c))
        self.check_comparable(lv, left, c, right, op)
        if lv.script and op == "!=":
            self.unsupported("!= on length(...): Elasticsearch evaluates it as a multi-value "
                             "script whose semantics are not reproduced", e)
        norm = _normalizer_for(c)
        g = lv.fn
        if op in ("==", "!="):
            if norm is as_keyword:
                def eq(v, c=c):
                    return v == c if type(v) is str else as_keyword(v) == c
            else:
                def eq(v, c=c, norm=norm):
                    x = norm(v)
                    return x is not None and x == c
            pos = _any_value(g, eq)
            if op == "==":
                return _P(fn=pos)
            return _P(fn=lambda d: not pos(d))
        cmp = _RANGE_OPS[op]

        def rng(v, c=c, norm=norm, cmp=cmp):
            x = norm(v)
            return x is not None and cmp(x, c)
        return _P(fn=_any_value(g, rng))

    def check_comparable(self, lv: _V, left, c, right, op):
        if isinstance(c, bool) and op not in ("==", "!=", "in"):
            self.unsupported(f"ordering comparison with a boolean [{self.src(right)}]", right)
        t = lv.ftype
        if t is None:
            return
        if t in DATE_TYPES:
            self.unsupported(f"comparisons on date field [{lv.name}] are not supported by the "
                             "local EQL evaluator", left)
        if t == "ip":
            self.unsupported(f"comparisons on ip field [{lv.name}] are not supported by the "
                             "local EQL evaluator; use cidrMatch()", left)
        if t in STRING_TYPES:
            ok = isinstance(c, str)
        elif t in NUMERIC_TYPES:
            ok = isinstance(c, (int, float)) and not isinstance(c, bool)
        elif t == "boolean":
            ok = isinstance(c, bool)
        else:
            self.unsupported(f"field [{lv.name}] has mapping type [{t}], which the local EQL "
                             "evaluator does not support", left)
        if not ok:
            self.invalid(f"first argument of [{self.src(left)} {op} {self.src(right)}] is "
                         f"[{t}] so second argument must also be [{t}] but was "
                         f"[{_literal_type(c)}]", right)

    def in_set(self, e: InSet) -> _P:
        lv = self.value(e.expr)
        consts = []
        for item in e.values:
            iv = self.value(item)
            if not iv.is_const:
                self.invalid("Comparisons against fields are not (currently) supported; offender "
                             f"[{self.src(item)}] in [in]", item)
            if iv.const is None:
                self.unsupported("null inside an in (...) list is not supported by the local "
                                 "EQL evaluator", item)
            if e.insensitive and not isinstance(iv.const, str):
                self.invalid(f"[in~] only compares strings, found [{self.src(item)}]", item)
            if not lv.is_const:
                self.check_comparable(lv, e.expr, iv.const, item, "in")
            consts.append(iv.const)
        if lv.is_const:
            if lv.const is None:
                return _NULL
            hit = any(_compare_values("==", lv.const, c, e.insensitive) for c in consts)
            return _const(hit != e.negated)
        if lv.script and e.negated:
            self.unsupported("not in on length(...) is not supported by the local EQL evaluator",
                             e)
        g = lv.fn
        if e.insensitive:
            wanted = frozenset(c.lower() for c in consts)

            def test(v):
                s = as_keyword(v)
                return s is not None and s.lower() in wanted
        else:
            by_norm: Dict[Callable, set] = {}
            for c in consts:
                by_norm.setdefault(_normalizer_for(c), set()).add(c)
            groups = tuple((n, frozenset(s)) for n, s in by_norm.items())

            def test(v):
                for norm, values in groups:
                    x = norm(v)
                    if x is not None and x in values:
                        return True
                return False
        pos = _any_value(g, test)
        if e.negated:
            return _P(fn=lambda d: not pos(d))
        return _P(fn=pos)

    def match(self, e: Match) -> _P:
        if e.op.startswith("regex"):
            self.unsupported(f"[{e.op}] is not supported by the local EQL evaluator (Lucene "
                             "regular expressions differ from Python's)", e)
        insensitive = e.op in (":", "like~")
        lv = self.value(e.expr)
        self.require_string(lv, e.expr, e.op)
        patterns = []
        for p in e.patterns:
            if p.value is None:
                self.unsupported(f"[{e.op} null] is not supported by the local EQL evaluator", p)
            if not isinstance(p.value, str):
                self.invalid(f"[{e.op}] can only be used to compare strings, found "
                             f"[{self.src(p)}]", p)
            if "\\" in p.value:
                self.unsupported("a backslash in a wildcard pattern: its escaping in "
                                 "Elasticsearch is not reproduced", p)
            patterns.append(wildcard_regex(p.value, insensitive))
        if lv.is_const:
            if lv.const is None:
                return _NULL
            return _const(any(r.fullmatch(lv.const) for r in patterns))
        g = lv.fn

        def test(v):
            s = v if type(v) is str else as_keyword(v)
            if s is None:
                return False
            for r in patterns:
                if r.fullmatch(s):
                    return True
            return False
        return _P(fn=_any_value(g, test))

    def call_cond(self, e: Call) -> _P:
        name = self.function_name(e)
        if name == "length":
            self.invalid("Condition expression needs to be boolean, found [length(...)]", e)
        if name == "cidrmatch":
            return self.cidr_match(e)
        if len(e.args) != 2:
            self.invalid(f"error building [{name}]: expects exactly two arguments", e)
        src = self.value(e.args[0])
        self.require_string(src, e.args[0], e.name)
        sub = self.string_constant(e.args[1], e.name)
        if sub is None:
            return _NULL
        if name in ("stringcontains", "endswith") and any(ch in sub for ch in "*?\\"):
            # Elasticsearch builds a wildcard query from the raw substring, so these characters
            # act as wildcards/escapes there; whether that is so differs by version.
            self.unsupported(f"[{e.name}] with *, ? or \\ in the substring is not supported by "
                             "the local EQL evaluator", e.args[1])
        if name == "stringcontains" and sub == "":
            self.unsupported("stringContains with an empty substring: Elasticsearch's "
                             "documentation and query translation disagree", e.args[1])
        ci = e.insensitive
        needle = sub.lower() if ci else sub
        if name == "stringcontains":
            def test_s(s):
                return needle in s
        elif name == "startswith":
            def test_s(s):
                return s.startswith(needle)
        else:
            def test_s(s):
                return s.endswith(needle)
        if src.is_const:
            if src.const is None:
                return _NULL
            return _const(test_s(src.const.lower() if ci else src.const))
        g = src.fn

        def test(v):
            s = v if type(v) is str else as_keyword(v)
            if s is None:
                return False
            return test_s(s.lower() if ci else s)
        return _P(fn=_any_value(g, test))

    def cidr_match(self, e: Call) -> _P:
        if len(e.args) < 2:
            self.invalid("error building [cidrMatch]: expects at least two arguments", e)
        ip = self.value(e.args[0])
        if not ip.is_const and ip.ftype is not None and ip.ftype != "ip":
            self.invalid(f"first argument of [{self.src(e)}] must be [ip], found value "
                         f"[{self.src(e.args[0])}] type [{ip.ftype}]", e.args[0])
        nets = []
        for a in e.args[1:]:
            block = self.string_constant(a, "cidrMatch")
            if block is None:
                return _NULL
            try:
                nets.append(ipaddress.ip_network(block, strict=False))
            except ValueError:
                self.invalid(f"[{block}] is not a valid CIDR block", a)
        if ip.is_const:
            if ip.const is None:
                return _NULL
            addr = _parse_ip(ip.const)
            return _const(addr is not None and any(addr in n for n in nets))
        g = ip.fn

        def test(v):
            addr = _parse_ip(v)
            if addr is None:
                return False
            for net in nets:
                if addr.version == net.version and addr in net:
                    return True
            return False
        return _P(fn=_any_value(g, test))

    # -- queries -----------------------------------------------------------------------------
    def event_filter(self, ev: EventFilter) -> _P:
        if ev.category is None:
            return self.cond(ev.condition)
        if self.field_type is not None and self.field_type(self.category_field) is None:
            raise EqlUnknownField(
                f"Unknown column [{self.category_field}] (the event category field) for "
                f"category [{ev.category}]", self.text, ev.category_pos, field=self.category_field)
        cond = self.cond(ev.condition)
        g, cat = self.getter(self.category_field), ev.category

        def is_cat(v):
            return v == cat if type(v) is str else as_keyword(v) == cat
        return _and(_P(fn=_any_value(g, is_cat)), cond)

    def join_keys(self, keys) -> List[Tuple[Optional[Callable], bool]]:
        """[(getter or None for the null constant, optional)] for each key expression."""
        out = []
        for k in keys:
            if not isinstance(k, Field):
                self.invalid(f"join keys must be fields, found [{self.src(k)}]", k)
            t = self.mapped_type(k)
            if t is _MISSING:
                out.append((None, True))
                continue
            g = self.getter(k.name)
            norm = as_keyword if t in STRING_TYPES else as_number if t in NUMERIC_TYPES else None
            out.append((_normalized(g, norm) if norm else g, k.optional))
        return out

    def pipes(self) -> List[Tuple[str, int]]:
        out = []
        for p in self.q.pipes:
            if p.name not in ("head", "tail"):
                why = ("Elasticsearch rejects it too" if p.name in _REJECTED_PIPES
                       else "Elasticsearch does not know it")
                self.unsupported(f"Pipe [{p.name}] is not supported ({why}); only head and "
                                 "tail are", p)
            if len(p.args) != 1:
                self.invalid(f"Pipe [{p.name}] expects exactly one argument but found "
                             f"[{len(p.args)}]", p)
            a = p.args[0]
            if not (isinstance(a, Literal) and type(a.value) is int and a.value >= 0):
                self.invalid(f"Pipe [{p.name}] expects a positive integer but found "
                             f"[{self.src(a)}]", a)
            out.append((p.name, a.value))
        return out


def _normalized(g, norm):
    def get(doc):
        return [x for x in map(norm, g(doc)) if x is not None]
    return get


def _parse_ip(v):
    if not isinstance(v, str):
        return None
    try:
        a = ipaddress.ip_address(v)
    except ValueError:
        return None
    if a.version == 6 and a.ipv4_mapped is not None:
        return a.ipv4_mapped        # Elasticsearch stores IPv4 as IPv4-mapped IPv6
    return a


_RANGE_OPS = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _compare_values(op, a, b, insensitive=False):
    """Fold a comparison between two constants."""
    if insensitive and isinstance(a, str) and isinstance(b, str):
        a, b = a.lower(), b.lower()
    if op == "==":
        return type(a) is type(b) and a == b or (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool) and a == b)
    if op == "!=":
        return not _compare_values("==", a, b)
    try:
        return _RANGE_OPS[op](a, b)
    except TypeError:
        return False


def _literal_type(c):
    if isinstance(c, bool):
        return "boolean"
    if isinstance(c, int):
        return "integer"
    if isinstance(c, float):
        return "double"
    return "keyword"


def _source_text(text: str, node) -> str:
    """Best-effort text of a node for messages."""
    if isinstance(node, Literal):
        v = node.value
        return "null" if v is None else ("true" if v is True else "false" if v is False
                                         else f'"{v}"' if isinstance(v, str) else str(v))
    if isinstance(node, Field):
        return ("?" if node.optional else "") + node.name
    if isinstance(node, Call):
        return f"{node.name}{'~' if node.insensitive else ''}(...)"
    return text[node.pos:node.pos + 40].split("\n")[0] if hasattr(node, "pos") else str(node)


# --------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2})(?::?(\d{2})(?::?(\d{2})(?:[.,](\d{1,9}))?)?)?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?")


def timestamp_ns(v) -> Optional[int]:
    """Epoch nanoseconds of a date value as Elasticsearch's default date format reads it
    (strict_date_optional_time or epoch_millis). None if unparseable."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return int(round(v * 1_000_000))
    if not isinstance(v, str):
        return None
    s = v.strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return int(round(float(s) * 1_000_000))
    m = _ISO.fullmatch(s)
    if not m:
        return None
    y, mo, d, h, mi, sec, frac, tz = m.groups()
    try:
        base = calendar.timegm(_dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0),
                                            int(sec or 0)).timetuple())
    except ValueError:
        return None
    ns = base * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + (int(digits[2:4]) * 60 if len(digits) > 2 else 0)
        ns -= sign * offset * 1_000_000_000
    return ns


def _tiebreak_key(values):
    if not values:
        return (1, 0, 0)                    # missing tiebreakers sort last
    v = values[0]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return (0, 0, v)
    return (0, 1, as_keyword(v) or "")


# --------------------------------------------------------------------------------------------
# Compiled query
# --------------------------------------------------------------------------------------------

class _StageSpec:
    __slots__ = ("pred", "keys", "source")

    def __init__(self, pred: _P, keys, source: int):
        self.pred, self.keys, self.source = pred, keys, source


class CompiledEql:
    """An EQL query compiled for local evaluation. Build with ``compile_query``."""

    def __init__(self, query: Query, field_type: Optional[FieldTypeFn] = None,
                 category_field: str = "event.category",
                 constant_value: Optional[Callable[[str], Optional[str]]] = None):
        self.query = query
        self.text = query.text
        self.category_field = category_field
        c = _Compiler(query, field_type, category_field, constant_value)
        if query.kind in ("sample", "join"):
            c.unsupported(f"[{query.kind}] queries are not supported by the local EQL evaluator",
                          query)
        self.is_sequence = query.kind == "sequence"
        self.maxspan_ms = query.maxspan_ms
        self._stages: List[_StageSpec] = []
        self._until: Optional[_StageSpec] = None
        self._pred: Optional[_P] = None
        if self.is_sequence:
            seq_keys = query.keys
            for i, st in enumerate(query.stages):
                if st.missing:
                    c.unsupported("missing-event stages (![...]) are not supported by the local "
                                  "EQL evaluator", st)
                spec = _StageSpec(c.event_filter(st.filter), c.join_keys(seq_keys + st.keys), i)
                self._stages.extend([spec] * st.runs)
            if query.until is not None:
                u = query.until
                if u.missing or u.runs != 1:
                    c.unsupported("![...] or with runs on an until term is not supported", u)
                self._until = _StageSpec(c.event_filter(u.filter), c.join_keys(seq_keys + u.keys),
                                         -1)
        else:
            self._pred = c.event_filter(query.event)
        self._pipes = c.pipes()
        self._match = _top_level(self._pred) if self._pred is not None else None
        self._tests = None          # sequence stage tests by predicate, built on first use
        self._until_test = None
        self._kept = {}             # run(cache=True): id(doc) -> (doc, ts, tiebreak, facts)
        self._kept_fields = None

    def stage_matchers(self) -> List[Callable[[dict], bool]]:
        """One single-document test per sequence stage, in order (each stage's condition alone)."""
        out: List[Callable[[dict], bool]] = []
        for spec in self._stages:
            if spec.source == len(out):
                out.append(_top_level(spec.pred))
        return out

    def until_matchers(self) -> List[Callable[[dict], bool]]:
        """The until term's test, when the sequence has one (as a list, empty without)."""
        return [_top_level(self._until.pred)] if self._until is not None else []

    # -- single events -----------------------------------------------------------------------
    def match(self, doc: dict) -> bool:
        """Does ``doc`` match this single-event query?"""
        if self._match is None:
            raise EqlError("match() is for single-event queries; use run() for a sequence",
                           self.text, 0)
        return self._match(doc)

    # -- runs --------------------------------------------------------------------------------
    def run(self, docs: Iterable[dict], timestamp_field: str = "@timestamp",
            tiebreaker_field: Optional[str] = None, cache: bool = False) -> List[List[dict]]:
        """Matches over ``docs`` in Elasticsearch order: one-element lists of matching documents
        for an event query, or the matched sequences (documents in stage order), after pipes.

        ``cache=True``: the caller promises that a document is never changed once passed (indexed
        documents are immutable), so what is read from it (timestamp, tiebreaker, which stages it
        matches, its join keys) is kept for the next run, which usually sees it again (a rule's
        look-back spans several runs). Only the last run's documents are kept."""
        ordered = self._order(docs, timestamp_field, tiebreaker_field, cache)
        if self.is_sequence:
            results = self._sequences(ordered)
        else:
            m = self._match
            results = [[doc] for _, doc, _ in ordered if m(doc)]
        for name, n in self._pipes:
            results = results[:n] if name == "head" else (results[-n:] if n else [])
        return results

    def _order(self, docs, timestamp_field, tiebreaker_field, cache=False):
        ts_get = make_getter(timestamp_field)
        tb_get = make_getter(tiebreaker_field) if tiebreaker_field else None
        fields = (timestamp_field, tiebreaker_field)
        kept = self._kept if cache and self._kept_fields == fields else {}
        fresh = {}
        keyed = []
        for idx, doc in enumerate(docs):
            entry = kept.get(id(doc))
            if entry is None or entry[0] is not doc:
                raw = ts_get(doc)
                if not raw:
                    raise EqlDataError(f"document #{idx} has no [{timestamp_field}]")
                stamps = [timestamp_ns(v) for v in raw]
                if any(s is None for s in stamps):
                    raise EqlDataError(f"document #{idx} has an unparseable [{timestamp_field}]: "
                                       f"{raw!r}")
                ts = min(stamps)
                tb = _tiebreak_key(tb_get(doc)) if tb_get else (1, 0, 0)
                entry = (doc, ts, tb, self._facts(doc) if self.is_sequence else None)
            if cache:
                fresh[id(doc)] = entry  # holding the document keeps its id from being reused
            keyed.append((entry[1], entry[2], idx, entry))
        if cache:
            self._kept, self._kept_fields = fresh, fields
        keyed.sort(key=lambda r: (r[0], r[1], r[2]))
        return [(ts, entry[0], entry[3]) for ts, _, _, entry in keyed]

    def _facts(self, doc):
        """What the sequence search reads from one document: per stage its join keys (None when the
        stage's condition does not hold), and the until condition's keys (None likewise)."""
        tests = self._tests
        if tests is None:
            tests = self._tests = {}
            for s in self._stages:
                tests.setdefault(id(s.pred), _top_level(s.pred))
            self._until_test = _top_level(self._until.pred) if self._until is not None else None
        hits = {pid: t(doc) for pid, t in tests.items()}
        keys = tuple(tuple(_keys_of(doc, spec.keys)) if hits[id(spec.pred)] else None for spec in self._stages)
        until = None
        if self._until_test is not None and self._until_test(doc):
            until = tuple(_keys_of(doc, self._until.keys))
        return keys, until

    def _sequences(self, ordered) -> List[List[dict]]:
        stages = self._stages
        last = len(stages) - 1
        maxspan_ns = self.maxspan_ms * 1_000_000 if self.maxspan_ms else None
        # pending[i][key] = (docs, first_ts, first_pos, last_pos): the one in-flight sequence
        # that has completed stage i for that key (a newer one replaces it)
        pending: List[Dict[tuple, tuple]] = [dict() for _ in range(last)]
        until_seen: Dict[tuple, int] = {}      # key -> position of the latest until event
        completed: List[Tuple[int, int, List[dict]]] = []
        for pos, (ts, doc, facts) in enumerate(ordered):
            stage_keys, until_keys = facts
            # later stages first, so an event never extends a sequence it has just joined
            for i in range(last, -1, -1):
                keys = stage_keys[i]
                if keys is None:
                    continue
                for key in keys:
                    if i == 0:
                        if last == 0:
                            completed.append((pos, len(completed), [doc]))
                        else:
                            pending[0][key] = ([doc], ts, pos, pos)
                        continue
                    seq = pending[i - 1].pop(key, None)
                    if seq is None:
                        continue
                    seq_docs, first_ts, first_pos, last_pos = seq
                    if maxspan_ns is not None and ts - first_ts > maxspan_ns:
                        continue
                    u = until_seen.get(key)
                    if u is not None and u >= last_pos:
                        continue
                    new_docs = seq_docs + [doc]
                    if i == last:
                        completed.append((first_pos, len(completed), new_docs))
                    else:
                        pending[i][key] = (new_docs, first_ts, first_pos, pos)
            if until_keys is not None:
                for key in until_keys:
                    until_seen[key] = pos
        # Elasticsearch returns sequences ordered by their first event
        completed.sort(key=lambda r: (r[0], r[1]))
        return [docs for _, _, docs in completed]


def _keys_of(doc, keys) -> Iterable[tuple]:
    """Join-key tuples for a document: none if a mandatory key is missing, several if a key is
    multi-valued (one per combination)."""
    if not keys:
        return ((),)
    per_key = []
    for get, optional in keys:
        if get is None:
            per_key.append((None,))
            continue
        vals = []
        for v in get(doc):
            try:
                hash(v)
            except TypeError:
                continue
            if v not in vals:
                vals.append(v)
        if not vals:
            if not optional:
                return ()
            vals = [None]
        per_key.append(vals)
    if all(len(v) == 1 for v in per_key):
        return (tuple(v[0] for v in per_key),)
    return itertools.product(*per_key)


def _top_level(p: _P) -> Callable[[dict], bool]:
    """A condition as a filter: only True matches (null and false do not)."""
    if p.is_const:
        v = p.const is True
        return lambda d: v
    if p.nullable:
        f = p.fn
        return lambda d: f(d) is True
    return p.fn


def compile_query(query: Query, field_type: Optional[FieldTypeFn] = None,
                  category_field: str = "event.category",
                  constant_value: Optional[Callable[[str], Optional[str]]] = None) -> CompiledEql:
    return CompiledEql(query, field_type, category_field, constant_value)
