"""Real `meltano run`, `invoke` and `config` on the repository's meltano.yml, against the sandbox."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import duckdb
import pytest
import requests

from planhat_sandbox import Sandbox
from tests.meltano.conftest import TOKEN, MeltanoProject

pytestmark = pytest.mark.slow

TICKETS = 3000
UPDATED = 20
CREATED = 5
# The tap's default lookback window.
LOOKBACK = timedelta(minutes=10)
STATE_ID = "dev:tap-planhat-tickets-to-target-duckdb"
RUN = ("--environment=dev", "run", "tap-planhat-tickets", "target-duckdb")


def sandbox_tickets(sandbox: Sandbox) -> dict[str, dict[str, str]]:
    """Return ``_id``, ``status`` and ``updateDate`` of every ticket in the sandbox, by ``_id``."""
    response = requests.get(
        f"{sandbox.url}/tickets",
        params={"limit": 10_000, "select": "_id,status,updateDate"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    response.raise_for_status()
    tickets = response.json()
    assert len(tickets) < 10_000, "more tickets than one page holds; page through them"
    return {ticket["_id"]: ticket for ticket in tickets}


def duckdb_rows(meltano: MeltanoProject) -> list[tuple[str, str, datetime]]:
    """Return ``_id``, ``status`` and ``_sdc_batched_at`` of every row in DuckDB."""
    with duckdb.connect(str(meltano.duckdb_file), read_only=True) as connection:
        return connection.execute("select _id, status, _sdc_batched_at from planhat.tickets").fetchall()


def parse_date(text: str) -> datetime:
    """Parse a Planhat timestamp such as ``2024-01-02T03:04:05.678Z``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_full_then_incremental_run(meltano: MeltanoProject, sandbox: Sandbox) -> None:
    workspace = sandbox.add_workspace("meltano", token=TOKEN, tickets=TICKETS, seed=11)

    # Run 1 has no state, so it is a full sync.
    meltano.run(*RUN)

    before = sandbox_tickets(sandbox)
    rows = duckdb_rows(meltano)
    ids = [row[0] for row in rows]
    assert len(ids) == TICKETS
    assert len(set(ids)) == TICKETS
    assert set(ids) == set(before)

    bookmark = meltano.state(STATE_ID)["singer_state"]["bookmarks"]["tickets"]["replication_key_value"]
    assert bookmark == max(ticket["updateDate"] for ticket in before.values())

    # Run 2 starts from the bookmark that Meltano stored.
    last_batch = max(row[2] for row in rows)
    last_request = sandbox.requests("meltano")[-1].sequence
    updated = set(workspace.update_random(UPDATED))
    created = set(workspace.create_random(CREATED))
    meltano.run(*RUN)

    after = sandbox_tickets(sandbox)
    cutoff = parse_date(bookmark) - LOOKBACK
    expected_synced = {ticket_id for ticket_id, ticket in after.items() if parse_date(ticket["updateDate"]) >= cutoff}
    rows = duckdb_rows(meltano)
    synced = {ticket_id for ticket_id, _, batched_at in rows if batched_at > last_batch}
    assert updated | created <= synced
    assert synced == expected_synced
    assert len(synced) < TICKETS // 10

    gets = sandbox.requests("meltano", method="GET", path="/tickets", after=last_request)
    assert 1 <= len(gets) <= 2

    statuses = {ticket_id: status for ticket_id, status, _ in rows}
    assert len(statuses) == TICKETS + CREATED
    assert set(statuses) == set(after)
    for ticket_id in updated | created:
        assert statuses[ticket_id] == after[ticket_id]["status"], ticket_id


def test_invoke_discover_lists_tickets(meltano: MeltanoProject) -> None:
    result = meltano.run("invoke", "tap-planhat-tickets", "--discover")

    catalog = json.loads(result.stdout)
    streams = {stream["tap_stream_id"]: stream for stream in catalog["streams"]}
    assert list(streams) == ["tickets"]
    assert streams["tickets"]["key_properties"] == ["_id"]
    assert "updateDate" in streams["tickets"]["schema"]["properties"]


def test_config_list_redacts_token(meltano: MeltanoProject) -> None:
    result = meltano.run("config", "list", "tap-planhat-tickets")

    assert "Required settings: api_token" in result.stdout
    token_line = next(line for line in result.stdout.splitlines() if line.startswith("api_token "))
    assert "TAP_PLANHAT_TICKETS_API_TOKEN" in token_line
    assert "(redacted)" in token_line
    assert TOKEN not in result.stdout
    assert TOKEN not in result.stderr


def test_settings_from_environment_reach_tap(meltano: MeltanoProject, sandbox: Sandbox) -> None:
    meltano.environment["TAP_PLANHAT_TICKETS_PAGE_SIZE"] = "7"

    result = meltano.run("--environment=dev", "config", "--unsafe", "print", "tap-planhat-tickets")

    config = json.loads(result.stdout)
    assert config["api_url"] == sandbox.url
    assert config["api_token"] == TOKEN
    assert config["page_size"] == 7


def test_invoke_target_about(meltano: MeltanoProject) -> None:
    result = meltano.run("invoke", "target-planhat-tickets", "--about", "--format=json")

    about = json.loads(result.stdout)
    assert about["name"] == "target-planhat-tickets"
    assert "api_token" in about["settings"]["properties"]


def test_job_state_clear_starts_over(meltano: MeltanoProject, sandbox: Sandbox) -> None:
    # The README's way to start over: clear the job's state, and the next run is a full sync.
    sandbox.add_workspace("meltano", token=TOKEN, tickets=500, seed=12)
    job_run = ("--environment=dev", "run", "planhat-tickets-to-duckdb")

    meltano.run(*job_run)
    assert meltano.state(STATE_ID)["singer_state"]["bookmarks"]["tickets"]["replication_key_value"]
    first_batch = max(row[2] for row in duckdb_rows(meltano))

    meltano.run("state", "clear", "--force", STATE_ID)
    assert "singer_state" not in meltano.state(STATE_ID)
    last_request = sandbox.requests("meltano")[-1].sequence
    meltano.run(*job_run)

    resynced = {ticket_id for ticket_id, _, batched_at in duckdb_rows(meltano) if batched_at > first_batch}
    assert resynced == set(sandbox_tickets(sandbox))
    first_get = sandbox.requests("meltano", method="GET", path="/tickets", after=last_request)[0]
    assert "updateDate" not in first_get.query.get("sort", "")
