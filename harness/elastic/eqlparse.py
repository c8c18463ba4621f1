"""EQL lexer and parser following Elasticsearch's grammar (x-pack EqlBase.g4), not Endgame's.

The parser accepts the whole Elasticsearch surface syntax (sequences, samples, joins, missing
events, regex, arithmetic, any pipe name) and builds a small AST; deciding what the local
evaluator can run faithfully is eqleval's job, so ``parse`` raises only ``EqlSyntaxError``
(for text Elasticsearch itself rejects while parsing).

Facts encoded here (Elasticsearch EQL syntax reference, EqlBase.g4, LogicalPlanBuilder):
- keywords are lower case only (``and``, ``where``, ``sequence`` ...); function names are not
  case-sensitive (the registry lower-cases them); a ``~`` glued to a function name, ``in``,
  ``like`` or ``regex`` makes it case-insensitive;
- ``not`` binds tighter than ``and``, which binds tighter than ``or``; comparisons do not chain;
- strings are double-quoted with \\b \\t \\n \\f \\r \\" \\' \\\\ and \\u{XX..} escapes, or raw
  ``\"\"\"...\"\"\"``; single quotes and ``?"..."`` are errors; ``=`` is not an operator;
- ``?field`` marks an optional field; backticks escape a field name (``\\`\\``` is one backtick);
- ``sequence [by keys] [with maxspan=N<unit>]``: ``by`` must come before ``with``; units are
  ms, s, m, h, d; the value is a positive integer.
"""
from __future__ import annotations

from dataclasses import dataclass, field as dc_field, fields as dc_fields
from typing import List, Optional, Tuple, Union


# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

class EqlError(ValueError):
    """Base class: a message plus where in the query text the problem is."""

    def __init__(self, message: str, text: str = "", position: Optional[int] = None):
        self.reason = message
        self.text = text
        self.position = position
        self.line, self.column = _line_col(text, position)
        where = f"line {self.line}:{self.column}: " if position is not None else ""
        super().__init__(where + message)


class EqlSyntaxError(EqlError):
    """The text is not EQL that Elasticsearch parses."""


class EqlUnsupported(EqlError):
    """Valid Elasticsearch EQL that the local evaluator cannot run faithfully."""


class EqlVerificationError(EqlError):
    """Elasticsearch parses the query but rejects it (types, unknown function, field vs field)."""


class EqlUnknownField(EqlVerificationError):
    """A field that is not in the mapping, used without the ``?`` optional marker."""

    def __init__(self, message: str, text: str = "", position: Optional[int] = None,
                 field: str = ""):
        self.field = field
        super().__init__(message, text, position)


def _line_col(text: str, position: Optional[int]) -> Tuple[int, int]:
    if position is None:
        return 0, 0
    line = text.count("\n", 0, position) + 1
    start = text.rfind("\n", 0, position) + 1
    return line, position - start + 1


# --------------------------------------------------------------------------------------------
# AST
# --------------------------------------------------------------------------------------------

@dataclass
class Node:
    pos: int


@dataclass
class Literal(Node):
    value: Union[str, int, float, bool, None]


@dataclass
class Field(Node):
    name: str
    optional: bool = False


@dataclass
class Not(Node):
    expr: "Expr"


@dataclass
class And(Node):
    left: "Expr"
    right: "Expr"


@dataclass
class Or(Node):
    left: "Expr"
    right: "Expr"


@dataclass
class Compare(Node):
    op: str                     # == != < <= > >=
    left: "Expr"
    right: "Expr"


@dataclass
class InSet(Node):
    expr: "Expr"
    values: List["Expr"]
    insensitive: bool           # in~
    negated: bool               # not in / not in~


@dataclass
class Match(Node):
    """``:``, ``like``, ``like~``, ``regex``, ``regex~`` with one constant or a list of them."""
    op: str                     # ':' | 'like' | 'like~' | 'regex' | 'regex~'
    expr: "Expr"
    patterns: List[Literal]


@dataclass
class Call(Node):
    name: str                   # as written (without ~)
    args: List["Expr"]
    insensitive: bool           # name~(...)


@dataclass
class Arith(Node):
    op: str                     # + - * / % and 'neg'
    left: "Expr"
    right: Optional["Expr"]


Expr = Union[Literal, Field, Not, And, Or, Compare, InSet, Match, Call, Arith]


@dataclass
class EventFilter(Node):
    category: Optional[str]     # None for ``any``
    condition: Expr
    category_pos: int = 0


