"""Loading of the one ticket JSON schema that tap and target share."""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

_SCHEMA_NAME = "ticket.json"


@functools.cache
def _read_schema_text() -> str:
    # A wheel carries the schema inside this package (see the force-include
    # in pyproject.toml). An editable install or a source checkout does not,
    # so fall back to the file at the repository's top level.
    packaged = resources.files("planhat_api") / _SCHEMA_NAME
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")

    checkout = Path(__file__).resolve().parent.parent / "schemas" / _SCHEMA_NAME
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")

    msg = (
        f"The ticket schema {_SCHEMA_NAME} was found neither in the installed "
        f"package nor at {checkout}. Reinstall the package."
    )
    raise FileNotFoundError(msg)


def load_ticket_schema() -> dict[str, Any]:
    """Load the ticket JSON schema as a new dictionary the caller may change."""
    schema: dict[str, Any] = json.loads(_read_schema_text())
    return schema


def load_readable_ticket_schema() -> dict[str, Any]:
    """Load the ticket schema without the properties that are only ever written."""
    schema = load_ticket_schema()
    schema["properties"] = {
        name: spec
        for name, spec in schema["properties"].items()
        if not spec.get("writeOnly")
    }
    return schema
