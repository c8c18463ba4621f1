"""A detection predicate as a tree a backend can walk, shared by the Splunk and Elastic generators.

The engine (``awssignin.predicates``) compiles a predicate to closures; the generators need its
shape instead. ``leaves(spec)`` and ``walk`` give them one reading of the predicate language, so the
two backends cannot parse it differently. Validation stays in the engine: the loader compiles every
predicate there first, so the specs reaching this module are well formed.
"""

from awssignin.predicates import LEAF_OPERATORS


class Leaf(object):
    """``{field: F, <op>: value}``."""

    __slots__ = ("field", "op", "value", "path")

    def __init__(self, field, op, value, path):
        self.field = field
        self.op = op
        self.value = value
        self.path = path

    def __repr__(self):
        return "Leaf(%s %s %r)" % (self.field, self.op, self.value)


class Branch(object):
    """``all`` / ``any`` over children, or ``not`` over one child."""

    __slots__ = ("kind", "children", "path")

    def __init__(self, kind, children, path):
        self.kind = kind
        self.children = children
        self.path = path


def tree(spec, path="where"):
    """The predicate ``spec`` (already validated by the engine) as Leaf / Branch nodes."""
    for kind in ("all", "any"):
        if kind in spec:
            return Branch(kind, [tree(p, "%s.%s[%d]" % (path, kind, i)) for i, p in enumerate(spec[kind])], path)
    if "not" in spec:
        return Branch("not", [tree(spec["not"], path + ".not")], path)
    op = [k for k in spec if k in LEAF_OPERATORS][0]
    return Leaf(spec["field"], op, spec[op], path)


def leaves(node):
    """Every leaf below ``node``."""
    if isinstance(node, Leaf):
        return [node]
    out = []
    for child in node.children:
        out.extend(leaves(child))
    return out


def named_values(spec):
    """{field: set of string values the predicate names for it} (equals / in / substrings)."""
    out = {}
    for leaf in leaves(tree(spec)):
        if leaf.op in ("equals", "contains", "starts_with", "ends_with"):
            out.setdefault(leaf.field, set()).add(leaf.value)
        elif leaf.op == "in":
            out.setdefault(leaf.field, set()).update(leaf.value)
    return out