@dataclass
class Stage(Node):
    """One bracketed term of a sequence/sample/join, with its own ``by`` keys."""
    filter: EventFilter
    keys: List[Expr] = dc_field(default_factory=list)
    missing: bool = False       # ![ ... ]
    runs: int = 1               # with runs=N
    runs_pos: Optional[int] = None


@dataclass
class Pipe(Node):
    name: str
    args: List[Expr]


@dataclass
class Query:
    """A parsed statement. ``kind`` is 'event', 'sequence', 'sample' or 'join'."""
    text: str
    kind: str
    event: Optional[EventFilter] = None         # kind == 'event'
    stages: List[Stage] = dc_field(default_factory=list)
    until: Optional[Stage] = None
    keys: List[Expr] = dc_field(default_factory=list)   # sequence-level ``by``
    maxspan_ms: Optional[int] = None
    maxspan_text: Optional[str] = None
    pipes: List[Pipe] = dc_field(default_factory=list)
    pos: int = 0


def walk(node):
    """Yield every AST node below (and including) ``node`` in source order."""
    if node is None:
        return
    if isinstance(node, Query):
        if node.event is not None:
            yield from walk(node.event)
        for k in node.keys:
            yield from walk(k)
        for st in node.stages:
            yield from walk(st)
        if node.until is not None:
            yield from walk(node.until)
        for p in node.pipes:
            yield from walk(p)
        return
    yield node
    if isinstance(node, EventFilter):
        yield from walk(node.condition)
    elif isinstance(node, Stage):
        yield from walk(node.filter)
        for k in node.keys:
            yield from walk(k)
    elif isinstance(node, Pipe):
        for a in node.args:
            yield from walk(a)
    elif isinstance(node, Not):
        yield from walk(node.expr)
    elif isinstance(node, (And, Or)):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, Compare):
        yield from walk(node.left)
        yield from walk(node.right)
    elif isinstance(node, InSet):
        yield from walk(node.expr)
        for v in node.values:
            yield from walk(v)
    elif isinstance(node, Match):
        yield from walk(node.expr)
        for p in node.patterns:
            yield from walk(p)
    elif isinstance(node, Call):
        for a in node.args:
            yield from walk(a)
    elif isinstance(node, Arith):
        yield from walk(node.left)
        yield from walk(node.right)


# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------

KEYWORDS = frozenset({
    "and", "any", "by", "false", "in", "in~", "join", "like", "like~", "maxspan", "not", "null",
    "of", "or", "regex", "regex~", "sample", "sequence", "true", "until", "where", "with",
})

_TWO_CHAR_OPS = ("==", "!=", "<=", ">=", "![")
_ONE_CHAR_OPS = ":=<>+-*/%.,[]()|?"
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str       # KW IDENT QIDENT TIDENT STRING INT DEC OP EOF
    value: object
    start: int
    end: int


