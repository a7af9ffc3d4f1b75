"""The Airflow DAGs in orchestrate/dags: parsed by a real Airflow 3, and their commands run against the sandbox."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
import yaml

from planhat_sandbox import Sandbox
from tests.airflow.conftest import DAG_FOLDER, ROOT, airflow_environment, inspect_dags
from tests.meltano.conftest import MELTANO, TOKEN

pytestmark = pytest.mark.slow

HOURLY = "planhat_tickets_hourly"
BY_GROUP = "planhat_tickets_by_company_group"
BASH_OPERATOR = "airflow.providers.standard.operators.bash.BashOperator"
JOB = "planhat-tickets-to-duckdb"
COMPANY_GROUPS_FILE = ROOT / "orchestrate" / "company_groups.json"
# Planhat's quota is 200 requests a minute per token; the DAG's default
# budget leaves a quarter of it to other jobs.
TOKEN_BUDGET = 150
STATE_ID = "prod:tap-planhat-tickets-to-target-duckdb"
TICKETS = 1000
RUN_TIMEOUT_SECONDS = 600


@pytest.fixture(scope="module")
def dags(airflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The DAGs of orchestrate/dags as Airflow's DagBag parses them with the default settings."""
    parsed = inspect_dags(airflow_python, airflow_environment(tmp_path_factory.mktemp("airflow")))
    assert parsed["import_errors"] == {}
    return parsed["dags"]


def meltano_schedule() -> dict[str, Any]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text(encoding="utf-8"))
    return next(schedule for schedule in project["schedules"] if schedule["job"] == JOB)


def company_groups() -> dict[str, list[str]]:
    return json.loads(COMPANY_GROUPS_FILE.read_text(encoding="utf-8"))


