"""Parse a DAG folder with Airflow's DagBag and write what the tests check to a JSON file.

Runs with the Python of the Airflow virtual environment, not the test suite's:

    .airflow-venv/bin/python tests/airflow/inspect_dags.py DAG_FOLDER OUTPUT_FILE

The result goes to a file because Airflow logs to standard output.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from airflow.dag_processing.dagbag import DagBag


def describe_task(task: Any) -> dict[str, Any]:
    """Return the task's operator and the BashOperator arguments that the tests check."""
    timeout = task.execution_timeout
    return {
        "operator": f"{type(task).__module__}.{type(task).__name__}",
        "bash_command": task.bash_command,
        "env": task.env,
        "append_env": task.append_env,
        "cwd": task.cwd,
        "retries": task.retries,
        "execution_timeout_seconds": None
        if timeout is None
        else timeout.total_seconds(),
        "upstream_task_ids": sorted(task.upstream_task_ids),
    }


def main() -> int:
    """Write the DagBag's import errors and each DAG's schedule and tasks to OUTPUT_FILE."""
    bag = DagBag(dag_folder=sys.argv[1])
    dags = {
        dag_id: {
            "schedule": dag.schedule,
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "fileloc": dag.fileloc,
            "tasks": {task.task_id: describe_task(task) for task in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    }
    with open(sys.argv[2], "w", encoding="utf-8") as output:
        json.dump(
            {"import_errors": bag.import_errors, "dags": dags},
            output,
            indent=2,
            default=str,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
