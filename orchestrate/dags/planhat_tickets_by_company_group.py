"""Airflow 3 DAG: hourly Planhat tickets, one parallel Meltano run per company group.

Each group in orchestrate/company_groups.json (a JSON object of group name to
a list of Planhat company ids) gets one task that runs

    meltano --environment=prod run --state-id-suffix=GROUP planhat-tickets-to-duckdb

with the group's ids in ``company_ids``. The suffix gives each group its own
Meltano state id, ``prod:tap-planhat-tickets-to-target-duckdb:GROUP``, so a
group's bookmark and its retries do not affect the other groups.

All groups read with one Planhat token, whose quota is per token, so each
task gets an equal share of ``PLANHAT_TOKEN_REQUESTS_PER_MINUTE`` (default
150 of Planhat's 200 a minute) as its ``max_requests_per_minute``. More
groups do not read faster through the API; they spread the loading and the
retries over several processes.

Meltano 4.4 writes a tap's catalog and state to fixed file names under
``.meltano/run/PLUGIN/``, so two runs of one plugin in one project folder at
the same time overwrite each other's files. Each task therefore gets its own
``MELTANO_SYS_DIR_ROOT`` (``.meltano/groups/GROUP``), where its first run
installs the plugins, and all tasks share the project's system database, and
so its state, through ``MELTANO_DATABASE_URI``. DuckDB allows one writing
process per file, so each group loads into ``output/planhat_tickets_GROUP.duckdb``;
drop that override for a loader that accepts concurrent writers.

NOTE: the tap reads only the listed companies, so tickets of a company that
is in no group are never read. Add every new company to a group.

Airflow reads these variables when it parses this file:
``MELTANO_PROJECT_ROOT`` and ``MELTANO_EXECUTABLE`` as in
planhat_tickets_hourly.py, ``PLANHAT_COMPANY_GROUPS_FILE``,
``PLANHAT_TOKEN_REQUESTS_PER_MINUTE`` and ``MELTANO_DATABASE_URI`` (default:
the project's .meltano/meltano.db). Meltano reads the token when a task runs,
as in planhat_tickets_hourly.py.
"""

from __future__ import annotations

import json
import os
import re
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
COMPANY_GROUPS_FILE = Path(
    os.environ.get("PLANHAT_COMPANY_GROUPS_FILE")
    or PROJECT_ROOT / "orchestrate" / "company_groups.json"
)
TOKEN_REQUESTS_PER_MINUTE = int(
    os.environ.get("PLANHAT_TOKEN_REQUESTS_PER_MINUTE") or 150
)
DATABASE_URI = (
    os.environ.get("MELTANO_DATABASE_URI")
    or f"sqlite:///{PROJECT_ROOT / '.meltano' / 'meltano.db'}"
)
# A group name becomes a task id, a state id suffix and part of a file name.
GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")


def load_company_groups(path: Path) -> dict[str, list[str]]:
    """Read the groups file and check names, ids and that no id is in two groups."""
    groups = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(groups, dict) or not groups:
        raise ValueError(
            f"{path}: expected a JSON object of group name to company ids, "
            "with at least one group"
        )

    seen: dict[str, str] = {}
    for name, company_ids in groups.items():
        if not GROUP_NAME.fullmatch(name):
            raise ValueError(
                f"{path}: invalid group name {name!r}: use letters, digits, '-' and '_'"
            )
        if not isinstance(company_ids, list) or not company_ids:
            raise ValueError(
                f"{path}: group {name!r} must list at least one company id"
            )
        for company_id in company_ids:
            if not isinstance(company_id, str) or not company_id:
                raise ValueError(
                    f"{path}: group {name!r} has an invalid company id {company_id!r}"
                )
            if company_id in seen:
                raise ValueError(
                    f"{path}: company {company_id} is in both "
                    f"{seen[company_id]!r} and {name!r}"
                )
            seen[company_id] = name
    return groups


def requests_per_group(budget: int, group_count: int) -> int:
    """Return each group's equal share of the requests a minute, rounded down."""
    share = budget // group_count
    if share < 1:
        raise ValueError(
            f"{group_count} groups cannot share {budget} requests a minute: "
            "use fewer groups"
        )
    return share


def group_environment(
    group: str, company_ids: list[str], requests_per_minute: int
) -> dict[str, str]:
    """Return the environment variables of one group's Meltano run."""
    return {
        "MELTANO_PROJECT_ROOT": str(PROJECT_ROOT),
        "MELTANO_DATABASE_URI": DATABASE_URI,
        "MELTANO_SYS_DIR_ROOT": str(PROJECT_ROOT / ".meltano" / "groups" / group),
        "TAP_PLANHAT_TICKETS_COMPANY_IDS": json.dumps(company_ids),
        "TAP_PLANHAT_TICKETS_MAX_REQUESTS_PER_MINUTE": str(requests_per_minute),
        "TARGET_DUCKDB_FILEPATH": str(
            PROJECT_ROOT / "output" / f"planhat_tickets_{group}.duckdb"
        ),
    }


COMPANY_GROUPS = load_company_groups(COMPANY_GROUPS_FILE)
REQUESTS_PER_GROUP = requests_per_group(TOKEN_REQUESTS_PER_MINUTE, len(COMPANY_GROUPS))

with DAG(
    dag_id="planhat_tickets_by_company_group",
    description="Planhat tickets into DuckDB, one Meltano run per company group",
    schedule="@hourly",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=5),
        "execution_timeout": timedelta(minutes=50),
    },
    tags=["meltano", "planhat"],
) as dag:
    # Migrate a new or outdated system database once, before the parallel
    # runs, because several processes that migrate one new SQLite database at
    # the same time fail with "table already exists".
    upgrade_database = BashOperator(
        task_id="upgrade_system_database",
        bash_command=f"{shlex.quote(MELTANO)} upgrade database",
        cwd=str(PROJECT_ROOT),
        env={
            "MELTANO_PROJECT_ROOT": str(PROJECT_ROOT),
            "MELTANO_DATABASE_URI": DATABASE_URI,
        },
        append_env=True,
        execution_timeout=timedelta(minutes=5),
    )

    for group_name, group_company_ids in COMPANY_GROUPS.items():
        group_run = BashOperator(
            task_id=f"meltano_run_{group_name}",
            bash_command=(
                f"{shlex.quote(MELTANO)} --environment=prod run "
                f"--state-id-suffix={group_name} {JOB}"
            ),
            cwd=str(PROJECT_ROOT),
            env=group_environment(group_name, group_company_ids, REQUESTS_PER_GROUP),
            append_env=True,
        )
        upgrade_database >> group_run
