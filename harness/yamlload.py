"""Loading a detection file's YAML safely, with the line of every field.

Detection files arrive in pull requests, so this loader treats its input as hostile:

- YAML aliases (``*name``, and merge keys ``<<: *name``) are refused: anchors and aliases have no
  use in a detection file, and nested aliases ("billion laughs") turn a few kilobytes into a
  document that takes gigabytes to walk;
- the text is at most ``MAX_BYTES`` (UTF-8) and collections nest at most ``MAX_DEPTH`` deep (PyYAML
  composes and constructs recursively, so a deeper file would end in RecursionError);
- a scalar that PyYAML cannot turn into a value (``2026-13-45`` as a timestamp, an integer with
  more digits than Python converts) is an error at its line, not a traceback.

Every problem is a ``DetectionError`` naming the file, the field (dotted path) and the line.
"""

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 100


def _error(file, field, message, line=None):
    # imported here: harness.detections imports this module
    from .detections import DetectionError
    return DetectionError(file, field, message, line)


def _child_path(path, parent, index):
    """The dotted path of the node composed under ``parent`` at ``index``."""
    if isinstance(parent, SequenceNode):
        return "%s[%d]" % (path, index)
    if isinstance(parent, MappingNode) and index is not None:
        key = index.value if isinstance(index, ScalarNode) else "?"
        return "%s.%s" % (path, key) if path else str(key)
    return path          # the root, or a mapping key (reported as its mapping)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, bounds nesting, and reports bad scalars with their line.

    ``load_with_lines`` records the line of every mapping key and sequence item, by dotted path.
    """

    def __init__(self, stream, file=""):
        yaml.SafeLoader.__init__(self, stream)
        self._file = file
        self._depth = 0
        self._path = [""]

    def compose_node(self, parent, index):
        path = _child_path(self._path[-1], parent, index)
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _error(self._file, path,
                         "YAML aliases (*%s) are not allowed in detection files: write the value "
                         "out (anchors and aliases have no use here, and nested aliases can expand "
                         "to gigabytes)" % event.anchor, event.start_mark.line + 1)
        if self._depth >= MAX_DEPTH:
            raise _error(self._file, path, "nested more than %d levels deep" % MAX_DEPTH,
                         self.peek_event().start_mark.line + 1)
        self._depth += 1
        self._path.append(path)
        try:
            return yaml.SafeLoader.compose_node(self, parent, index)
        finally:
            self._depth -= 1
            self._path.pop()

    def construct_object(self, node, deep=False):
        try:
            return yaml.SafeLoader.construct_object(self, node, deep=deep)
        except (ValueError, OverflowError) as err:
            from .detections import DetectionError
            if isinstance(err, DetectionError):      # already located, by a node below this one
                raise
            raise _error(self._file, "", "not valid YAML: cannot read the value %r (%s)"
                         % (_excerpt(node), err), node.start_mark.line + 1)


def _excerpt(node):
    value = node.value if isinstance(node, ScalarNode) else "..."
    return value if len(value) <= 40 else value[:37] + "..."


def load_with_lines(text, file):
    """``(data, lines)``: the parsed document and {dotted path: 1-based line} of every field."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _error(file, "", "the file is larger than %d bytes (%d KiB); a detection file "
                     "is a few KiB" % (MAX_BYTES, MAX_BYTES // 1024))
    loader = _LineLoader(text, file)
    try:
        node = loader.get_single_node()
        if node is None:
            raise _error(file, "", "the file is empty")
        data = loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise _error(file, "", "not valid YAML: %s" % (getattr(err, "problem", None) or err),
                     line=mark.line + 1 if mark else None)
    finally:
        loader.dispose()
    lines = {}

    def walk(n, path):
        lines.setdefault(path, n.start_mark.line + 1)
        if isinstance(n, MappingNode):
            seen = set()
            for key, value in n.value:
                child = "%s.%s" % (path, key.value) if path else str(key.value)
                if key.value in seen:
                    # PyYAML would keep the last value silently
                    raise _error(file, child, "duplicate key", key.start_mark.line + 1)
                seen.add(key.value)
                lines[child] = key.start_mark.line + 1
                walk(value, child)
        elif isinstance(n, SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, "%s[%d]" % (path, i))

    walk(node, "")
    return data, lines
