"""The fingerprint store through the target CLI, against the sandbox."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import time

import pytest

from target_planhat_tickets.fingerprints import FingerprintStore
from tests.target.conftest import (
    TARGET,
    TOKEN,
    RequestRecorder,
    run_target,
    stored_by_external_id,
    target_config,
    ticket,
    write_singer,
)
from tests.target.test_sender import CountingHook

RECORDS = 30
BATCH = 10


@pytest.fixture
def store_path(tmp_path):
    return tmp_path / "fingerprints.sqlite"


def write_input(tmp_path, records=None, name="input.singer"):
    path = tmp_path / name
    records = records or [ticket(n) for n in range(1, RECORDS + 1)]
    states = write_singer(path, "tickets", records, state_every=BATCH)
    return path, states


def config_with_store(sandbox, store_path, **settings):
    return target_config(
        sandbox,
        batch_size_rows=BATCH,
        fingerprint_store_path=str(store_path),
        **settings,
    )


def sent_source_ids(recorder):
    return [item["sourceId"] for item in recorder.items()]


def test_second_load_sends_no_put(tmp_path, sandbox, workspace, recorder, store_path):
    input_path, states_in = write_input(tmp_path)
    config = config_with_store(sandbox, store_path)

    first = run_target(tmp_path, config, input_path)
    puts_of_first = len(recorder.bodies)
    second = run_target(tmp_path, config, input_path)

    assert first.returncode == 0, first.stderr
    assert puts_of_first == 3
    assert "created 30, updated 0, unchanged 0, unchanged since last sent 0," in (
        first.stderr
    )
    assert second.returncode == 0, second.stderr
    assert len(recorder.bodies) == puts_of_first
    assert second.states == states_in
    assert (
        "Summary: stream 'tickets': received 30, created 0, updated 0, unchanged 0, "
        "unchanged since last sent 30, skipped as invalid 0,"
    ) in second.stderr
    assert (
        "Stream tickets: 10 of 10 items are unchanged since last sent, so they are "
        "not sent again"
    ) in second.stderr


def test_changed_ticket_sent_alone(tmp_path, sandbox, workspace, recorder, store_path):
    input_path, _ = write_input(tmp_path)
    config = config_with_store(sandbox, store_path)
    changed = [ticket(n) for n in range(1, RECORDS + 1)]
    changed[6] = ticket(7, status="closed")
    changed_path, _ = write_input(tmp_path, changed, name="changed.singer")

    first = run_target(tmp_path, config, input_path)
    recorder.bodies.clear()
    second = run_target(tmp_path, config, changed_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert len(recorder.bodies) == 1
    assert sent_source_ids(recorder) == ["T-00007"]
    assert stored_by_external_id(workspace)["T-00007"]["status"] == "closed"
    assert "updated 1, unchanged 0, unchanged since last sent 29," in second.stderr


def test_resend_all_corrects_planhat(
    tmp_path, sandbox, workspace, recorder, store_path
):
    input_path, _ = write_input(tmp_path)
    config = config_with_store(sandbox, store_path)
    first = run_target(tmp_path, config, input_path)
    workspace.upsert([ticket(5, title="Edited in Planhat")])
    recorder.bodies.clear()

    unchanged_run = run_target(tmp_path, config, input_path)
    puts_without_resend = len(recorder.bodies)
    resent = run_target(
        tmp_path, config_with_store(sandbox, store_path, resend_all=True), input_path
    )
    puts_with_resend = len(recorder.bodies) - puts_without_resend
    after_resend = run_target(tmp_path, config, input_path)

    assert first.returncode == 0, first.stderr
    assert unchanged_run.returncode == 0, unchanged_run.stderr
    assert puts_without_resend == 0
    assert resent.returncode == 0, resent.stderr
    assert puts_with_resend == 3
    assert len(recorder.items()) == RECORDS
    assert "resend_all is set: every item is sent" in resent.stderr
    assert "unchanged since last sent 0," in resent.stderr
    assert stored_by_external_id(workspace)["T-00005"]["subject"] == "Ticket 5"
    assert after_resend.returncode == 0, after_resend.stderr
    assert "unchanged since last sent 30," in after_resend.stderr


class RejectFourDropTwo(RequestRecorder):
    """Rejects T-00004 with an error entry and drops T-00002 without one."""

    def upsert_item_error(self, exchange, index, item):
        if item["sourceId"] == "T-00004":
            return ("createdErrors", "ticket is locked by another import")
        return None

    def reply_instead(self, exchange):
        if exchange.method == "PUT":
            items = json.loads(exchange.body)
            kept = [item for item in items if item["sourceId"] != "T-00002"]
            exchange.body = json.dumps(kept).encode()
        return None


def test_failed_items_not_remembered(tmp_path, sandbox, workspace, store_path):
    input_path, states_in = write_input(tmp_path)
    sandbox.hook = RejectFourDropTwo()
    first = run_target(
        tmp_path,
        config_with_store(sandbox, store_path, max_rejected_records=2),
        input_path,
    )
    recorder = RequestRecorder()
    sandbox.hook = recorder

    second = run_target(tmp_path, config_with_store(sandbox, store_path), input_path)

    assert first.returncode == 0, first.stderr
    assert "rejected by the API 1, dropped silently by the API 1," in first.stderr
    assert second.returncode == 0, second.stderr
    assert sent_source_ids(recorder) == ["T-00002", "T-00004"]
    assert second.states == states_in
    assert len(workspace) == RECORDS


def test_other_token_sends_all(tmp_path, sandbox, workspace, store_path):
    other = sandbox.add_workspace("c", token="token-c", seed=7, companies=5)
    input_path, _ = write_input(tmp_path)
    run_target(tmp_path, config_with_store(sandbox, store_path), input_path)
    recorder = RequestRecorder()
    sandbox.hook = recorder

    run = run_target(
        tmp_path,
        config_with_store(sandbox, store_path, api_token="token-c"),
        input_path,
    )

    assert run.returncode == 0, run.stderr
    assert len(recorder.items()) == RECORDS
    assert len(other) == RECORDS
    assert "created 30, updated 0, unchanged 0, unchanged since last sent 0," in (
        run.stderr
    )
    assert (
        "has fingerprints only for other pairs of API token and api_url (1), so "
        "every item is sent and remembered for this pair."
    ) in run.stderr


def test_hard_delete_forgets_ticket(tmp_path, sandbox, workspace, store_path):
    input_path, _ = write_input(tmp_path)
    config = config_with_store(sandbox, store_path)
    run_target(tmp_path, config, input_path)
    deleted_id = stored_by_external_id(workspace)["T-00003"]["_id"]
    delete_path = tmp_path / "delete.singer"
    schema = {
        "type": "object",
        "properties": {"_id": {"type": "string"}, "externalId": {"type": "string"}},
    }
    record = {
        "_id": deleted_id,
        "externalId": "T-00003",
        "_sdc_deleted_at": "2026-01-01T00:00:00Z",
    }
    write_singer(
        delete_path, "tickets", [record], schema=schema, key_properties=["_id"]
    )
    delete_config = {**config, "same_workspace": True, "hard_delete": True}
    deleted = run_target(tmp_path, delete_config, delete_path)
    recorder = RequestRecorder()
    sandbox.hook = recorder

    reloaded = run_target(tmp_path, config, input_path)

    assert deleted.returncode == 0, deleted.stderr
    assert workspace.ticket(deleted_id) is None
    assert reloaded.returncode == 0, reloaded.stderr
    assert sent_source_ids(recorder) == ["T-00003"]
    assert "T-00003" in stored_by_external_id(workspace)


def test_killed_mid_put_keeps_acknowledged(tmp_path, sandbox, workspace, store_path):
    input_path, states_in = write_input(tmp_path)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config_with_store(sandbox, store_path)))
    hook = CountingHook(hold_puts=True)
    sandbox.hook = hook

    with subprocess.Popen(
        [str(TARGET), "--config", str(config_path), "--input", str(input_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        assert hook.put_arrived.acquire(timeout=60)
        hook.put_released.release()
        assert hook.put_arrived.acquire(timeout=60)
        process.send_signal(signal.SIGKILL)
        stdout, _ = process.communicate(timeout=30)
    # The held PUT still reaches Planhat after the kill, as it can in production.
    hook.put_released.release()
    deadline = time.monotonic() + 30
    while len(workspace) < 2 * BATCH and time.monotonic() < deadline:
        time.sleep(0.05)
    store = FingerprintStore.open(store_path, api_url=sandbox.url, api_token=TOKEN)
    remembered = store.count()
    store.close()
    recorder = RequestRecorder()
    sandbox.hook = recorder

    rerun = run_target(tmp_path, config_with_store(sandbox, store_path), input_path)

    assert process.returncode == -signal.SIGKILL
    assert [json.loads(line) for line in stdout.splitlines()] == states_in[:1]
    assert remembered == BATCH
    assert rerun.returncode == 0, rerun.stderr
    assert sent_source_ids(recorder) == [f"T-{n:05d}" for n in range(11, 31)]
    assert len(workspace) == RECORDS


def test_dry_run_leaves_store_alone(tmp_path, sandbox, workspace, store_path):
    input_path, _ = write_input(tmp_path)

    run = run_target(
        tmp_path, config_with_store(sandbox, store_path, dry_run=True), input_path
    )

    assert run.returncode == 0, run.stderr
    assert not store_path.exists()
    assert "is neither read nor written" in run.stderr
    assert (
        "Summary of the dry run (nothing was sent): stream 'tickets': received 30, "
        "would upsert 30,"
    ) in run.stderr


def test_no_store_summary_unchanged(tmp_path, sandbox, workspace):
    input_path, _ = write_input(tmp_path)

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert "unchanged since last sent" not in run.stderr
    assert "created 30, updated 0, unchanged 0, skipped as invalid 0," in run.stderr


def make_text_file(path):
    path.write_text("ticket,status\nT-1,open\n")


def make_other_database(path):
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE invoices (number TEXT)")
    connection.commit()
    connection.close()


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (
            make_text_file,
            "is not a fingerprint store (file is not a database); it was left "
            "unchanged. Point fingerprint_store_path at a new file.",
        ),
        (
            make_other_database,
            "is a SQLite database of another program (tables: invoices), not a "
            "fingerprint store; it was left unchanged.",
        ),
    ],
)
def test_foreign_file_rejected(
    tmp_path, sandbox, workspace, recorder, store_path, prepare, message
):
    prepare(store_path)
    before = store_path.read_bytes()
    input_path, _ = write_input(tmp_path)

    run = run_target(tmp_path, config_with_store(sandbox, store_path), input_path)

    assert run.returncode == 1
    assert f"Setting fingerprint_store_path {str(store_path)!r} {message}" in run.stderr
    assert recorder.exchanges == []
    assert store_path.read_bytes() == before


def test_store_in_use_rejected(tmp_path, sandbox, workspace, recorder, store_path):
    input_path, _ = write_input(tmp_path)
    holder = FingerprintStore.open(store_path, api_url=sandbox.url, api_token=TOKEN)
    try:
        run = run_target(tmp_path, config_with_store(sandbox, store_path), input_path)
    finally:
        holder.close()

    assert run.returncode == 1
    assert (
        f"Fingerprint store {str(store_path)!r} is in use by another run of the "
        "target (still locked after 2 s). One run at a time may use a store"
    ) in run.stderr
    assert recorder.exchanges == []


def test_store_folder_missing_rejected(tmp_path, sandbox, workspace, recorder):
    input_path, _ = write_input(tmp_path)
    missing = tmp_path / "missing" / "fingerprints.sqlite"

    run = run_target(tmp_path, config_with_store(sandbox, missing), input_path)

    assert run.returncode == 1
    assert (
        f"Setting fingerprint_store_path {str(missing)!r} is in a folder that does "
        "not exist"
    ) in run.stderr
    assert recorder.exchanges == []