def sandbox_tickets_by_company(sandbox: Sandbox, token: str) -> dict[str, set[str]]:
    """Return the ``_id`` of every ticket in the token's workspace, by ``companyId``."""
    response = requests.get(
        f"{sandbox.url}/tickets",
        params={"limit": 10_000, "select": "_id,companyId"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    response.raise_for_status()
    by_company: dict[str, set[str]] = {}
    for ticket in response.json():
        by_company.setdefault(ticket["companyId"], set()).add(ticket["_id"])
    return by_company


def duckdb_ticket_ids(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {row[0] for row in connection.execute("select _id from planhat.tickets").fetchall()}


def meltano_state(environment: dict[str, str], state_id: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(MELTANO), "state", "get", state_id], cwd=ROOT, env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def test_dags_parse_without_import_errors(dags):
    assert set(dags) == {HOURLY, BY_GROUP}
    for dag_id, dag in dags.items():
        assert Path(dag["fileloc"]).parent == DAG_FOLDER, dag_id


@pytest.mark.parametrize("dag_id", [HOURLY, BY_GROUP])
def test_dag_schedule_matches_meltano(dags, dag_id):
    dag = dags[dag_id]

    assert dag["schedule"] == meltano_schedule()["interval"] == "@hourly"
    assert dag["catchup"] is False
    assert dag["max_active_runs"] == 1


@pytest.mark.parametrize("dag_id", [HOURLY, BY_GROUP])
def test_dag_tasks_are_bash_with_limits(dags, dag_id):
    for task_id, task in dags[dag_id]["tasks"].items():
        assert task["operator"] == BASH_OPERATOR, task_id
        assert task["append_env"] is True, task_id
        assert task["retries"] >= 1, task_id
        assert task["execution_timeout_seconds"], task_id
        assert task["execution_timeout_seconds"] < 3600, task_id
        assert task["cwd"] == str(ROOT), task_id
        assert "API_TOKEN" not in json.dumps(task["env"]), task_id


def test_hourly_dag_runs_meltano_job(dags):
    tasks = dags[HOURLY]["tasks"]

    assert list(tasks) == ["meltano_run"]
    assert tasks["meltano_run"]["bash_command"] == f"meltano --environment=prod run {JOB}"


def test_group_dag_has_task_per_group(dags):
    groups = company_groups()
    tasks = dags[BY_GROUP]["tasks"]

    assert set(tasks) == {"upgrade_system_database"} | {f"meltano_run_{group}" for group in groups}
    assert tasks["upgrade_system_database"]["bash_command"] == "meltano upgrade database"
    for group in groups:
        assert tasks[f"meltano_run_{group}"]["upstream_task_ids"] == ["upgrade_system_database"], group


def test_group_dag_commands_and_settings(dags):
    groups = company_groups()
    tasks = dags[BY_GROUP]["tasks"]
    share = TOKEN_BUDGET // len(groups)

    sys_dirs = set()
    duckdb_files = set()
    for group, company_ids in groups.items():
        task = tasks[f"meltano_run_{group}"]
        environment = task["env"]
        assert task["bash_command"] == f"meltano --environment=prod run --state-id-suffix={group} {JOB}", group
        assert json.loads(environment["TAP_PLANHAT_TICKETS_COMPANY_IDS"]) == company_ids, group
        assert environment["TAP_PLANHAT_TICKETS_MAX_REQUESTS_PER_MINUTE"] == str(share), group
        assert environment["MELTANO_DATABASE_URI"] == f"sqlite:///{ROOT / '.meltano' / 'meltano.db'}", group
        sys_dirs.add(environment["MELTANO_SYS_DIR_ROOT"])
        duckdb_files.add(environment["TARGET_DUCKDB_FILEPATH"])

    assert share * len(groups) <= TOKEN_BUDGET
    assert len(sys_dirs) == len(groups)
    assert len(duckdb_files) == len(groups)


def test_group_dag_budget_from_environment(airflow_python, tmp_path):
    environment = airflow_environment(tmp_path / "airflow", PLANHAT_TOKEN_REQUESTS_PER_MINUTE="41")

    tasks = inspect_dags(airflow_python, environment)["dags"][BY_GROUP]["tasks"]

    groups = company_groups()
    for group in groups:
        requests_per_minute = tasks[f"meltano_run_{group}"]["env"]["TAP_PLANHAT_TICKETS_MAX_REQUESTS_PER_MINUTE"]
        assert requests_per_minute == str(41 // len(groups)), group


@pytest.mark.parametrize(
    ("groups", "budget", "message"),
    [
        ({"a": ["c1"], "b": ["c1"]}, "150", "company c1 is in both 'a' and 'b'"),
        ({"a b": ["c1"]}, "150", "invalid group name 'a b'"),
        ({"a": []}, "150", "group 'a' must list at least one company id"),
        ({"a": ["c1"], "b": ["c2"], "c": ["c3"]}, "2", "3 groups cannot share 2 requests a minute"),
    ],
)
def test_group_dag_rejects_invalid_groups(airflow_python, tmp_path, groups, budget, message):
    groups_file = tmp_path / "groups.json"
    groups_file.write_text(json.dumps(groups), encoding="utf-8")
    environment = airflow_environment(
        tmp_path / "airflow", PLANHAT_COMPANY_GROUPS_FILE=str(groups_file), PLANHAT_TOKEN_REQUESTS_PER_MINUTE=budget
    )

    parsed = inspect_dags(airflow_python, environment)

    assert BY_GROUP not in parsed["dags"]
    errors = list(parsed["import_errors"].values())
    assert len(errors) == 1
    assert message in errors[0]


def test_hourly_dag_runs_in_airflow(airflow_python, meltano_installed, sandbox, tmp_path):
    sandbox.add_workspace("airflow", token=TOKEN, tickets=TICKETS, seed=3)
    database_uri = f"sqlite:///{tmp_path / 'meltano.db'}"
    duckdb_file = tmp_path / "tickets.duckdb"
    environment = airflow_environment(
        tmp_path / "airflow",
        MELTANO_EXECUTABLE=str(MELTANO),
        MELTANO_DATABASE_URI=database_uri,
        TAP_PLANHAT_TICKETS_API_URL=sandbox.url,
        TAP_PLANHAT_TICKETS_API_TOKEN=TOKEN,
        TARGET_DUCKDB_FILEPATH=str(duckdb_file),
    )
    airflow = str(airflow_python.parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=environment, capture_output=True, check=True, timeout=300)

    result = subprocess.run(
        [airflow, "dags", "test", HOURLY],
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert "state=success" in output, output[-5000:]
    all_tickets = set().union(*sandbox_tickets_by_company(sandbox, TOKEN).values())
    assert duckdb_ticket_ids(duckdb_file) == all_tickets
    assert meltano_state(environment, STATE_ID)["singer_state"]["bookmarks"]["tickets"]["replication_key_value"]


def test_group_commands_run_in_parallel(airflow_python, meltano_installed, sandbox, tmp_path):
    # The groups file lists the companies of a sandbox workspace seeded with seed 0.
    sandbox.add_workspace("groups", token=TOKEN, tickets=TICKETS, seed=0)
    by_company = sandbox_tickets_by_company(sandbox, TOKEN)
    groups = company_groups()
    assert set(by_company) == {company for ids in groups.values() for company in ids}

    database_uri = f"sqlite:///{tmp_path / 'meltano.db'}"
    environment = airflow_environment(tmp_path / "airflow", MELTANO_DATABASE_URI=database_uri)
    tasks = inspect_dags(airflow_python, environment)["dags"][BY_GROUP]["tasks"]
    run_environment = airflow_environment(
        tmp_path / "airflow",
        TAP_PLANHAT_TICKETS_API_URL=sandbox.url,
        TAP_PLANHAT_TICKETS_API_TOKEN=TOKEN,
        MELTANO_DATABASE_URI=database_uri,
    )

    def start(task: dict[str, Any], **overrides: str) -> subprocess.Popen[str]:
        # As BashOperator with append_env=True: the worker's environment, then the task's env.
        command = shlex.split(task["bash_command"])
        assert command[0] == "meltano"
        return subprocess.Popen(
            [str(MELTANO), *command[1:]],
            cwd=task["cwd"],
            env={**run_environment, **task["env"], **overrides},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    upgrade = start(tasks["upgrade_system_database"])
    assert upgrade.wait(timeout=RUN_TIMEOUT_SECONDS) == 0, upgrade.stdout.read()[-5000:]

    # Every group at once, as Airflow runs them; only the DuckDB files move to tmp_path.
    runs = {
        group: start(tasks[f"meltano_run_{group}"], TARGET_DUCKDB_FILEPATH=str(tmp_path / f"{group}.duckdb"))
        for group in groups
    }
    for group, process in runs.items():
        output, _ = process.communicate(timeout=RUN_TIMEOUT_SECONDS)
        assert process.returncode == 0, f"group {group}:\n{output[-5000:]}"

    # The task's variables win over the prod environment's max_requests_per_minute.
    first_group, first_ids = next(iter(groups.items()))
    printed = subprocess.run(
        [str(MELTANO), "--environment=prod", "config", "--unsafe", "print", "tap-planhat-tickets"],
        cwd=ROOT,
        env={**run_environment, **tasks[f"meltano_run_{first_group}"]["env"]},
        capture_output=True,
        text=True,
        check=True,
    )
    config = json.loads(printed.stdout)
    assert config["company_ids"] == first_ids
    assert config["max_requests_per_minute"] == TOKEN_BUDGET // len(groups)

    for group, company_ids in groups.items():
        expected = set().union(*(by_company[company] for company in company_ids))
        assert duckdb_ticket_ids(tmp_path / f"{group}.duckdb") == expected, group
        state = meltano_state(run_environment, f"{STATE_ID}:{group}")
        assert state["singer_state"]["bookmarks"]["tickets"]["replication_key_value"], group
