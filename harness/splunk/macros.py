"""Search macros: read an app's macros.conf and expand backtick calls the way Splunk does.

Rules (Knowledge Manager Manual "Use search macros in searches", "Define search macros in Settings";
macros.conf spec; notes/splunk.md §5):

- ``[name]`` takes no arguments, ``[name(N)]`` takes N: they are different macros, and a call picks
  the stanza by its argument count (`` `name` ``, `` `name(a, "b,c")` ``).
- ``args = x,y`` names the arguments (letters, digits, ``_``, ``-``; no repeats; as many as N);
  ``$x$`` in the definition is replaced by the argument's text everywhere, even inside quotes.
- Expansion is recursive; backticks inside double-quoted strings and ``` comments ``` are left alone.
- Configuration layers merge key by key: ``local/macros.conf`` overrides ``default/macros.conf``, and
  a ``[default]`` stanza (or keys before the first stanza) supplies keys every stanza lacks.

Choices where the documentation is silent (unverified against a live Splunk):

- Call arguments are split on commas outside double quotes and keep their text as written, quotes
  included, after trimming surrounding whitespace: `` `m("a b")` `` with ``field=$x$`` gives
  ``field="a b"``. A comma inside unquoted parentheses is rejected as ambiguous: quote the argument.
- ``iseval = true`` macros (the definition is an eval expression) cannot be expanded here and raise
  MacroError when called; ``validation``/``errormsg`` are not evaluated (a call Splunk would reject
  fails loudly on Splunk, so skipping the check cannot hide a result).
"""

from __future__ import annotations

import os
import re
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ksconf.conf.parser import GLOBAL_STANZA, PARSECONF_MID_NC, ConfParserException, parse_conf

PathLike = Union[str, "os.PathLike[str]"]
Macros = Dict[str, Dict[str, str]]

MAX_DEPTH = 50

_STANZA = re.compile(r"\s*([^()\s]+)\s*(?:\(\s*(\d+)\s*\))?\s*\Z")
_ARG_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")
_CALL = re.compile(r"\s*([^()\s`\"]+)\s*(?:\((.*)\))?\s*\Z", re.DOTALL)
_SPECIAL = re.compile(r'```|["`\\]')
_TRUE = {"1", "true", "t", "yes", "y", "on"}


class MacroError(ValueError):
    """A macro that cannot be loaded or expanded; ``macro`` names it when known."""

    def __init__(self, message: str, macro: Optional[str] = None, position: Optional[int] = None):
        ValueError.__init__(self, message)
        self.macro = macro
        self.position = position


# ---------------------------------------------------------------------------------------------
# Loading


