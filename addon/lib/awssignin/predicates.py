"""Per-event predicates of the detection files, compiled to plain functions of the sign-in view.

A predicate is a mapping with exactly one of:
  all: [p, ...]   any: [p, ...]   not: p
or a leaf ``{field: <sign-in view field>, <operator>: <value>}`` with one operator:
  equals, in (list), contains, starts_with, ends_with (strings, case-sensitive, as AWS writes them),
  exists (true/false), equals_field / differs_from (another field of the same event).
A leaf on a missing field is false; ``not`` of it is true (DESIGN.md, "Missing fields").
"""

from .normalize import FIELDS

LEAF_OPERATORS = ("equals", "in", "contains", "starts_with", "ends_with", "exists", "equals_field", "differs_from")
# Deepest nesting of all/any/not accepted: a detection needs a handful of levels, and compiling (and
# evaluating) nests one Python call per level, so a hostile file would otherwise end in RecursionError.
MAX_DEPTH = 64


class PredicateError(ValueError):
    """A predicate that cannot be compiled; ``path`` says where in the detection it is."""

    def __init__(self, path, message):
        ValueError.__init__(self, "%s: %s" % (path, message))
        self.path = path


def compile_predicate(spec, path="where", depth=0):
    if depth >= MAX_DEPTH:
        raise PredicateError(path, "predicates nest at most %d levels deep (all/any/not)" % MAX_DEPTH)
    if not isinstance(spec, dict):
        raise PredicateError(path, "a predicate must be a mapping, got %r" % (spec,))
    if "all" in spec or "any" in spec:
        key = "all" if "all" in spec else "any"
        if len(spec) != 1:
            raise PredicateError(path, "'%s' cannot be combined with other keys" % key)
        items = spec[key]
        if not isinstance(items, list) or not items:
            raise PredicateError(path + "." + key, "must be a non-empty list")
        parts = tuple(compile_predicate(p, "%s.%s[%d]" % (path, key, i), depth + 1) for i, p in enumerate(items))
        # plain loops: they run for every candidate event, and beat all()/any() over a generator
        if key == "all":
            def conjunction(ev):
                for part in parts:
                    if not part(ev):
                        return False
                return True
            return conjunction

        def disjunction(ev):
            for part in parts:
                if part(ev):
                    return True
            return False
        return disjunction
    if "not" in spec:
        if len(spec) != 1:
            raise PredicateError(path, "'not' cannot be combined with other keys")
        inner = compile_predicate(spec["not"], path + ".not", depth + 1)
        return lambda ev: not inner(ev)
    return _compile_leaf(spec, path)


def _compile_leaf(spec, path):
    field = spec.get("field")
    if field not in FIELDS:
        raise PredicateError(path + ".field", "unknown field %r (known: %s)" % (field, ", ".join(sorted(FIELDS))))
    ops = [k for k in spec if k != "field"]
    if len(ops) != 1 or ops[0] not in LEAF_OPERATORS:
        raise PredicateError(path, "needs exactly one operator of %s, got %s" % (", ".join(LEAF_OPERATORS), ops))
    op = ops[0]
    value = spec[op]
    where = "%s.%s" % (path, op)
    if op == "exists":
        if not isinstance(value, bool):
            raise PredicateError(where, "must be true or false")
        if value:
            return lambda ev: ev.get(field) is not None
        return lambda ev: ev.get(field) is None
    if op in ("equals_field", "differs_from"):
        if value not in FIELDS:
            raise PredicateError(where, "unknown field %r" % (value,))
        other = value
        if op == "equals_field":
            return lambda ev: ev.get(field) is not None and ev.get(field) == ev.get(other)
        return lambda ev: ev.get(field) is not None and ev.get(other) is not None and ev.get(field) != ev.get(other)
    if op == "in":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise PredicateError(where, "must be a non-empty list of strings")
        choices = frozenset(value)
        return lambda ev: ev.get(field) in choices
    if not isinstance(value, str):
        raise PredicateError(where, "must be a string, got %r" % (value,))
    if op == "equals":
        return lambda ev: ev.get(field) == value
    if op == "contains":
        return lambda ev: _str(ev.get(field)) and value in ev.get(field)
    if op == "starts_with":
        return lambda ev: _str(ev.get(field)) and ev.get(field).startswith(value)
    return lambda ev: _str(ev.get(field)) and ev.get(field).endswith(value)


def _str(value):
    return isinstance(value, str)


def fields_used(spec):
    """Every sign-in view field a predicate reads."""
    found = set()
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key in ("all", "any"):
                for item in value or ():
                    found |= fields_used(item)
            elif key == "not":
                found |= fields_used(value)
            elif key == "field":
                found.add(value)
            elif key in ("equals_field", "differs_from"):
                found.add(value)
    return found


def required_values(spec, field):
    """The values ``field`` must take for the predicate to hold, when a top-level conjunct pins them.

    Returns a frozenset, or None when the predicate does not pin the field. The engine uses it on
    ``event_source`` to skip the 95% of CloudTrail that is not sign-in traffic without normalising it.
    """
    if not isinstance(spec, dict):
        return None
    if spec.get("field") == field:
        if "equals" in spec:
            return frozenset([spec["equals"]])
        if "in" in spec:
            return frozenset(spec["in"])
        return None
    if "all" in spec:
        pinned = None
        for item in spec["all"]:
            values = required_values(item, field)
            if values is not None:
                pinned = values if pinned is None else pinned & values
        return pinned
    if "any" in spec:
        union = frozenset()
        for item in spec["any"]:
            values = required_values(item, field)
            if values is None:
                return None
            union |= values
        return union
    return None
