"""Write MeltanoHub plugin definitions of both connectors from `--about --format=json`.

Each connector's name, description and settings (label, kind, description,
default, options, `sensitive`) and its required settings come from its
`--about --format=json` output, so the files change with the code. The
capabilities come from meltano.yml, which declares them on purpose: the
target leaves out schema-flattening, so its flattening settings are left
out too. The files go to
hub/extractors/tap-planhat-tickets.yml and hub/loaders/target-planhat-tickets.yml,
with keys sorted as in the MeltanoHub repository. `--check` exits 1 when a
file is out of date instead of writing it.

    python scripts/hub_definitions.py [--check]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from importlib.metadata import metadata
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
HUB_DIR = ROOT / "hub"
BIN = Path(sys.executable).parent
# Plugin type and executable of each connector, with its MeltanoHub label.
CONNECTORS = (
    ("extractors", "tap-planhat-tickets", "Planhat Tickets"),
    ("loaders", "target-planhat-tickets", "Planhat Tickets"),
)
# Meltano setting kinds for the JSON types of the settings.
KIND_BY_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}
PACKAGE_NAME = "planhat-tickets-connectors"


def about(executable: str) -> dict[str, Any]:
    """Return the connector's `--about --format=json` output."""
    result = subprocess.run(  # noqa: S603 - runs this package's own executable
        [str(BIN / executable), "--about", "--format=json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def project_urls() -> dict[str, str]:
    """Return the `[project.urls]` of pyproject.toml by label, as installed."""
    urls = {}
    for entry in metadata(PACKAGE_NAME).get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls[label.strip()] = url.strip()
    return urls


def variant_name(repository: str | None) -> str:
    """Return the MeltanoHub variant: the repository's owner, or the package name."""
    if repository is None:
        return PACKAGE_NAME
    return repository.rstrip("/").split("/")[-2]


def setting_kind(definition: dict[str, Any]) -> str:
    """Return the Meltano setting kind of a JSON schema property."""
    if "enum" in definition:
        return "options"
    if definition.get("format") == "date-time":
        return "date_iso8601"
    types = definition.get("type", "string")
    types = types if isinstance(types, list) else [types]
    non_null = [name for name in types if name != "null"]
    return KIND_BY_TYPE.get(non_null[0], "string") if non_null else "string"


def hub_setting(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    """Return the MeltanoHub setting of one property of the settings schema."""
    setting: dict[str, Any] = {
        "name": name,
        "label": definition.get("title") or name.replace("_", " ").title(),
        "kind": setting_kind(definition),
    }
    if definition.get("description"):
        setting["description"] = definition["description"]
    if "default" in definition:
        setting["value"] = definition["default"]
    if "enum" in definition:
        setting["options"] = [
            {"label": str(value), "value": value} for value in definition["enum"]
        ]
    if definition.get("secret"):
        setting["sensitive"] = True
    return setting


def declared_capabilities(plugin_type: str, name: str) -> list[str]:
    """Return the capabilities that meltano.yml declares for the plugin."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    plugin = next(
        item for item in project["plugins"][plugin_type] if item["name"] == name
    )
    return sorted(plugin["capabilities"])


def definition(plugin_type: str, executable: str, label: str) -> dict[str, Any]:
    """Return the MeltanoHub plugin definition of one connector."""
    info = about(executable)
    settings_schema = info["settings"]
    capabilities = declared_capabilities(plugin_type, info["name"])
    properties = settings_schema["properties"]
    if "schema-flattening" not in capabilities:
        properties = {
            name: value
            for name, value in properties.items()
            if not name.startswith("flattening_")
        }
    urls = project_urls()
    repository = urls.get("Repository")
    plugin: dict[str, Any] = {
        "name": info["name"],
        "namespace": info["name"].replace("-", "_"),
        "variant": variant_name(repository),
        "label": label,
        "description": info["description"],
        "executable": executable,
        "pip_url": f"git+{repository}" if repository else PACKAGE_NAME,
        "capabilities": capabilities,
        "settings_group_validation": [sorted(settings_schema.get("required", []))],
        "settings": [
            hub_setting(name, property_schema)
            for name, property_schema in sorted(properties.items())
        ],
        "keywords": ["meltano_sdk", "planhat", "tickets"],
        "domain_url": "https://www.planhat.com",
        "maintenance_status": "active",
        # The hub's schema requires a quality rating; the hub's maintainers
        # rate a connector, so a new one is "unknown".
        "quality": "unknown",
    }
    if repository:
        plugin["repo"] = repository
        plugin["docs"] = urls.get("Documentation", f"{repository.rstrip('/')}#readme")
    return plugin


def render(plugin: dict[str, Any]) -> str:
    """Return the definition as YAML with sorted keys, as MeltanoHub stores them."""
    return yaml.safe_dump(plugin, sort_keys=True, allow_unicode=True, width=88)


def main() -> int:
    """Write or check the definition files and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a file is out of date"
    )
    arguments = parser.parse_args()

    stale = []
    for plugin_type, executable, label in CONNECTORS:
        path = HUB_DIR / plugin_type / f"{executable}.yml"
        text = render(definition(plugin_type, executable, label))
        if arguments.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.relative_to(ROOT))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    if stale:
        names = ", ".join(str(path) for path in stale)
        print(f"{names} out of date: run python scripts/hub_definitions.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
