"""STATE handling and batch splitting of the target CLI, against the sandbox."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.target.conftest import (
    TARGET,
    RequestRecorder,
    run_target,
    target_config,
    ticket,
    write_singer,
)


class SlowPut(RequestRecorder):
    """Holds each PUT for a second before the API handles it."""

    def __init__(self) -> None:
        super().__init__()
        self.puts_answered = 0

    def reply_instead(self, exchange):
        if exchange.method == "PUT":
            time.sleep(1.0)
        return None

    def before_sending(self, exchange, reply):
        if exchange.method == "PUT":
            self.puts_answered += 1
        return super().before_sending(exchange, reply)


def test_state_waits_for_put_ack(tmp_path, sandbox, workspace):
    hook = SlowPut()
    sandbox.hook = hook
    input_path = tmp_path / "input.singer"
    states_in = write_singer(
        input_path, "tickets", [ticket(1), ticket(2)], state_every=1
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(target_config(sandbox)))

    with subprocess.Popen(
        [str(TARGET), "--config", str(config_path), "--input", str(input_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        first_line = process.stdout.readline()
        # Checked the moment STATE arrives: a STATE sent before the slow PUT
        # was answered would find the workspace still empty.
        answered_when_state_arrived = hook.puts_answered
        tickets_when_state_arrived = len(workspace)
        rest = process.stdout.read()

    assert process.returncode == 0
    assert json.loads(first_line) == states_in[-1]
    assert rest == ""
    assert answered_when_state_arrived == 1
    assert tickets_when_state_arrived == 2


def test_last_state_out_equals_last_in(tmp_path, sandbox, workspace):
    input_path = tmp_path / "input.singer"
    records = [ticket(number) for number in range(1, 8)]
    states_in = write_singer(input_path, "tickets", records, state_every=1)

    run = run_target(tmp_path, target_config(sandbox, batch_size_rows=2), input_path)

    assert run.returncode == 0, run.stderr
    assert run.states[-1] == states_in[-1]
    assert all(state in states_in for state in run.states)
    assert len(workspace) == 7


@pytest.mark.parametrize("batch_size_rows", [None, 12_000])
def test_12000_records_three_puts(
    tmp_path, sandbox, workspace, recorder, batch_size_rows
):
    input_path = tmp_path / "input.singer"
    states_in = write_singer(
        input_path,
        "tickets",
        [ticket(number) for number in range(1, 12_001)],
        state_every=1_000,
    )
    settings = {} if batch_size_rows is None else {"batch_size_rows": batch_size_rows}

    run = run_target(tmp_path, target_config(sandbox, **settings), input_path)

    assert run.returncode == 0, run.stderr
    assert [len(body) for body in recorder.bodies] == [5_000, 5_000, 2_000]
    assert len(workspace) == 12_000
    assert run.states[-1] == states_in[-1]
