"""Airflow 3 DAG: run the Meltano job planhat-tickets-to-duckdb hourly, in prod.

The task runs ``meltano --environment=prod run planhat-tickets-to-duckdb`` in
the Meltano project, so Meltano keeps the tap's bookmark between runs and each
run reads only the tickets changed since the last one.

The worker that runs the task needs Meltano and this project:

- ``MELTANO_PROJECT_ROOT``: the folder with meltano.yml. Default: two folders
  above this file, which is right while the DAG stays in orchestrate/dags.
- ``MELTANO_EXECUTABLE``: the meltano program. Default: ``meltano`` on PATH.
- ``TAP_PLANHAT_TICKETS_API_TOKEN``: the Planhat token, in the worker's
  environment or in the project's .env file. ``append_env=True`` passes the
  worker's environment on to Meltano, so the token never appears in the DAG.

Airflow reads the first two when it parses this file; Meltano reads the
token when the task runs.
"""

from __future__ import annotations

import os
import shlex
from datetime import datetime, timedelta, timezone
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

PROJECT_ROOT = Path(
    os.environ.get("MELTANO_PROJECT_ROOT") or Path(__file__).resolve().parents[2]
)
MELTANO = os.environ.get("MELTANO_EXECUTABLE") or "meltano"
JOB = "planhat-tickets-to-duckdb"

with DAG(
    dag_id="planhat_tickets_hourly",
    description="Planhat tickets into DuckDB with Meltano, incrementally, every hour",
    # The same interval as the Meltano schedule planhat-tickets-hourly.
    schedule="@hourly",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    # A missed hour needs no run of its own: the next run reads every change
    # since the bookmark.
    catchup=False,
    # Two runs at once would read from the same bookmark and write the same
    # rows. Meltano also rejects a second run with the same state id.
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        # A run that hangs is killed before the next hour's run is due.
        "execution_timeout": timedelta(minutes=50),
    },
    tags=["meltano", "planhat"],
) as dag:
    BashOperator(
        task_id="meltano_run",
        bash_command=f"{shlex.quote(MELTANO)} --environment=prod run {JOB}",
        cwd=str(PROJECT_ROOT),
        env={"MELTANO_PROJECT_ROOT": str(PROJECT_ROOT)},
        append_env=True,
    )
