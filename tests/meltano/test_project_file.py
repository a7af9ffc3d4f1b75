"""meltano.yml: valid for the installed Meltano, and in step with the connectors' own settings."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.meltano.conftest import ROOT

BIN = Path(sys.executable).parent

# This repository's connectors, by Meltano plugin type and name: the module
# and class that define their settings.
CONNECTORS = {
    ("extractors", "tap-planhat-tickets"): ("tap_planhat_tickets.tap", "TapPlanhatTickets"),
    ("loaders", "target-planhat-tickets"): ("target_planhat_tickets.target", "TargetPlanhatTickets"),
}
CAPABILITIES = {
    "tap-planhat-tickets": {"state", "catalog", "discover", "about", "stream-maps", "schema-flattening"},
    # The SDK could flatten on the target side too, but flattened keys are
    # not ticket fields, so the target does not declare schema-flattening.
    "target-planhat-tickets": {"about", "stream-maps", "hard-delete"},
}
JOB = "planhat-tickets-to-duckdb"
SCHEDULE = "planhat-tickets-hourly"
ENV_EXAMPLE = ROOT / ".env.example"

# Meltano setting kinds for the JSON types of the connectors' settings.
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


def about(name: str) -> dict[str, Any]:
    result = subprocess.run([str(BIN / name), "--about", "--format=json"], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def own_settings(plugin_type: str, name: str) -> dict[str, Any]:
    """Return the connector's own settings schema, without the SDK's built-in settings.

    It is read in a fresh interpreter because the SDK adds its built-in
    settings to the class's ``config_jsonschema`` in place, once any test in
    this process has created a tap or target.
    """
    module, class_name = CONNECTORS[plugin_type, name]
    code = f"import json, {module} as m; print(json.dumps(m.{class_name}.config_jsonschema))"
    result = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return json.loads(result.stdout)


def plugin(project: dict[str, Any], plugin_type: str, name: str) -> dict[str, Any]:
    return next(item for item in project["plugins"][plugin_type] if item["name"] == name)


def expected_kind(definition: dict[str, Any]) -> str:
    if "enum" in definition:
        return "options"
    if definition.get("format") == "date-time":
        return "date_iso8601"
    types = definition["type"] if isinstance(definition["type"], list) else [definition["type"]]
    (non_null,) = [name for name in types if name != "null"]
    return KIND_BY_TYPE[non_null]


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


@pytest.mark.parametrize(("plugin_type", "name"), list(CONNECTORS))
def test_connector_declares_own_settings(project, plugin_type, name):
    declared = {setting["name"]: setting for setting in plugin(project, plugin_type, name)["settings"]}
    own = own_settings(plugin_type, name)["properties"]

    for setting_name, definition in own.items():
        assert setting_name in declared, f"meltano.yml lacks the {name} setting {setting_name}"
        setting = declared[setting_name]
        assert setting["label"] == definition["title"], setting_name
        assert " ".join(setting["description"].split()) == definition["description"], setting_name
        assert setting.get("sensitive", False) == definition.get("secret", False), setting_name
        assert setting["kind"] == expected_kind(definition), setting_name


@pytest.mark.parametrize(("plugin_type", "name"), list(CONNECTORS))
def test_connector_declares_known_settings(project, plugin_type, name):
    declared = [setting["name"] for setting in plugin(project, plugin_type, name)["settings"]]

    assert len(declared) == len(set(declared))
    assert set(declared) <= set(about(name)["settings"]["properties"])


@pytest.mark.parametrize(("plugin_type", "name"), list(CONNECTORS))
def test_connector_required_settings_validated(project, plugin_type, name):
    required = own_settings(plugin_type, name)["required"]

    assert plugin(project, plugin_type, name)["settings_group_validation"] == [required]


@pytest.mark.parametrize(("plugin_type", "name"), list(CONNECTORS))
def test_connector_capabilities(project, plugin_type, name):
    declared = plugin(project, plugin_type, name)["capabilities"]

    assert set(declared) == CAPABILITIES[name]
    assert set(declared) <= set(about(name)["capabilities"])


@pytest.mark.parametrize("plugin_type", ["extractors", "loaders"])
def test_plugins_validate_settings_groups(project, plugin_type):
    for definition in project["plugins"][plugin_type]:
        groups = definition.get("settings_group_validation")
        declared = {setting["name"] for setting in definition["settings"]}
        assert groups, f"{definition['name']} lacks settings_group_validation"
        for group in groups:
            assert set(group) <= declared, definition["name"]


def test_job_runs_tap_into_duckdb(project):
    jobs = {job["name"]: job for job in project["jobs"]}

    assert jobs[JOB]["tasks"] == ["tap-planhat-tickets target-duckdb"]


def test_schedule_runs_job_hourly(project):
    schedules = {schedule["name"]: schedule for schedule in project["schedules"]}

    assert schedules[SCHEDULE]["job"] == JOB
    assert schedules[SCHEDULE]["interval"] == "@hourly"


def env_example_assignments() -> dict[str, str]:
    """Return the variables of .env.example, commented-out ones included, with their values."""
    assignments = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        text = line.removeprefix("#").strip()
        name, equals, value = text.partition("=")
        if equals and name.isupper() and " " not in name:
            assignments[name] = value
    return assignments


def test_env_example_names_every_secret(project):
    secrets = set()
    for plugin_type in ("extractors", "loaders"):
        for definition in project["plugins"][plugin_type]:
            for setting in definition["settings"]:
                if setting.get("sensitive"):
                    secrets.add(f"{definition['name']}_{setting['name']}".upper().replace("-", "_"))

    assignments = env_example_assignments()

    assert secrets
    assert secrets <= set(assignments)
    assert "TAP_PLANHAT_TICKETS_API_TOKEN" in assignments
    assert "TARGET_PLANHAT_TICKETS_API_TOKEN" in assignments


def test_env_example_holds_no_values():
    for name, value in env_example_assignments().items():
        assert value == "", name


def test_env_file_is_ignored():
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()

    assert ".env" in ignored


@pytest.mark.slow
def test_meltano_lists_job_and_schedule(tmp_path):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MELTANO_")}
    environment["MELTANO_DATABASE_URI"] = f"sqlite:///{tmp_path / 'meltano.db'}"

    def meltano_json(*arguments: str) -> dict[str, Any]:
        result = subprocess.run(
            [str(BIN / "meltano"), *arguments, "--format=json"],
            cwd=ROOT,
            env=environment,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return json.loads(result.stdout)

    jobs = {job["job_name"]: job for job in meltano_json("job", "list")["jobs"]}
    schedules = {schedule["name"]: schedule for schedule in meltano_json("schedule", "list")["schedules"]["job"]}

    assert jobs[JOB]["tasks"] == ["tap-planhat-tickets target-duckdb"]
    assert schedules[SCHEDULE]["cron_interval"] == "0 * * * *"
    assert schedules[SCHEDULE]["job"]["name"] == JOB


def test_project_sets_no_token(project):
    configs = []
    for plugin_type in ("extractors", "loaders"):
        configs += [definition.get("config", {}) for definition in project["plugins"][plugin_type]]
        for environment in project["environments"]:
            definitions = environment.get("config", {}).get("plugins", {}).get(plugin_type, [])
            configs += [definition.get("config", {}) for definition in definitions]

    for config in configs:
        assert "api_token" not in config


@pytest.mark.slow
def test_config_set_keeps_file_intact(tmp_path):
    # `meltano config set` rewrites meltano.yml in Meltano's own key order and
    # drops comments it cannot place, so the file is kept in that order.
    original = (ROOT / "meltano.yml").read_text(encoding="utf-8")
    (tmp_path / "meltano.yml").write_text(original, encoding="utf-8")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MELTANO_")}

    subprocess.run(
        [str(BIN / "meltano"), "--environment=prod", "config", "set", "tap-planhat-tickets", "region", "eu"],
        cwd=tmp_path,
        env=environment,
        check=True,
        capture_output=True,
        timeout=120,
    )

    rewritten = (tmp_path / "meltano.yml").read_text(encoding="utf-8").splitlines()
    added = [line for line in rewritten if line.strip() == "region: eu"]
    assert len(added) == 1
    rewritten.remove(added[0])
    assert rewritten == original.splitlines()
