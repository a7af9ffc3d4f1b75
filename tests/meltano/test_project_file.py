"""meltano.yml: valid for the installed Meltano, and in step with the tap's own settings."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tap_planhat_tickets.tap import TapPlanhatTickets
from tests.meltano.conftest import ROOT

TAP = Path(sys.executable).parent / "tap-planhat-tickets"

# Meltano setting kinds for the JSON types of the tap's settings.
KIND_BY_TYPE = {
    "string": "string",
    "integer": "integer",
    "number": "decimal",
    "boolean": "boolean",
    "array": "array",
    "object": "object",
}


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def about() -> dict[str, Any]:
    result = subprocess.run([str(TAP), "--about", "--format=json"], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def plugin(project: dict[str, Any], plugin_type: str, name: str) -> dict[str, Any]:
    return next(item for item in project["plugins"][plugin_type] if item["name"] == name)


def json_type(definition: dict[str, Any]) -> str:
    types = definition["type"] if isinstance(definition["type"], list) else [definition["type"]]
    (non_null,) = [name for name in types if name != "null"]
    return non_null


def test_project_matches_meltano_schema(project):
    schema_file = importlib.resources.files("meltano") / "schemas" / "meltano.schema.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))

    jsonschema.Draft202012Validator(schema).validate(project)


def test_project_requires_installed_meltano(project):
    assert "version" not in project
    assert importlib.metadata.version("meltano") in SpecifierSet(project["requires_meltano"])


def test_project_sends_no_usage_stats(project):
    assert project["send_anonymous_usage_stats"] is False
    assert project["project_id"]


def test_project_environments(project):
    names = [environment["name"] for environment in project["environments"]]

    assert {"dev", "prod", "demo"} <= set(names)
    assert project["default_environment"] in names


@pytest.mark.parametrize("plugin_type", ["extractors", "loaders"])
def test_plugins_need_no_hub(project, plugin_type):
    for definition in project["plugins"][plugin_type]:
        assert definition.get("namespace"), definition["name"]
        assert definition.get("pip_url"), definition["name"]
        assert definition.get("executable"), definition["name"]
        assert "inherit_from" not in definition, definition["name"]
        assert definition.get("settings"), definition["name"]


def test_tap_declares_every_own_setting(project):
    declared = {setting["name"]: setting for setting in plugin(project, "extractors", "tap-planhat-tickets")["settings"]}
    own = TapPlanhatTickets.config_jsonschema["properties"]

    for name, definition in own.items():
        assert name in declared, f"meltano.yml lacks the tap setting {name}"
        setting = declared[name]
        assert setting["label"] == definition["title"], name
        assert " ".join(setting["description"].split()) == definition["description"], name
        assert setting.get("sensitive", False) == definition.get("secret", False), name
        expected_kind = "date_iso8601" if definition.get("format") == "date-time" else KIND_BY_TYPE[json_type(definition)]
        assert setting["kind"] == expected_kind, name


def test_tap_declares_only_known_settings(project, about):
    declared = [setting["name"] for setting in plugin(project, "extractors", "tap-planhat-tickets")["settings"]]

    assert len(declared) == len(set(declared))
    assert set(declared) <= set(about["settings"]["properties"])


def test_tap_required_settings_validated(project):
    tap = plugin(project, "extractors", "tap-planhat-tickets")
    required = TapPlanhatTickets.config_jsonschema["required"]

    assert tap["settings_group_validation"] == [required]


def test_tap_capabilities(project, about):
    declared = plugin(project, "extractors", "tap-planhat-tickets")["capabilities"]

    assert set(declared) == {"state", "catalog", "discover", "about", "stream-maps", "schema-flattening"}
    assert set(declared) <= set(about["capabilities"])


def test_project_sets_no_token(project):
    configs = [definition.get("config", {}) for definition in project["plugins"]["extractors"]]
    for environment in project["environments"]:
        extractors = environment.get("config", {}).get("plugins", {}).get("extractors", [])
        configs += [definition.get("config", {}) for definition in extractors]

    for config in configs:
        assert "api_token" not in config
