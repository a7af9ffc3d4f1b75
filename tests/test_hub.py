"""MeltanoHub definitions in hub/, LICENSE, CHANGELOG and the version: current and consistent."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
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
