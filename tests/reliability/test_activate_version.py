"""ACTIVATE_VERSION: a full sync makes loaders that support it drop deleted tickets.

The Planhat API has no feed of deletions. With emit_activate_version_messages,
a full sync stamps every RECORD with a table version and emits
ACTIVATE_VERSION after its last record; incremental syncs carry the version
of the last full sync, kept in the state. A loader that honours the message
then drops rows of older versions: tickets deleted in Planhat since.
"""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import time
import venv
from pathlib import Path

import pytest

from tests.reliability.conftest import tap_config
from tests.reliability.sqlite_target import SQLiteTarget
from tests.singer_io import BIN

ROOT = Path(__file__).resolve().parents[2]
MELTANO_DUCKDB = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin"
#: The demo's DuckDB loader, as pinned in meltano.yml.
DUCKDB_PACKAGES = ("target-duckdb==0.8.0", "duckdb==1.2.2")


def run_tap_raw(tmp_path, config, state=None):
    """Run the tap CLI; return its exit status and its messages in order."""
    config_path = tmp_path / "tap.json"
    config_path.write_text(json.dumps(config))
    command = [str(BIN / "tap-planhat-tickets"), "--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, messages, completed.stderr


def of_type(messages, kind):
    return [message for message in messages if message["type"] == kind]


def last_state(messages):
    return of_type(messages, "STATE")[-1]["value"]


def test_full_sync_activates_after_last_record(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=250)

    status, messages, stderr = run_tap_raw(tmp_path, tap_config(sandbox, workspace, page_size=100, emit_activate_version_messages=True))

    assert status == 0, stderr
    (activate,) = of_type(messages, "ACTIVATE_VERSION")
    kinds = [message["type"] for message in messages]
    last_record = max(index for index, kind in enumerate(kinds) if kind == "RECORD")
    assert kinds.index("ACTIVATE_VERSION") > last_record
    assert {message["version"] for message in of_type(messages, "RECORD")} == {activate["version"]}
    assert len(of_type(messages, "RECORD")) == 250
    assert last_state(messages)["bookmarks"]["tickets"]["table_version"] == activate["version"]


def test_incremental_sync_keeps_version(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=250)
    config = tap_config(sandbox, workspace, emit_activate_version_messages=True)
    _, full, _ = run_tap_raw(tmp_path, config)
    workspace.update_random(10)

    status, incremental, stderr = run_tap_raw(tmp_path, config, state=last_state(full))

    version = of_type(full, "ACTIVATE_VERSION")[0]["version"]
    assert status == 0, stderr
    assert of_type(incremental, "ACTIVATE_VERSION") == []
    assert len(of_type(incremental, "RECORD")) >= 10
    assert {message["version"] for message in of_type(incremental, "RECORD")} == {version}
    assert last_state(incremental)["bookmarks"]["tickets"]["table_version"] == version


def test_off_by_default(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=50)

    status, messages, stderr = run_tap_raw(tmp_path, tap_config(sandbox, workspace))

    assert status == 0, stderr
    assert of_type(messages, "ACTIVATE_VERSION") == []
    assert all("version" not in message for message in of_type(messages, "RECORD"))


def test_failed_full_sync_activates_nothing(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=250)
    inject({"kind": "status", "status": 503, "method": "GET", "first": 2, "times": None})
    config = tap_config(sandbox, workspace, page_size=100, retry_max_attempts=2, emit_activate_version_messages=True)

    status, messages, _ = run_tap_raw(tmp_path, config)

    assert status != 0
    assert of_type(messages, "ACTIVATE_VERSION") == []


def load_into_sqlite(path, messages):
    """Load the tap's messages with the SDK's SQL sink, with hard deletes of old versions."""
    target = SQLiteTarget(
        config={
            "path": str(path),
            "hard_delete": True,
            "add_record_metadata": True,
            # SQLite stores no arrays or objects; the key and date are enough here.
            "stream_maps": {"tickets": {"_id": "_id", "updateDate": "updateDate", "__else__": None}},
        },
    )
    target.listen(io.StringIO("".join(json.dumps(message) + "\n" for message in messages)))
    with sqlite3.connect(path) as connection:
        return {row[0] for row in connection.execute("SELECT _id FROM tickets")}


def test_sdk_sql_loader_drops_deleted(tmp_path, sandbox, workspace_factory):
    workspace = workspace_factory(tickets=200)
    config = tap_config(sandbox, workspace, page_size=60, emit_activate_version_messages=True)
    database = tmp_path / "tickets.sqlite"
    _, first, _ = run_tap_raw(tmp_path, config)
    first_rows = load_into_sqlite(database, first)
    deleted = set(workspace.delete_random(15))
    workspace.update_random(5)
    _, incremental, _ = run_tap_raw(tmp_path, config, state=last_state(first))
    load_into_sqlite(database, incremental)
    deleted |= set(workspace.delete_random(5))
    # Versions are whole seconds, so the next full sync must start in a later second.
    version = of_type(first, "ACTIVATE_VERSION")[0]["version"]
    time.sleep(max(0.0, version + 1.1 - time.time()))
    _, second, _ = run_tap_raw(tmp_path, config, state=None)

    rows = load_into_sqlite(database, second)

    assert first_rows == {t["_id"] for t in workspace.tickets()} | deleted
    assert rows == {t["_id"] for t in workspace.tickets()}
    assert rows.isdisjoint(deleted)


def duckdb_loader(tmp_path_factory) -> Path:
    """Return the bin folder of target-duckdb: the demo's if installed, else a new venv."""
    if (MELTANO_DUCKDB / "target-duckdb").exists():
        return MELTANO_DUCKDB
    folder = tmp_path_factory.mktemp("target-duckdb")
    venv.create(folder, with_pip=True)
    subprocess.run(
        [str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet", *DUCKDB_PACKAGES],
        check=True,
        timeout=600,
    )
    return folder / "bin"


def load_into_duckdb(loader, tmp_path, database, messages):
    config_path = tmp_path / "duckdb.json"
    config_path.write_text(json.dumps({"filepath": str(database), "default_target_schema": "planhat"}))
    completed = subprocess.run(
        [str(loader / "target-duckdb"), "--config", str(config_path)],
        input="".join(json.dumps(message) + "\n" for message in messages),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    query = f"import duckdb; print(sorted(r[0] for r in duckdb.connect({str(database)!r}).execute('SELECT _id FROM planhat.tickets').fetchall()))"
    rows = subprocess.run([str(loader / "python"), "-c", query], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(rows.stdout.replace("'", '"')))


@pytest.mark.slow
def test_duckdb_loader_ignores_activate_version(tmp_path, tmp_path_factory, sandbox, workspace_factory):
    # target-duckdb 0.8.0 accepts ACTIVATE_VERSION and the version of each
    # RECORD, but only logs the message at DEBUG: it drops no rows.
    loader = duckdb_loader(tmp_path_factory)
    workspace = workspace_factory(tickets=200)
    config = tap_config(sandbox, workspace, page_size=60, emit_activate_version_messages=True)
    database = tmp_path / "tickets.duckdb"
    _, first, _ = run_tap_raw(tmp_path, config)
    load_into_duckdb(loader, tmp_path, database, first)
    deleted = set(workspace.delete_random(15))
    version = of_type(first, "ACTIVATE_VERSION")[0]["version"]
    time.sleep(max(0.0, version + 1.1 - time.time()))
    _, second, _ = run_tap_raw(tmp_path, config)

    rows = load_into_duckdb(loader, tmp_path, database, second)

    assert of_type(second, "ACTIVATE_VERSION")
    assert rows == {t["_id"] for t in workspace.tickets()} | deleted
