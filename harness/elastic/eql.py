"""EQL with Elasticsearch's semantics, for running Elastic EQL rules locally.

Public API:
    parse_eql(text) -> Query                            raises EqlSyntaxError
    check(text, field_type=None, category_field=...)    raises EqlSyntaxError / EqlUnsupported /
                                                        EqlVerificationError / EqlUnknownField
    compile_eql(text, category_field="event.category", field_type=None, constant_value=None)
        -> CompiledEql
        .is_sequence, .match(doc) -> bool, .run(docs, timestamp_field, tiebreaker_field)
    fields_referenced(text) -> set[str]

``field_type(name) -> str | None`` returns a field's Elasticsearch mapping type (``keyword``,
``ip``, ``boolean``, ``date``, ``long``, ``flattened`` ...) or None when the field is not mapped.
Without it no mapping checks are made and values are compared by their JSON type.
``constant_value(name) -> str | None`` gives the value of a ``constant_keyword`` field, which
every document of the index then has even when its ``_source`` lacks it.

This is an independent implementation from Elasticsearch's documentation and grammar; it does not
use the ``eql`` PyPI package (AGPL, Endgame semantics: case-insensitive ``==``, nulls join).
"""
from __future__ import annotations

from typing import Callable, Optional, Set

from .eqleval import CompiledEql, EqlDataError, FieldTypeFn, compile_query, make_getter
from .eqlparse import (
    EqlError, EqlSyntaxError, EqlUnknownField, EqlUnsupported, EqlVerificationError, Field,
    Query, parse as _parse, walk,
)

__all__ = [
    "parse_eql", "check", "compile_eql", "fields_referenced", "make_getter", "CompiledEql",
    "Query", "EqlError", "EqlSyntaxError", "EqlUnsupported", "EqlVerificationError",
    "EqlUnknownField", "EqlDataError",
]


def parse_eql(text: str) -> Query:
    """Parse EQL text as Elasticsearch does; EqlSyntaxError carries line/column/position."""
    return _parse(text)


def compile_eql(text: str, category_field: str = "event.category",
                field_type: Optional[FieldTypeFn] = None,
                constant_value: Optional[Callable[[str], Optional[str]]] = None) -> CompiledEql:
    """Parse, check and compile a query for local evaluation.

    ``category_field`` is the rule's ``event_category_override`` (default ``event.category``).
    """
    return compile_query(_parse(text), field_type=field_type, category_field=category_field,
                         constant_value=constant_value)


def check(text: str, field_type: Optional[FieldTypeFn] = None,
          category_field: str = "event.category") -> Query:
    """Raise if Elasticsearch would reject the query or the local evaluator cannot run it
    faithfully; return the parsed query otherwise."""
    return compile_eql(text, category_field=category_field, field_type=field_type).query


def fields_referenced(text: str) -> Set[str]:
    """Every field name the query text uses (conditions and join keys; ``?`` stripped).

    The category field (``event_category_override``) and the timestamp/tiebreaker fields are
    rule settings, not query text, so they are not included.
    """
    return {n.name for n in walk(_parse(text)) if isinstance(n, Field)}
