"""The facts of a schema that the parsing of date-like record fields needs.

The SDK's `Sink._parse_timestamps_in_record` looks up the type of every
property of every record. These lookups depend on the schema only, so
`TimestampPlan` makes them once per schema.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The SDK's own parsers, so that a value parses exactly as in the SDK.
from singer_sdk.helpers._compat import (
    date_fromisoformat,
    datetime_fromisoformat,
    time_fromisoformat,
)
from singer_sdk.helpers._typing import get_datelike_property_type

#: Parser of each date-like format, as the SDK's loop picks it.
_PARSERS: dict[str, Callable[[str], Any]] = {
    "date-time": datetime_fromisoformat,
    "date": date_fromisoformat,
    "time": time_fromisoformat,
}


@dataclass(frozen=True)
class TimestampPlan:
    """The facts of one schema that `_parse_timestamps_in_record` uses."""

    schema: dict[str, Any]
    properties: frozenset[str]
    allows_unknown: bool
    #: Date-like properties, in schema order.
    datelike: tuple[str, ...]
    #: The schema reduced to the date-like properties.
    datelike_schema: dict[str, Any]
    #: (name, parser) of each date-like property, in schema order.
    parsers: tuple[tuple[str, Callable[[str], Any]], ...]

    @classmethod
    def of(cls, schema: dict[str, Any]) -> TimestampPlan:
        """Look up the date-like properties of `schema`."""
        properties = schema["properties"]
        formats = {
            name: get_datelike_property_type(spec) for name, spec in properties.items()
        }
        datelike = tuple(name for name, kind in formats.items() if kind)
        return cls(
            schema=schema,
            properties=frozenset(properties),
            allows_unknown=bool(schema.get("additionalProperties", False)),
            datelike=datelike,
            datelike_schema={
                "properties": {name: properties[name] for name in datelike}
            },
            parsers=tuple((name, _parser(formats[name])) for name in datelike),
        )

    def parse_all_or_none(self, record: dict[str, Any]) -> bool:
        """Parse the date-like values of `record` in place if every one parses.

        Returns False, with `record` unchanged, when a value does not parse.
        Then the SDK's parsing must handle it by the datetime error treatment.
        """
        parsed = []
        for name, parse in self.parsers:
            value = record.get(name)
            if value is None:
                continue
            try:
                parsed.append((name, parse(value)))
            except (ValueError, TypeError):
                return False
        for name, value in parsed:
            record[name] = value
        return True


def _parser(datelike_format: str | None) -> Callable[[str], Any]:
    # The SDK's loop parses every format other than "time" and "date" as a
    # date-time, and so does this.
    return _PARSERS.get(datelike_format or "", datetime_fromisoformat)
