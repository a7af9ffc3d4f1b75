"""MeltanoHub definitions in hub/, LICENSE, CHANGELOG and the version: current and consistent."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
REPOSITORY = "https://github.com/planhat-tickets/planhat-tickets-connectors"
# Values that the JSON schemas of MeltanoHub (github.com/meltano/hub) allow.
# Setting kinds and keys come from schemas/common/base_setting.schema.json,
# plugin keys from schemas/plugin_definitions/extractors.schema.json and
# loaders.schema.json, statuses and qualities from hub_metadata.schema.json.
# NOTE: copied by hand from those files, so a later change of the hub's
# schemas is not noticed here.
HUB_SETTING_KINDS = {
    "oauth", "hidden", "password", "date_iso8601", "file", "email", "integer",
    "options", "object", "array", "boolean", "string", "decimal",
}
HUB_SETTING_KEYS = {
    "name", "aliases", "label", "value", "placeholder", "kind", "description",
    "tooltip", "documentation", "env", "value_processor", "value_post_processor",
    "oauth", "options", "docs", "hidden", "sensitive",
}
HUB_PLUGIN_KEYS = {
    "name", "pip_url", "variant", "namespace", "label", "description", "executable",
    "settings", "docs", "repo", "logo_url", "hidden", "python",
    "settings_group_validation", "commands", "capabilities", "maintenance_status",
    "quality", "domain_url", "keywords", "requires", "definition", "next_steps",
    "settings_preamble", "usage", "prereq", "supported_python_versions", "log_parser",
}
HUB_PLUGIN_KEYS_BY_TYPE = {
    "extractors": HUB_PLUGIN_KEYS | {"metadata", "schema", "select"},
    "loaders": HUB_PLUGIN_KEYS | {"dialect", "target_schema"},
}
HUB_MAINTENANCE_STATUSES = {"active", "beta", "development", "inactive", "unknown"}
HUB_QUALITIES = {"gold", "silver", "bronze", "unknown"}
DEFINITIONS = {
    ("extractors", "tap-planhat-tickets"): ROOT / "hub" / "extractors" / "tap-planhat-tickets.yml",
    ("loaders", "target-planhat-tickets"): ROOT / "hub" / "loaders" / "target-planhat-tickets.yml",
}


def meltano_plugin(plugin_type: str, name: str) -> dict:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return next(item for item in project["plugins"][plugin_type] if item["name"] == name)


def test_hub_definitions_current():
    completed = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "hub_definitions.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize(("plugin_type", "name"), list(DEFINITIONS))
def test_hub_definition_matches_meltano_yml(plugin_type, name):
    hub = yaml.safe_load(DEFINITIONS[plugin_type, name].read_text(encoding="utf-8"))
    declared = meltano_plugin(plugin_type, name)

    for key in ("name", "namespace", "executable"):
        assert hub[key] == declared[key], key
    for key in ("label", "variant", "description", "pip_url"):
        assert hub[key], key
    assert hub["capabilities"] == sorted(declared["capabilities"])
    assert hub["settings_group_validation"] == declared["settings_group_validation"]
    hub_settings = {setting["name"]: setting for setting in hub["settings"]}
    for setting in declared["settings"]:
        assert setting["name"] in hub_settings, setting["name"]
        hub_setting = hub_settings[setting["name"]]
        assert hub_setting["kind"] == setting["kind"], setting["name"]
        assert hub_setting.get("sensitive", False) == setting.get("sensitive", False), setting["name"]


@pytest.mark.parametrize(("plugin_type", "name"), list(DEFINITIONS))
def test_hub_definition_names_repository(plugin_type, name):
    hub = yaml.safe_load(DEFINITIONS[plugin_type, name].read_text(encoding="utf-8"))

    assert hub["repo"] == REPOSITORY
    assert hub["docs"] == f"{REPOSITORY}#readme"
    assert hub["pip_url"] == f"git+{REPOSITORY}"
    assert hub["variant"] == "planhat-tickets"


@pytest.mark.parametrize(("plugin_type", "name"), list(DEFINITIONS))
def test_hub_definition_fits_hub_schema(plugin_type, name):
    hub = yaml.safe_load(DEFINITIONS[plugin_type, name].read_text(encoding="utf-8"))

    assert set(hub) <= HUB_PLUGIN_KEYS_BY_TYPE[plugin_type]
    for key in ("name", "namespace", "variant", "quality"):
        assert key in hub, key
    assert hub["maintenance_status"] in HUB_MAINTENANCE_STATUSES
    assert hub["quality"] in HUB_QUALITIES
    for setting in hub["settings"]:
        assert set(setting) <= HUB_SETTING_KEYS, setting["name"]
        assert setting["kind"] in HUB_SETTING_KINDS, setting["name"]
        for option in setting.get("options", []):
            assert isinstance(option["value"], str), setting["name"]


def test_pyproject_urls_point_at_repository():
    entries = importlib.metadata.metadata("planhat-tickets-connectors").get_all("Project-URL")
    urls = dict(entry.split(", ", 1) for entry in entries)

    assert urls["Repository"] == REPOSITORY
    assert urls["Documentation"] == f"{REPOSITORY}#readme"
    assert urls["Changelog"] == f"{REPOSITORY}/blob/main/CHANGELOG.md"
    assert urls["Issues"] == f"{REPOSITORY}/issues"


def test_license_is_apache():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")

    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")


def test_changelog_names_version():
    version = importlib.metadata.version("planhat-tickets-connectors")
    headings = [line for line in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines() if line.startswith("## ")]

    assert headings[0].startswith(f"## [{version}]")


@pytest.mark.parametrize(("plugin_type", "name"), list(DEFINITIONS))
def test_cli_reports_package_version(plugin_type, name):
    result = subprocess.run(
        [str(Path(sys.executable).parent / name), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )

    assert importlib.metadata.version("planhat-tickets-connectors") in result.stdout + result.stderr
