"""A compiled JSON Schema check in front of the SDK's record validator.

The SDK validates each record with `jsonschema`, which takes about 300 µs
for a ticket of the benchmark (2.3 KB of JSON) on the benchmark machine:
most of the target's CPU time. `fastjsonschema` compiles the schema to
Python code and checks the same ticket in about 7 µs. It implements JSON
Schema draft 7, while the SDK's validator implements draft 2020-12, so:

- A record that the compiled check accepts is accepted. That is safe only
  for schemas whose keywords mean the same in both drafts and in both
  libraries. For any other schema `compile_check` returns None, and the
  SDK's validator checks every record alone.
- A record that the compiled check rejects goes to the SDK's validator,
  which decides with its own error, so the target's messages about invalid
  records stay the same.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any

import fastjsonschema
from singer_sdk.sinks.core import BaseJSONSchemaValidator

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

#: Keywords that draft 2020-12 (the SDK's validator) and draft 7
#: (fastjsonschema) read differently, that one of them does not know, or
#: whose checks differ between the libraries. A schema with any of them is
#: left to the SDK's validator alone.
#:
#: - References and their targets: `$ref` siblings, `$id` and `$defs`
#:   resolve differently, and fastjsonschema fetches remote references.
#: - Array and dependency keywords that draft 2020-12 renamed or added.
#: - `multipleOf`: jsonschema divides floats, fastjsonschema divides
#:   decimals, so 0.3 is a multiple of 0.1 for fastjsonschema only.
#: - `uniqueItems`: each library compares items with its own code. No case
#:   that differs is known; it is left out as a precaution, as are `enum`
#:   and `const` with values other than strings and null.
_DIFFERING_KEYWORDS = frozenset(
    {
        "$ref",
        "$id",
        "$defs",
        "definitions",
        "$anchor",
        "$dynamicRef",
        "$dynamicAnchor",
        "$recursiveRef",
        "$recursiveAnchor",
        "$vocabulary",
        "prefixItems",
        "additionalItems",
        "unevaluatedItems",
        "unevaluatedProperties",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "minContains",
        "maxContains",
        "contentSchema",
        "multipleOf",
        "uniqueItems",
    }
)
#: Keywords whose value is one subschema.
_SUBSCHEMA_KEYWORDS = (
    "additionalProperties",
    "items",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
)
#: Keywords whose value is a list of subschemas.
_SUBSCHEMA_LIST_KEYWORDS = ("anyOf", "oneOf", "allOf")
#: Keywords whose value maps names to subschemas.
_SUBSCHEMA_MAP_KEYWORDS = ("properties", "patternProperties")

Check = Callable[[Any], Any]


def compile_check(schema: dict[str, Any], *, validate_formats: bool) -> Check | None:
    """Compile `schema` with fastjsonschema, or return None where it could differ.

    None is returned when string formats are validated, because the
    libraries check formats differently. It is also returned for a schema
    with a keyword of `_DIFFERING_KEYWORDS`, an `items` list, or an `enum` or
    `const` with values other than strings and null, and for a schema that
    fastjsonschema cannot compile.
    """
    if validate_formats or not _same_in_both_drafts(schema):
        return None
    # Without `$schema`, fastjsonschema reads the schema as draft 7.
    definition = {key: value for key, value in schema.items() if key != "$schema"}
    try:
        return fastjsonschema.compile(
            definition,
            use_default=False,  # it would otherwise write defaults into records
            use_formats=False,
            detailed_exceptions=False,
        )
    except fastjsonschema.JsonSchemaDefinitionException:
        return None


class CompiledSchemaValidator(BaseJSONSchemaValidator):
    """Accept what the compiled check accepts; the SDK's validator judges the rest."""

    def __init__(self, inner: BaseJSONSchemaValidator, check: Check) -> None:
        """Wrap the SDK's validator `inner` with a check from `compile_check`."""
        super().__init__(inner.schema)
        self._inner = inner
        self._check = check

    @override
    def validate(self, record: dict[str, Any]) -> None:
        try:
            self._check(record)
        except Exception:
            # Whatever stopped the compiled check, the SDK's validator decides:
            # it raises InvalidRecord with the SDK's message, or accepts a
            # record that only the compiled check rejects, such as 15.0 for
            # an integer.
            self._inner.validate(record)


def _same_in_both_drafts(schema: Any) -> bool:
    return all(_subschema_is_portable(subschema) for subschema in _subschemas(schema))


def _subschema_is_portable(subschema: dict[str, Any]) -> bool:
    if not _DIFFERING_KEYWORDS.isdisjoint(subschema):
        return False
    if isinstance(subschema.get("items"), list):
        return False
    values = list(subschema.get("enum") or [])
    if "const" in subschema:
        values.append(subschema["const"])
    return all(value is None or isinstance(value, str) for value in values)


def _subschemas(schema: Any) -> Iterator[dict[str, Any]]:
    """Yield `schema` and every subschema in it, at every depth."""
    if not isinstance(schema, dict):
        return
    yield schema
    for keyword in _SUBSCHEMA_KEYWORDS:
        yield from _subschemas(schema.get(keyword))
    for keyword in _SUBSCHEMA_LIST_KEYWORDS:
        for element in schema.get(keyword) or []:
            yield from _subschemas(element)
    for keyword in _SUBSCHEMA_MAP_KEYWORDS:
        mapping = schema.get(keyword)
        if isinstance(mapping, dict):
            for element in mapping.values():
                yield from _subschemas(element)
