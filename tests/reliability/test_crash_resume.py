"""Crash and resume: kill the target or interrupt the tap mid-run, rerun from the last STATE.

The target is killed with SIGKILL while a PUT is in flight. The rerun gets
the records after the last STATE it emitted, as Meltano would send them,
and every ticket must then be in the sandbox exactly once. The tap is
stopped while a page request hangs. The rerun from its last STATE must read
every ticket that the interrupted run would have read.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter

import pytest

from tests.reliability.conftest import tap_config
from tests.singer_io import BIN, parse_tap_output, run_tap
from tests.target.conftest import TARGET, run_target, ticket, write_singer

TOKEN = "crash-token"
RECORDS = 60
BATCH = 10


@pytest.fixture
def workspace(sandbox):
    created = sandbox.add_workspace("crash", token=TOKEN, seed=7, companies=5)
    yield created
    sandbox.remove_workspace(created.name)


def target_config(sandbox):
    return {
        "api_url": sandbox.url,
        "api_token": TOKEN,
        "retry_initial_wait_seconds": 0.01,
        "batch_size_rows": BATCH,
    }


def wait_until(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def records_after(position):
    return [ticket(n, title=f"Ticket {n} v2") for n in range(position + 1, RECORDS + 1)]


@pytest.mark.parametrize("killed_put", [2, 4, 6])
def test_target_killed_mid_put_resumes(tmp_path, sandbox, workspace, inject, killed_put):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(n) for n in range(1, RECORDS + 1)], state_every=BATCH)
    hook = inject({"kind": "delay", "seconds": 60, "method": "PUT", "first": killed_put})
    earlier = max((entry.sequence for entry in sandbox.requests()), default=0)
    config_path = tmp_path / "target.json"
    config_path.write_text(json.dumps(target_config(sandbox)))

    with subprocess.Popen(
        [str(TARGET), "--config", str(config_path), "--input", str(input_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        wait_until(lambda: len(hook.applied) == 1)
        process.send_signal(signal.SIGKILL)
        stdout, _ = process.communicate(timeout=30)

    # The PUT in flight still reaches Planhat after the kill, as it can in production.
    hook.close()
    wait_until(lambda: len(sandbox.requests("crash", method="PUT", after=earlier)) == killed_put)
    sandbox.hook = None
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    position = states[-1]["bookmarks"]["tickets"]["position"] if states else 0
    resume_path = tmp_path / "resume.singer"
    write_singer(resume_path, "tickets", records_after(position))
    resumed = run_target(tmp_path, target_config(sandbox), resume_path)

    assert process.returncode == -signal.SIGKILL
    # STATE goes out once the PUT of its records is acknowledged, so only
    # the batch in flight is sent again.
    assert position == BATCH * (killed_put - 1)
    assert resumed.returncode == 0, resumed.stderr
    stored = Counter(t["externalId"] for t in workspace.tickets())
    assert stored == Counter(f"T-{n:05d}" for n in range(1, RECORDS + 1))
    titles = {t["externalId"]: t["subject"] for t in workspace.tickets()}
    assert titles[f"T-{RECORDS:05d}"] == f"Ticket {RECORDS} v2"


def start_tap(tmp_path, config, state):
    """Start the tap with its output going to files; return the process and the paths.

    Files, not pipes: a tap blocked on a full pipe would stop before the page
    the test waits for.
    """
    config_path = tmp_path / "interrupted-config.json"
    config_path.write_text(json.dumps(config))
    command = [str(BIN / "tap-planhat-tickets"), "--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "interrupted-state.json"
        state_path.write_text(json.dumps(state))
        command += ["--state", str(state_path)]
    stdout_path = tmp_path / "interrupted.out"
    stderr_path = tmp_path / "interrupted.err"
    with stdout_path.open("w") as stdout, stderr_path.open("w") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    return process, stdout_path, stderr_path


def stop_tap(process, stdout_path, stderr_path, stop_signal):
    process.send_signal(stop_signal)
    process.wait(timeout=60)
    return parse_tap_output(process.returncode, stdout_path.read_text(), stderr_path.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_tap_interrupted_full_sync_resumes(tmp_path, sandbox, workspace_factory, inject, stop_signal):
    # 25,000 tickets make the SDK write a STATE after 10,000 and 20,000 records.
    workspace = workspace_factory(tickets=25_000, seed=11)
    # One request after another, so that the tap has read 11 pages when the
    # twelfth request arrives. With pages requested ahead it would arrive
    # three pages earlier. test_prefetch_faults.py stops a tap with pages in
    # flight.
    config = tap_config(sandbox, workspace, page_size=2_000, max_requests_in_flight=1)
    hook = inject({"kind": "delay", "seconds": 120, "method": "GET", "first": 12})

    process, *outputs = start_tap(tmp_path, config, None)
    wait_until(lambda: len(hook.applied) == 1)
    interrupted = stop_tap(process, *outputs, stop_signal)
    hook.close()
    sandbox.hook = None
    resumed = run_tap(tmp_path, config, state=interrupted.last_state)

    assert interrupted.returncode in (128 + stop_signal, -stop_signal)
    assert len(interrupted.records) >= 20_000
    assert interrupted.last_state is not None
    assert "replication_key_value" not in interrupted.last_state["bookmarks"]["tickets"]
    assert resumed.returncode == 0, resumed.stderr
    assert set(resumed.record_ids()) == {t["_id"] for t in workspace.tickets()}


@pytest.mark.slow
def test_tap_interrupted_incremental_resumes(tmp_path, sandbox, workspace_factory, inject):
    workspace = workspace_factory(tickets=15_000, seed=12)
    config = tap_config(sandbox, workspace, page_size=1_000, lookback_window_minutes=0)
    first = run_tap(tmp_path, config)
    bookmark = first.last_state["bookmarks"]["tickets"]["replication_key_value"]
    ids = [t["_id"] for t in workspace.tickets()][:12_000]
    for start in range(0, len(ids), 100):
        workspace.update_tickets(ids[start : start + 100])
        time.sleep(0.002)
    # Every page takes at least 0.3 s, so the tap is still reading when its
    # STATE after 10,000 records, the first with progress markers, appears.
    inject({"kind": "delay", "seconds": 0.3, "method": "GET", "times": None})

    process, stdout_path, stderr_path = start_tap(tmp_path, config, first.last_state)
    wait_until(lambda: '"progress_markers"' in stdout_path.read_text().replace(" ", ""))
    interrupted = stop_tap(process, stdout_path, stderr_path, signal.SIGTERM)
    sandbox.hook = None
    resumed = run_tap(tmp_path, config, state=interrupted.last_state)

    assert interrupted.returncode == 128 + signal.SIGTERM
    assert "Stopped by SIGTERM before the sync completed; the bookmark did not move." in interrupted.stderr
    assert 10_000 <= len(interrupted.records) < 12_000
    assert interrupted.last_state["bookmarks"]["tickets"]["replication_key_value"] == bookmark
    assert resumed.returncode == 0, resumed.stderr
    assert set(ids) <= set(resumed.record_ids())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_target_stopped_mid_put_emits_no_unwritten_state(tmp_path, sandbox, workspace, inject, stop_signal):
    input_path = tmp_path / "input.singer"
    write_singer(input_path, "tickets", [ticket(n) for n in range(1, RECORDS + 1)], state_every=BATCH)
    hook = inject({"kind": "delay", "seconds": 60, "method": "PUT", "first": 3})
    config_path = tmp_path / "target.json"
    config_path.write_text(json.dumps(target_config(sandbox)))

    with subprocess.Popen(
        [str(TARGET), "--config", str(config_path), "--input", str(input_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        wait_until(lambda: len(hook.applied) == 1)
        process.send_signal(stop_signal)
        stdout, stderr = process.communicate(timeout=30)

    hook.close()
    sandbox.hook = None
    states = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    position = states[-1]["bookmarks"]["tickets"]["position"] if states else 0
    stored = {t["externalId"] for t in workspace.tickets()}

    assert process.returncode == 128 + stop_signal
    assert f"Stopped by {signal.Signals(stop_signal).name}" in stderr
    # Only the first two PUTs were acknowledged; the third hung when stopped.
    assert position == 2 * BATCH
    assert {f"T-{n:05d}" for n in range(1, position + 1)} <= stored
