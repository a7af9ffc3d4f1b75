"""The sender thread of the target CLI: one request in flight, STATE after its ack."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time

from planhat_sandbox import Fault, FaultHook
from tests.target.conftest import (
    TARGET,
    RequestRecorder,
    run_target,
    target_config,
    ticket,
    write_singer,
)

#: Seconds a test lets the target run on while a PUT is held.
SETTLE_SECONDS = 0.5


class CountingHook(RequestRecorder):
    """Counts the API requests in flight; optionally holds each PUT until released."""

    def __init__(self, *, hold_puts: bool = False, delay: float = 0.0) -> None:
        super().__init__()
        self.hold_puts = hold_puts
        self.delay = delay
        #: Released once for each PUT that arrives.
        self.put_arrived = threading.Semaphore(0)
        #: Released by the test once for each PUT it lets through.
        self.put_released = threading.Semaphore(0)
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()

    def before_handling(self, exchange):
        with self._count_lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        reply = super().before_handling(exchange)
        time.sleep(self.delay)
        if self.hold_puts and exchange.method == "PUT":
            self.put_arrived.release()
            self.put_released.acquire(timeout=60)
        return reply

    def before_sending(self, exchange, reply):
        with self._count_lock:
            self.in_flight -= 1
        return super().before_sending(exchange, reply)


class LineCollector:
    """Reads a pipe on a thread, so the test sees each line as it is written."""

    def __init__(self, stream) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line)

    def join(self) -> None:
        self._thread.join(timeout=30)


def positions(lines: list[str]) -> list[int]:
    return [
        json.loads(line)["bookmarks"]["tickets"]["position"] for line in list(lines)
    ]


def test_state_follows_each_put_ack(tmp_path, sandbox, workspace):
    hook = CountingHook(hold_puts=True)
    sandbox.hook = hook
    input_path = tmp_path / "input.singer"
    write_singer(
        input_path, "tickets", [ticket(n) for n in range(1, 31)], state_every=10
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(target_config(sandbox, batch_size_rows=10)))

    seen_while_held = []
    full_sinks_while_first_held = 0
    with subprocess.Popen(
        [str(TARGET), "--config", str(config_path), "--input", str(input_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        stdout = LineCollector(process.stdout)
        stderr = LineCollector(process.stderr)
        for batch in range(1, 4):
            assert hook.put_arrived.acquire(timeout=60), f"PUT {batch} never came"
            time.sleep(SETTLE_SECONDS)
            seen_while_held.append(positions(stdout.lines))
            if batch == 1:
                full_sinks_while_first_held = "".join(stderr.lines).count(
                    "Target sink for 'tickets' is full"
                )
            hook.put_released.release()
        process.wait(timeout=60)
        stdout.join()
        stderr.join()

    assert process.returncode == 0, "".join(stderr.lines)
    # While PUT n is held, STATE covers exactly the n - 1 acknowledged batches.
    assert seen_while_held == [[], [10], [10, 20]]
    assert positions(stdout.lines) == [10, 20, 30]
    # The second batch was read and drained while the first PUT was held.
    assert full_sinks_while_first_held == 2
    assert hook.max_in_flight == 1


def test_one_request_in_flight(tmp_path, sandbox, workspace):
    created = workspace.upsert([ticket(n) for n in range(1, 4)]).inserts_keys
    ids = [key["_id"] for key in created]
    hook = CountingHook(delay=0.05)
    sandbox.hook = hook
    schema = {
        "type": "object",
        "properties": {
            "_id": {"type": ["string", "null"]},
            "sourceId": {"type": ["string", "null"]},
            "title": {"type": ["string", "null"]},
            "email": {"type": ["string", "null"]},
            "companyExternalId": {"type": ["string", "null"]},
        },
    }
    # Two streams in turns, so that both sinks hold records, and a delete of
    # ticket 1 in the batch after the one that updates it.
    lines = [
        {"type": "SCHEMA", "stream": name, "schema": schema, "key_properties": []}
        for name in ("zendesk", "freshdesk")
    ]
    for n in range(4, 24):
        stream = "zendesk" if n % 2 else "freshdesk"
        record = {key: ticket(n)[key] for key in schema["properties"] if key != "_id"}
        if n == 5:
            record = {**ticket(1), "_id": ids[0], "title": "Ticket 1 v2"}
            record = {key: record[key] for key in schema["properties"]}
        if n == 13:
            record = {"_id": ids[0], "_sdc_deleted_at": "2026-01-01T00:00:00Z"}
        lines.append({"type": "RECORD", "stream": stream, "record": record})
    input_path = tmp_path / "input.singer"
    input_path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    config = target_config(
        sandbox, batch_size_rows=3, same_workspace=True, hard_delete=True
    )

    run = run_target(tmp_path, config, input_path)

    assert run.returncode == 0, run.stderr
    assert hook.max_in_flight == 1
    methods = [method for method, _, _ in hook.exchanges]
    # Ten records a stream in batches of 3: four PUTs each.
    assert methods.count("PUT") == 8
    assert methods.count("DELETE") == 1
    update = next(
        index
        for index, body in enumerate(hook.bodies)
        if any(item.get("_id") == ids[0] for item in body)
    )
    # The delete goes out after the PUT that updated the same ticket.
    assert (
        methods.index("DELETE")
        > [index for index, method in enumerate(methods) if method == "PUT"][update]
    )
    assert workspace.ticket(ids[0]) is None
    assert workspace.ticket(ids[1]) is not None


def test_failed_put_stops_later_state(tmp_path, sandbox, workspace):
    hook = FaultHook(
        [
            Fault.from_dict(
                {
                    "kind": "status",
                    "status": 500,
                    "method": "PUT",
                    "first": 2,
                    "times": None,
                }
            )
        ]
    )
    sandbox.hook = hook
    input_path = tmp_path / "input.singer"
    write_singer(
        input_path, "tickets", [ticket(n) for n in range(1, 41)], state_every=10
    )
    config = target_config(sandbox, batch_size_rows=10, retry_max_attempts=2)

    run = run_target(tmp_path, config, input_path)
    hook.close()

    assert run.returncode == 1
    assert run.states == [{"bookmarks": {"tickets": {"position": 10}}}]
    assert "failed after 2 attempts; last error: HTTP 500" in run.stderr
    # Records read while the second PUT was in flight are not counted.
    assert (
        "Summary of the failed run: stream 'tickets': received 20, created 10, "
        "updated 0, unchanged 0, skipped as invalid 0,"
    ) in run.stderr
    assert len(workspace) == 10
