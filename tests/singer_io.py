"""Run the real connector CLIs and read the Singer messages they write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent


@dataclass
class TapRun:
    """Output of one tap run, split by message type."""

    returncode: int
    stderr: str
    records: list[dict[str, Any]] = field(default_factory=list)
    states: list[dict[str, Any]] = field(default_factory=list)
    schemas: list[dict[str, Any]] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)

    @property
    def last_state(self) -> dict[str, Any] | None:
        return self.states[-1] if self.states else None

    def record_ids(self) -> list[str]:
        return [record["_id"] for record in self.records]


def run_tap(
    tmp_path: Path,
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> TapRun:
    """Run `tap-planhat-tickets` as a subprocess and parse its stdout."""
    config_path = tmp_path / "tap-config.json"
    config_path.write_text(json.dumps(config))
    command = [str(BIN / "tap-planhat-tickets"), "--config", str(config_path), *args]
    if state is not None:
        state_path = tmp_path / "tap-state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    if catalog is not None:
        catalog_path = tmp_path / "tap-catalog.json"
        catalog_path.write_text(json.dumps(catalog))
        command += ["--catalog", str(catalog_path)]

    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    return parse_tap_output(completed.returncode, completed.stdout, completed.stderr)


def parse_tap_output(returncode: int, stdout: str, stderr: str) -> TapRun:
    """Split a tap's stdout into Singer messages by type."""
    run = TapRun(returncode=returncode, stderr=stderr)
    for line in stdout.splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        kind = message["type"]
        if kind == "RECORD":
            run.records.append(message["record"])
        elif kind == "STATE":
            run.states.append(message["value"])
        elif kind == "SCHEMA":
            run.schemas.append(message)
        else:
            run.other.append(message)
    return run


def discover(tmp_path: Path, config: dict[str, Any]) -> dict[str, Any]:
    """Return the tap's catalog."""
    config_path = tmp_path / "discover-config.json"
    config_path.write_text(json.dumps(config))
    completed = subprocess.run(
        [str(BIN / "tap-planhat-tickets"), "--config", str(config_path), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(completed.stdout)


def select_only(catalog: dict[str, Any], properties: set[str]) -> dict[str, Any]:
    """Deselect every property of the tickets stream but `properties`."""
    stream = catalog["streams"][0]
    for entry in stream["metadata"]:
        breadcrumb = entry["breadcrumb"]
        if not breadcrumb:
            entry["metadata"]["selected"] = True
        elif breadcrumb[-1] in properties:
            entry["metadata"]["selected"] = True
        elif entry["metadata"].get("inclusion") != "automatic":
            entry["metadata"]["selected"] = False
    return catalog