def _is_letter(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def tokenize(text: str) -> List[Token]:
    toks: List[Token] = []
    i, n = 0, len(text)

    def err(msg, at):
        raise EqlSyntaxError(msg, text, at)

    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if text.startswith("/*", i):
            i = _skip_block_comment(text, i, err)
            continue
        start = i
        if _is_letter(c) or c in "_@":
            j = i + 1
            while j < n and (_is_letter(text[j]) or _is_digit(text[j]) or text[j] == "_"):
                j += 1
            word = text[i:j]
            if j < n and text[j] == "~" and _is_letter(c):
                tilde = word + "~"
                kind = "KW" if tilde in KEYWORDS else "TIDENT"
                toks.append(Token(kind, tilde if kind == "KW" else word, start, j + 1))
                i = j + 1
                continue
            toks.append(Token("KW" if word in KEYWORDS else "IDENT", word, start, j))
            i = j
            continue
        if _is_digit(c) or (c == "." and i + 1 < n and _is_digit(text[i + 1])):
            i = _lex_number(text, i, toks)
            continue
        if c == "`":
            j = i + 1
            buf = []
            while True:
                if j >= n:
                    err("unterminated quoted field name", start)
                if text[j] == "`":
                    if j + 1 < n and text[j + 1] == "`":
                        buf.append("`")
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            toks.append(Token("QIDENT", "".join(buf), start, j + 1))
            i = j + 1
            continue
        if c == '"':
            value, i = _lex_string(text, i, err)
            toks.append(Token("STRING", value, start, i))
            continue
        if c == "'":
            err("Use double quotes [\"] to define string literals, not single quotes [']", start)
        if c == "?" and i + 1 < n and text[i + 1] in "\"'":
            err('Use triple double quotes ["""] to define unescaped string literals, not [?"]',
                start)
        two = text[i:i + 2]
        if two in _TWO_CHAR_OPS:
            toks.append(Token("OP", two, start, i + 2))
            i += 2
            continue
        if c in _ONE_CHAR_OPS:
            toks.append(Token("OP", c, start, i + 1))
            i += 1
            continue
        err(f"token recognition error at: '{c}'", start)
    toks.append(Token("EOF", None, n, n))
    return toks


def _skip_block_comment(text, i, err):
    # block comments nest, as in the ANTLR grammar
    depth, j, n = 0, i, len(text)
    while j < n:
        if text.startswith("/*", j):
            depth += 1
            j += 2
        elif text.startswith("*/", j):
            depth -= 1
            j += 2
            if depth == 0:
                return j
        else:
            j += 1
    err("unterminated comment", i)


def _lex_number(text, i, toks):
    n, start = len(text), i
    j = i
    while j < n and _is_digit(text[j]):
        j += 1
    is_dec = False
    if j < n and text[j] == "." and not (j + 1 < n and (_is_letter(text[j + 1]) or text[j + 1] in "_@`")):
        is_dec = True
        j += 1
        while j < n and _is_digit(text[j]):
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and _is_digit(text[k]):
            while k < n and _is_digit(text[k]):
                k += 1
            is_dec = True
            j = k
    raw = text[start:j]
    if is_dec:
        toks.append(Token("DEC", float(raw), start, j))
    else:
        toks.append(Token("INT", int(raw), start, j))
    return j


def _lex_string(text, i, err):
    n = len(text)
    if text.startswith('"""', i):
        j = text.find('"""', i + 3)
        nl = min([p for p in (text.find("\n", i), text.find("\r", i)) if p >= 0], default=-1)
        if j < 0 or (0 <= nl < j):
            err("unterminated raw string", i)
        end = j + 3
        # the grammar lets up to two more quotes close the literal; they belong to the content
        extra = 0
        while extra < 2 and end < n and text[end] == '"':
            end += 1
            extra += 1
        return text[i + 3:end - 3], end
    j = i + 1
    buf = []
    while True:
        if j >= n or text[j] in "\r\n":
            err("unterminated string", i)
        c = text[j]
        if c == '"':
            return "".join(buf), j + 1
        if c == "\\":
            if j + 1 >= n:
                err("unterminated string", i)
            e = text[j + 1]
            if e in _ESCAPES:
                buf.append(_ESCAPES[e])
                j += 2
                continue
            if e == "u":
                if j + 2 >= n or text[j + 2] != "{":
                    err("Unicode sequence should use [\\u{XXXX}] format", j)
                close = text.find("}", j + 3)
                hexs = text[j + 3:close] if close >= 0 else ""
                if close < 0 or not hexs or any(h not in "0123456789abcdefABCDEF" for h in hexs):
                    err("Unicode sequence should use [\\u{XXXX}] format", j)
                if not 2 <= len(hexs) <= 8:
                    err(f"Unicode sequence should use [2-8] hex digits, [{hexs}] has [{len(hexs)}]", j)
                code = int(hexs, 16)
                if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
                    err(f"Invalid unicode character code [{hexs}]", j)
                buf.append(chr(code))
                j = close + 1
                continue
            err(f"Invalid escape sequence [\\{e}] in string literal", j)
        buf.append(c)
        j += 1


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------

_COMPARISON_OPS = ("==", "!=", "<", "<=", ">", ">=")
_MATCH_KWS = ("like", "like~", "regex", "regex~")
_TIME_UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


# Deepest nesting accepted, both while parsing (parentheses, ``not``, signs, function calls) and in
# the finished tree (operators within operators). Parsing, walking and evaluating recurse once per
# level, so a hostile query would otherwise end in RecursionError; real rules nest a few levels.
# Elasticsearch has a similar guard ("statement too large; halt parsing ... (stopped at depth 200)").
MAX_DEPTH = 64
_TOO_DEEP = ("the query is nested more than %d levels deep (parentheses, not, operators, function "
             "calls); simplify it" % MAX_DEPTH)


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    def enter(self):
        """One level deeper in the grammar; refuse past MAX_DEPTH (callers decrement ``depth``)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.error(_TOO_DEEP)

    # -- token helpers -----------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.toks[self.i]

    def peek(self, k=1) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def advance(self) -> Token:
        t = self.toks[self.i]
        if t.kind != "EOF":
            self.i += 1
        return t

    def is_kw(self, *words, tok=None) -> bool:
        t = tok or self.tok
        return t.kind == "KW" and t.value in words

    def is_op(self, *ops, tok=None) -> bool:
        t = tok or self.tok
        return t.kind == "OP" and t.value in ops

    def error(self, msg, tok=None):
        t = tok or self.tok
        raise EqlSyntaxError(msg, self.text, t.start)

    def unexpected(self, expecting: str):
        t = self.tok
        shown = "<EOF>" if t.kind == "EOF" else self.text[t.start:t.end]
        self.error(f"mismatched input '{shown}' expecting {expecting}")

    def expect_op(self, op):
        if not self.is_op(op):
            self.unexpected(f"'{op}'")
        return self.advance()

    def expect_kw(self, kw):
        if not self.is_kw(kw):
            self.unexpected(f"'{kw}'")
        return self.advance()

    # -- statement ---------------------------------------------------------------------------
    def statement(self) -> Query:
        t = self.tok
        if self.is_kw("sequence"):
            q = self.sequence()
        elif self.is_kw("sample", "join"):
            q = self.sample_or_join()
        else:
            ev = self.event_filter()
            q = Query(text=self.text, kind="event", event=ev, pos=t.start)
        while self.is_op("|"):
            q.pipes.append(self.pipe())
        if self.tok.kind != "EOF":
            self.unexpected("'|' or <EOF>" if q.kind == "event" else "'[', '|' or <EOF>")
        return q

    def pipe(self) -> Pipe:
        self.advance()      # '|'
        t = self.tok
        if t.kind not in ("IDENT",):
            self.unexpected("a pipe name")
        self.advance()
        args: List[Expr] = []
        if not (self.is_op("|") or self.tok.kind == "EOF"):
            args.append(self.expression())
            while self.is_op(","):
                self.advance()
                args.append(self.expression())
        return Pipe(pos=t.start, name=t.value, args=args)

    def sequence(self) -> Query:
        start = self.advance()      # 'sequence'
        q = Query(text=self.text, kind="sequence", pos=start.start)
        if self.is_kw("by"):
            q.keys = self.join_keys()
            if self.is_kw("with"):
                self.maxspan(q)
        elif self.is_kw("with"):
            self.maxspan(q)
            if self.is_kw("by"):
                self.error("Please specify sequence [by] before [with] not after")
        q.stages.append(self.sequence_term())
        while self.is_op("[", "!["):
            q.stages.append(self.sequence_term())
        if self.is_kw("until"):
            self.advance()
            q.until = self.sequence_term()
        self._check_stage_count(q)
        self._check_key_counts(q)
        return q

    def sample_or_join(self) -> Query:
        start = self.advance()
        q = Query(text=self.text, kind=start.value, pos=start.start)
        if self.is_kw("by"):
            q.keys = self.join_keys()
        q.stages.append(self.sequence_term())
        while self.is_op("[", "!["):
            q.stages.append(self.sequence_term())
        if self.is_kw("until"):
            self.advance()
            q.until = self.sequence_term()
        self._check_stage_count(q)
        return q

    def _check_stage_count(self, q: Query):
        if len(q.stages) < 2:
            self.error(f"A {q.kind} requires a minimum of 2 queries, found [{len(q.stages)}]",
                       tok=Token("OP", None, q.pos, q.pos))

    def _check_key_counts(self, q: Query):
        terms = q.stages + ([q.until] if q.until else [])
        expected = len(terms[0].keys)
        for st in terms[1:]:
            if len(st.keys) != expected:
                raise EqlSyntaxError(
                    "Inconsistent number of join keys specified; expected "
                    f"[{expected}] but found [{len(st.keys)}]", self.text, st.pos)

    def maxspan(self, q: Query):
        self.advance()      # 'with'
        self.expect_kw("maxspan")
        if not self.is_op("="):
            self.unexpected("'='")
        self.advance()
        num = self.tok
        if num.kind == "DEC":
            self.error(f"Decimal time interval [{self.text[num.start:num.end]}] not supported; "
                       "please use an positive integer")
        if num.kind != "INT":
            self.unexpected("a time value such as 5m")
        self.advance()
        if num.value <= 0:
            self.error(f"A positive maxspan value is required; found [{num.value}]", tok=num)
        unit = self.tok
        if unit.kind != "IDENT":
            self.error(f"No time unit specified, did you mean [s] as in [{num.value}s]?", tok=num)
        self.advance()
        if unit.value not in _TIME_UNITS_MS:
            self.error(f"Unrecognized time unit [{unit.value}] in [{num.value}{unit.value}], "
                       "please specify one of [ms, s, m, h, d]", tok=unit)
        q.maxspan_ms = num.value * _TIME_UNITS_MS[unit.value]
        q.maxspan_text = f"{num.value}{unit.value}"

    def join_keys(self) -> List[Expr]:
        self.advance()      # 'by'
        keys = [self.expression()]
        while self.is_op(","):
            self.advance()
            keys.append(self.expression())
        return keys

    def sequence_term(self) -> Stage:
        t = self.tok
        missing = False
        if self.is_op("!["):
            missing = True
        elif not self.is_op("["):
            self.unexpected("'['")
        self.advance()
        ev = self.event_filter()
        self.expect_op("]")
        st = Stage(pos=t.start, filter=ev, missing=missing)
        if self.is_kw("by"):
            st.keys = self.join_keys()
        if self.is_kw("with") and self.peek().kind == "IDENT":
            self.advance()
            key = self.advance()
            if key.value != "runs":
                self.error(f"Unrecognized sequence term option [{key.value}], expected [runs]",
                           tok=key)
            self.expect_op("=")
            num = self.tok
            if num.kind != "INT":
                self.unexpected("an integer")
            self.advance()
            if not 1 <= num.value <= 100:
                self.error(f"A positive runs value between 1 and 100 is required; found "
                           f"[{num.value}]", tok=num)
            st.runs, st.runs_pos = num.value, key.start
        return st

    def event_filter(self) -> EventFilter:
        t = self.tok
        category: Optional[str]
        if self.is_kw("any"):
            category = None
        elif t.kind in ("IDENT", "STRING"):
            category = t.value
        else:
            self.unexpected("an event category, 'any', 'sequence' or 'sample'")
        self.advance()
        self.expect_kw("where")
        cond = self.expression()
        return EventFilter(pos=t.start, category=category, condition=cond, category_pos=t.start)

    # -- expressions -------------------------------------------------------------------------
    def expression(self) -> Expr:
        self.enter()
        try:
            terms, ops = [self.and_expr()], []
            while self.is_kw("or"):
                ops.append(self.advance())
                terms.append(self.and_expr())
            return _balanced(Or, terms, ops)
        finally:
            self.depth -= 1

    def and_expr(self) -> Expr:
        terms, ops = [self.not_expr()], []
        while self.is_kw("and"):
            ops.append(self.advance())
            terms.append(self.not_expr())
        return _balanced(And, terms, ops)

    def not_expr(self) -> Expr:
        if self.is_kw("not"):
            self.enter()
            try:
                t = self.advance()
                return Not(pos=t.start, expr=self.not_expr())
            finally:
                self.depth -= 1
        if self.tok.kind == "IDENT" and self.is_kw("of", tok=self.peek()):
            self.error("Process relationships are not supported")
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.additive()
        if self.is_op(*_COMPARISON_OPS):
            op = self.advance()
            right = self.additive()
            if self.is_op(*_COMPARISON_OPS):
                self.error("Comparisons cannot be chained; combine them with 'and'")
            return Compare(pos=op.start, op=op.value, left=left, right=right)
        if self.is_op("="):
            self.error("= is not supported as an equal operator; use == or :")
        return left

    def additive(self) -> Expr:
        left = self.multiplicative()
        while self.is_op("+", "-"):
            op = self.advance()
            left = Arith(pos=op.start, op=op.value, left=left, right=self.multiplicative())
        return left

    def multiplicative(self) -> Expr:
        left = self.unary()
        while self.is_op("*", "/", "%"):
            op = self.advance()
            left = Arith(pos=op.start, op=op.value, left=left, right=self.unary())
        return left

    def unary(self) -> Expr:
        if self.is_op("-", "+"):
            op = self.advance()
            self.enter()
            try:
                operand = self.unary()
            finally:
                self.depth -= 1
            if op.value == "+":
                return operand
            if isinstance(operand, Literal) and isinstance(operand.value, (int, float)) \
                    and not isinstance(operand.value, bool):
                return Literal(pos=op.start, value=-operand.value)
            return Arith(pos=op.start, op="neg", left=operand, right=None)
        return self.predicated()

    def predicated(self) -> Expr:
        expr = self.primary()
        t = self.tok
        if self.is_kw("not") and self.is_kw("in", "in~", tok=self.peek()):
            self.advance()
            kw = self.advance()
            return InSet(pos=t.start, expr=expr, values=self.paren_list(self.expression),
                         insensitive=kw.value == "in~", negated=True)
        if self.is_kw("in", "in~"):
            kw = self.advance()
            return InSet(pos=t.start, expr=expr, values=self.paren_list(self.expression),
                         insensitive=kw.value == "in~", negated=False)
        if self.is_op(":") or self.is_kw(*_MATCH_KWS):
            op = self.advance()
            if self.is_op("("):
                pats = self.paren_list(self.constant)
            else:
                pats = [self.constant()]
            return Match(pos=op.start, op=op.value, expr=expr, patterns=pats)
        return expr

    def paren_list(self, item):
        self.expect_op("(")
        items = [item()]
        while self.is_op(","):
            self.advance()
            items.append(item())
        self.expect_op(")")
        return items

    def constant(self) -> Literal:
        t = self.tok
        if t.kind in ("STRING", "INT", "DEC"):
            self.advance()
            return Literal(pos=t.start, value=t.value)
        if self.is_kw("true", "false"):
            self.advance()
            return Literal(pos=t.start, value=t.value == "true")
        if self.is_kw("null"):
            self.advance()
            return Literal(pos=t.start, value=None)
        self.unexpected("a constant (string, number, boolean or null)")

    def primary(self) -> Expr:
        t = self.tok
        if t.kind in ("STRING", "INT", "DEC") or self.is_kw("true", "false", "null"):
            return self.constant()
        if t.kind in ("IDENT", "TIDENT") and self.is_op("(", tok=self.peek()):
            self.advance()
            self.advance()
            args: List[Expr] = []
            if not self.is_op(")"):
                args.append(self.expression())
                while self.is_op(","):
                    self.advance()
                    args.append(self.expression())
            self.expect_op(")")
            return Call(pos=t.start, name=t.value, args=args, insensitive=t.kind == "TIDENT")
        if t.kind in ("IDENT", "QIDENT") or self.is_op("?"):
            return self.qualified_name()
        if self.is_op("("):
            self.advance()
            e = self.expression()
            self.expect_op(")")
            return e
        if t.kind == "TIDENT":
            self.unexpected("'(' after a case-insensitive function name")
        self.unexpected("an expression")

    def qualified_name(self) -> Field:
        t = self.tok
        optional = False
        if self.is_op("?"):
            optional = True
            self.advance()
        parts = [self.identifier()]
        while True:
            if self.is_op("."):
                self.advance()
                parts.append(self.identifier())
            elif self.is_op("[") and self.peek().kind == "INT":
                self.error("Array indexes are not supported", tok=self.peek())
            else:
                break
        return Field(pos=t.start, name=".".join(parts), optional=optional)

    def identifier(self) -> str:
        t = self.tok
        if t.kind in ("IDENT", "QIDENT"):
            self.advance()
            return t.value
        if t.kind == "KW":
            self.error(f"'{t.value}' is a reserved word; escape it with backticks: `{t.value}`")
        self.unexpected("a field name")


def parse(text: str) -> Query:
    """Parse an EQL statement; raises EqlSyntaxError (with position) on bad input."""
    if not isinstance(text, str):
        raise EqlSyntaxError(f"EQL query must be a string, got {type(text).__name__}")
    if not text.strip():
        raise EqlSyntaxError("EQL query is empty", text, 0)
    query = _Parser(text).statement()
    _check_depth(query, text)
    return query


def _balanced(cls, terms, ops):
    """``a or b or c ...`` as a balanced tree of binary nodes, in source order: and / or are
    associative (also in three-valued logic), and a left-deep chain of a few hundred terms would be
    as deep as it is long."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return cls(pos=ops[mid - 1].start, left=_balanced(cls, terms[:mid], ops[:mid - 1]),
               right=_balanced(cls, terms[mid:], ops[mid:]))


def _check_depth(query: Query, text: str) -> None:
    """Refuse a tree deeper than MAX_DEPTH expression nodes (``1 + 1 + ...`` chains nest without
    parentheses). Iterative, so that it cannot itself run out of stack."""
    stack = [(query, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Node) and not isinstance(node, (EventFilter, Stage, Pipe)):
            depth += 1
            if depth > MAX_DEPTH:
                raise EqlSyntaxError(_TOO_DEEP, text, node.pos)
        for f in dc_fields(node):
            value = getattr(node, f.name)
            for child in (value if isinstance(value, list) else [value]):
                if isinstance(child, (Node, Query)):
                    stack.append((child, depth))
