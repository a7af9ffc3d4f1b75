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


class TimedPut(RequestRecorder):
    """Records when each PUT starts and ends, holding it for a quarter second."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[float, float]] = []

    def reply_instead(self, exchange):
        if exchange.method == "PUT":
            started = time.monotonic()
            time.sleep(0.25)
            self.spans.append((started, time.monotonic()))
        return None


def test_streams_sent_one_after_another(tmp_path, sandbox, workspace):
    hook = TimedPut()
    sandbox.hook = hook
    first = tmp_path / "first.singer"
    second = tmp_path / "second.singer"
    write_singer(first, "zendesk_tickets", [ticket(1), ticket(2)])
    write_singer(second, "freshdesk_tickets", [ticket(3), ticket(4)])
    input_path = tmp_path / "input.singer"
    input_path.write_text(first.read_text() + second.read_text())

    run = run_target(tmp_path, target_config(sandbox), input_path)

    assert run.returncode == 0, run.stderr
    assert len(hook.spans) == 2
    (first_start, first_end), (second_start, _) = sorted(hook.spans)
    assert first_end <= second_start
    assert len(workspace) == 4
    assert "Summary: stream 'zendesk_tickets': received 2, created 2," in run.stderr
    assert "; stream 'freshdesk_tickets': received 2, created 2," in run.stderr
