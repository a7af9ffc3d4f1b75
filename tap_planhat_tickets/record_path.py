"""Checks that decide whether records may skip the SDK's per-record path."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from singer_sdk.mapper import SameRecordTransform

if TYPE_CHECKING:
    from singer_sdk.mapper import StreamMap

#: JSON Schema keywords that never change how the SDK conforms a record.
ANNOTATIONS = frozenset(
    {"title", "description", "readOnly", "writeOnly", "examples", "$comment", "$schema"}
)


def without_annotations(schema: Any) -> Any:
    """Return a copy of a JSON schema without annotation keywords, at every depth."""
    if isinstance(schema, list):
        return [without_annotations(element) for element in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key in ("properties", "patternProperties") and isinstance(value, dict):
            # Property names, not keywords: keep every one.
            result[key] = {
                name: without_annotations(spec) for name, spec in value.items()
            }
        else:
            result[key] = without_annotations(value)
    return result


#: `type` values that make the SDK conform a property as a boolean.
BOOLEAN_TYPES = ("boolean", ["boolean"], ["boolean", "null"], ["null", "boolean"])


def exclusive_boolean_properties(schema: dict[str, Any]) -> tuple[str, ...]:
    """Return the top-level properties typed boolean or null, which the SDK conforms."""
    return tuple(
        name
        for name, spec in schema["properties"].items()
        if spec.get("type") in BOOLEAN_TYPES
    )


def passes_records_unchanged(stream_maps: list[StreamMap]) -> bool:
    """Return True for the SDK's default stream map alone, without flattening."""
    if len(stream_maps) != 1:
        return False
    stream_map = stream_maps[0]
    return type(stream_map) is SameRecordTransform and not stream_map.flattening_enabled