def load_macros(path_or_paths: Union[PathLike, Sequence[PathLike]]) -> Macros:
    """Read macros.conf layers into ``{stanza: {key: value}}``, later layers overriding earlier ones.

    Each path is a macros.conf file, or an app directory (its ``default/macros.conf`` then its
    ``local/macros.conf``, whichever exist), or a directory holding a macros.conf. A list is layered
    in order. Raises MacroError naming the file and stanza for unreadable files and bad stanzas.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        paths: List[PathLike] = [path_or_paths]
    else:
        paths = list(path_or_paths)
    merged: Macros = {}
    defaults: Dict[str, str] = {}
    origin: Dict[str, str] = {}
    for conf in _conf_files(paths):
        try:
            parsed = parse_conf(conf, profile=PARSECONF_MID_NC)
        except (ConfParserException, OSError, UnicodeDecodeError) as err:
            raise MacroError("%s: %s" % (conf, err))
        for stanza, keys in parsed.items():
            if stanza is GLOBAL_STANZA or stanza == "default":
                defaults.update(keys)
                continue
            merged.setdefault(stanza, {}).update(keys)
            origin[stanza] = conf
    macros: Macros = {}
    for stanza, keys in merged.items():
        full = dict(defaults)
        full.update(keys)
        _validate(stanza, full, origin[stanza])
        macros[stanza] = full
    return macros


def _conf_files(paths: Iterable[PathLike]) -> List[str]:
    files: List[str] = []
    for path in paths:
        path = os.fspath(path)
        if os.path.isfile(path):
            files.append(path)
        elif os.path.isdir(path):
            found = [os.path.join(path, layer, "macros.conf") for layer in ("default", "local")]
            found = [f for f in found if os.path.isfile(f)]
            direct = os.path.join(path, "macros.conf")
            if not found and os.path.isfile(direct):
                found = [direct]
            files.extend(found)
        else:
            raise MacroError("%s: no such file or directory" % path)
    return files


def _validate(stanza: str, keys: Mapping[str, str], source: str) -> None:
    where = "%s: [%s]" % (source, stanza)
    m = _STANZA.match(stanza)
    if not m:
        raise MacroError("%s: a macro stanza is [name] or [name(N)]" % where, stanza)
    if "definition" not in keys:
        raise MacroError("%s: no definition" % where, stanza)
    if m.group(2) is None:
        return  # args is ignored on a macro without arguments (macros.conf spec)
    count = int(m.group(2))
    if count < 1:
        raise MacroError("%s: the argument count must be at least 1" % where, stanza)
    names = _arg_names(keys.get("args", ""))
    if len(names) != count:
        raise MacroError("%s: takes %d argument(s) but args names %d (%r)"
                         % (where, count, len(names), keys.get("args", "")), stanza)
    for name in names:
        if not _ARG_NAME.match(name):
            raise MacroError("%s: argument name %r may contain only letters, digits, '_' and '-'"
                             % (where, name), stanza)
    if len(set(names)) != len(names):
        raise MacroError("%s: args repeats a name (%r)" % (where, keys["args"]), stanza)


def _arg_names(text: str) -> List[str]:
    return [part.strip() for part in text.split(",")] if text.strip() else []


# ---------------------------------------------------------------------------------------------
# Expansion


class _Macro:
    __slots__ = ("key", "args", "definition", "iseval")

    def __init__(self, key: str, args: List[str], definition: str, iseval: bool):
        self.key, self.args, self.definition, self.iseval = key, args, definition, iseval


def _index(macros: Mapping[str, Mapping[str, str]]) -> Dict[Tuple[str, int], _Macro]:
    index: Dict[Tuple[str, int], _Macro] = {}
    for stanza, keys in macros.items():
        m = _STANZA.match(stanza)
        if not m or "definition" not in keys:
            raise MacroError("bad macro [%s]: expected [name] or [name(N)] with a definition" % stanza, stanza)
        name, count = m.group(1), int(m.group(2) or 0)
        args = _arg_names(keys.get("args", "")) if count else []
        if len(args) != count:
            raise MacroError("macro [%s] takes %d argument(s) but args names %d" % (stanza, count, len(args)), stanza)
        iseval = str(keys.get("iseval", "0")).strip().lower() in _TRUE
        index[(name, count)] = _Macro(stanza, args, keys["definition"], iseval)
    return index


def expand(search: str, macros: Mapping[str, Mapping[str, str]]) -> str:
    """Expand every backtick macro call in ``search`` (recursively) and return the search text.

    Raises MacroError naming the macro when it is undefined, called with the wrong number of
    arguments, eval-based, recursive (a cycle) or nested deeper than MAX_DEPTH.
    """
    return _expand(search, _index(macros), [])


def _expand(text: str, index: Dict[Tuple[str, int], _Macro], stack: List[str]) -> str:
    out: List[str] = []
    i, n = 0, len(text)
    while i < n:
        m = _SPECIAL.search(text, i)
        if not m:
            out.append(text[i:])
            break
        start = m.start()
        out.append(text[i:start])
        token = m.group()
        if token == "```":  # a comment: kept as written, macros inside it are not calls
            end = text.find("```", start + 3)
            end = n if end < 0 else end + 3
            out.append(text[start:end])
            i = end
        elif token == '"':
            end = _quoted_end(text, start)
            out.append(text[start:end])
            i = end
        elif token == "\\":
            out.append(text[start:start + 2])
            i = start + 2
        else:
            close = text.find("`", start + 1)
            if close < 0:
                raise MacroError("unterminated macro call at position %d%s: %r"
                                 % (start, _context(stack), text[start:start + 40]), position=start)
            out.append(_call(text[start + 1:close], start, index, stack))
            i = close + 1
    return "".join(out)


def _quoted_end(text: str, start: int) -> int:
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            return i + 1
        i += 2 if c == "\\" else 1
    return n  # unterminated: the SPL parser reports it with its position


def _call(call: str, position: int, index: Dict[Tuple[str, int], _Macro], stack: List[str]) -> str:
    m = _CALL.match(call)
    if not m:
        raise MacroError("malformed macro call `%s` at position %d%s" % (call, position, _context(stack)),
                         call, position)
    name, argtext = m.group(1), m.group(2)
    args = _split_args(argtext, name, position, stack) if argtext is not None else []
    macro = index.get((name, len(args)))
    shown = "%s(%d)" % (name, len(args)) if args else name
    if macro is None:
        others = sorted(mac.key for (other, _), mac in index.items() if other == name)
        if others:
            detail = "called with %d argument(s), but only %s %s defined" % (
                len(args), ", ".join("[%s]" % o for o in others), "is" if len(others) == 1 else "are")
        else:
            detail = "not defined in macros.conf"
        raise MacroError("macro `%s` at position %d%s: %s" % (shown, position, _context(stack), detail),
                         shown, position)
    if macro.key in stack:
        cycle = " -> ".join(stack[stack.index(macro.key):] + [macro.key])
        raise MacroError("macro cycle: %s" % cycle, macro.key, position)
    if len(stack) >= MAX_DEPTH:
        raise MacroError("macro `%s`: expansion nested deeper than %d levels (%s)"
                         % (shown, MAX_DEPTH, " -> ".join(stack)), macro.key, position)
    if macro.iseval:
        raise MacroError("macro `%s` is eval-based (iseval = true): the harness cannot expand it"
                         % macro.key, macro.key, position)
    body = macro.definition
    if macro.args:
        values = dict(zip(macro.args, args))
        pattern = re.compile(r"\$(%s)\$" % "|".join(re.escape(a) for a in macro.args))
        body = pattern.sub(lambda hit: values[hit.group(1)], body)
    return _expand(body, index, stack + [macro.key])


def _split_args(text: str, name: str, position: int, stack: List[str]) -> List[str]:
    if not text.strip():
        return []
    args: List[str] = []
    current: List[str] = []
    depth, i, n = 0, 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            end = _quoted_end(text, i)
            current.append(text[i:end])
            i = end
            continue
        if c == "\\":
            current.append(text[i:i + 2])
            i += 2
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == ",":
            if depth > 0:
                raise MacroError("macro `%s` at position %d%s: a comma inside parentheses in its arguments "
                                 "is ambiguous; quote the argument" % (name, position, _context(stack)),
                                 name, position)
            args.append("".join(current).strip())
            current = []
            i += 1
            continue
        current.append(c)
        i += 1
    args.append("".join(current).strip())
    return args


def _context(stack: List[str]) -> str:
    return " in the definition of %s" % " -> ".join("[%s]" % s for s in stack) if stack else ""
