"""Fixtures: a virtual environment with Airflow 3, apart from the test suite's.

Airflow lives in .airflow-venv, installed from
orchestrate/requirements-airflow.txt with the pinned
orchestrate/airflow-constraints.txt, so that its dependencies never change
the versions that the connectors and Meltano run with. The stamp file is the one that
`make airflow-venv` writes, so the tests and the Makefile reinstall under the
same rule: when either file is newer than the stamp.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The Meltano tests' fixtures, for the tests that run the DAGs' commands.
from tests.meltano.conftest import meltano_installed, sandbox  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
DAG_FOLDER = ROOT / "orchestrate" / "dags"
AIRFLOW_VENV = ROOT / ".airflow-venv"
AIRFLOW_PYTHON = AIRFLOW_VENV / "bin" / "python"
INSTALL_STAMP = AIRFLOW_VENV / ".installed"
REQUIREMENTS = ROOT / "orchestrate" / "requirements-airflow.txt"
CONSTRAINTS = ROOT / "orchestrate" / "airflow-constraints.txt"
# A cold install took about 65 seconds on the development machine (2 cores).
INSTALL_TIMEOUT_SECONDS = 900
INSPECT_SCRIPT = Path(__file__).resolve().parent / "inspect_dags.py"
# Variables of the caller's shell that would change how the DAGs parse or run.
INHERITED_PREFIXES = (
    "AIRFLOW_",
    "AIRFLOW__",
    "MELTANO_",
    "PLANHAT_",
    "TAP_PLANHAT_TICKETS_",
    "TARGET_DUCKDB_",
)


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """Return the Python of .airflow-venv, installing Airflow first unless the stamp is current."""
    inputs = [REQUIREMENTS, CONSTRAINTS]
    if INSTALL_STAMP.exists() and all(
        path.stat().st_mtime <= INSTALL_STAMP.stat().st_mtime for path in inputs
    ):
        return AIRFLOW_PYTHON

    if not AIRFLOW_PYTHON.exists():
        subprocess.run(
            [sys.executable, "-m", "venv", str(AIRFLOW_VENV)], check=True, timeout=120
        )
    result = subprocess.run(
        [
            str(AIRFLOW_PYTHON),
            "-m",
            "pip",
            "install",
            "--quiet",
            "-r",
            str(REQUIREMENTS),
            "-c",
            str(CONSTRAINTS),
        ],
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, (
        f"installing Airflow failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    )
    INSTALL_STAMP.touch()
    return AIRFLOW_PYTHON


def airflow_environment(airflow_home: Path, **variables: str) -> dict[str, str]:
    """Return the caller's environment without Airflow, Meltano and connector variables, plus ``variables``.

    ``airflow_home`` keeps Airflow's configuration, logs and database out of
    the home folder.
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(INHERITED_PREFIXES)
    }
    environment.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    })  # fmt: skip
    environment.update(variables)
    return environment


def inspect_dags(
    airflow_python: Path, environment: dict[str, str], dag_folder: Path = DAG_FOLDER
) -> dict[str, Any]:
    """Parse ``dag_folder`` with Airflow's DagBag and return its import errors and DAGs."""
    output_file = Path(environment["AIRFLOW_HOME"]) / "dags.json"
    output_file.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [str(airflow_python), str(INSPECT_SCRIPT), str(dag_folder), str(output_file)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (
        f"inspect_dags.py failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    )
    return json.loads(output_file.read_text(encoding="utf-8"))
