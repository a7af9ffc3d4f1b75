"""Fixtures that run the real Meltano CLI on this repository's meltano.yml.

Each test gets its own Meltano system database (and so its own state) and
its own DuckDB file under tmp_path. The plugins live in the repository's
.meltano folder and are installed at most once per test session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planhat_sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]
MELTANO = Path(sys.executable).parent / "meltano"
INSTALL_STAMP = ROOT / ".meltano" / ".installed"
INSTALL_TIMEOUT_SECONDS = 600
RUN_TIMEOUT_SECONDS = 300
# The sandbox accepts this token only on 127.0.0.1, so it is no secret.
TOKEN = "meltano-test-token"
# Variables of the caller's shell that would change which settings or which
# state the tests use.
INHERITED_PREFIXES = (
    "TAP_PLANHAT_TICKETS_",
    "TARGET_DUCKDB_",
    "TAP_SPREADSHEETS_",
    "TARGET_PLANHAT_TICKETS_",
    "MELTANO_STATE_BACKEND_",
)
INHERITED_NAMES = ("MELTANO_ENVIRONMENT", "MELTANO_DATABASE_URI")


@dataclass
class MeltanoProject:
    """The repository's Meltano project, run with a test's own database and settings."""

    environment: dict[str, str]
    duckdb_file: Path

    def run(self, *arguments: str, timeout: float = RUN_TIMEOUT_SECONDS) -> subprocess.CompletedProcess[str]:
        """Run ``meltano ARGUMENTS`` in the repository and fail the test on a non-zero exit."""
        result = subprocess.run(
            [str(MELTANO), *arguments],
            cwd=ROOT,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, (
            f"meltano {' '.join(arguments)} exited with {result.returncode}\n"
            f"stdout:\n{result.stdout[-5000:]}\nstderr:\n{result.stderr[-5000:]}"
        )
        return result

    def state(self, state_id: str) -> dict[str, Any]:
        """Return the state that Meltano stored under ``state_id``."""
        return json.loads(self.run("state", "get", state_id).stdout)


@pytest.fixture(scope="session")
def meltano_installed() -> None:
    """Install the plugins of meltano.yml, unless `make` installed them after the last change.

    The stamp file is the one that the Makefile's meltano-install target
    writes, so the tests and `make demo` reinstall under the same rule.
    """
    inputs = [ROOT / "meltano.yml", ROOT / "pyproject.toml"]
    if INSTALL_STAMP.exists() and all(path.stat().st_mtime <= INSTALL_STAMP.stat().st_mtime for path in inputs):
        return

    environment = {name: value for name, value in os.environ.items() if name not in INHERITED_NAMES}
    result = subprocess.run(
        [str(MELTANO), "install"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"meltano install failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    INSTALL_STAMP.touch()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A sandbox on a free port of 127.0.0.1."""
    with Sandbox() as running:
        yield running


@pytest.fixture
def meltano(meltano_installed: None, sandbox: Sandbox, tmp_path: Path) -> MeltanoProject:
    """The Meltano project, pointed at the test's sandbox and DuckDB file."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(INHERITED_PREFIXES) and name not in INHERITED_NAMES
    }
    duckdb_file = tmp_path / "tickets.duckdb"
    environment.update({
        "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
        "TAP_PLANHAT_TICKETS_API_URL": sandbox.url,
        "TAP_PLANHAT_TICKETS_API_TOKEN": TOKEN,
        "TARGET_DUCKDB_FILEPATH": str(duckdb_file),
    })  # fmt: skip
    return MeltanoProject(environment=environment, duckdb_file=duckdb_file)
