"""Fixtures and helpers for target tests: the sandbox, Singer input and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from planhat_sandbox import Exchange, Reply, Sandbox, SandboxHook

TARGET = Path(sys.executable).parent / "target-planhat-tickets"
DATA = Path(__file__).parent / "data"
TOKEN = "token-b"


@dataclass
class TargetRun:
    """Output of one run of the target CLI."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        """The STATE values the target wrote, in order."""
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


class RequestRecorder(SandboxHook):
    """Sandbox hook that records every API exchange, with the parsed body of each PUT.

    Subclasses may override `reply_instead` to answer a request themselves.
    """

    def __init__(self) -> None:
        #: (method, path, status) of every API response, in order.
        self.exchanges: list[tuple[str, str, int]] = []
        self.bodies: list[list[dict[str, Any]]] = []
        self._lock = threading.Lock()

    def before_handling(self, exchange: Exchange) -> Reply | None:
        if exchange.method == "PUT":
            with self._lock:
                self.bodies.append(json.loads(exchange.body))
        return self.reply_instead(exchange)

    def reply_instead(self, exchange: Exchange) -> Reply | None:
        return None

    def before_sending(self, exchange: Exchange, reply: Reply) -> Reply:
        with self._lock:
            self.exchanges.append((exchange.method, exchange.path, reply.status))
        return reply

    def items(self) -> list[dict[str, Any]]:
        return [item for body in self.bodies for item in body]

    def statuses(self, method: str) -> list[int]:
        return [status for sent, _, status in self.exchanges if sent == method]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox() as running:
        yield running


@pytest.fixture
def workspace(sandbox: Sandbox):
    """An empty workspace with companies CRM-00001 to CRM-00005 (company-N.example)."""
    return sandbox.add_workspace("b", token=TOKEN, seed=7, companies=5)


@pytest.fixture
def recorder(sandbox: Sandbox) -> RequestRecorder:
    hook = RequestRecorder()
    sandbox.hook = hook
    return hook


def target_config(sandbox: Sandbox, **settings: Any) -> dict[str, Any]:
    return {
        "api_url": sandbox.url,
        "api_token": TOKEN,
        "retry_initial_wait_seconds": 0,
        **settings,
    }


def run_target(
    tmp_path: Path,
    config: dict[str, Any],
    input_path: Path,
    *,
    timeout: float = 120,
) -> TargetRun:
    """Run `target-planhat-tickets` on a .singer file."""
    config_path = tmp_path / "target-config.json"
    config_path.write_text(json.dumps(config))
    completed = subprocess.run(
        [str(TARGET), "--config", str(config_path), "--input", str(input_path)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    return TargetRun(completed.returncode, completed.stdout, completed.stderr)


WRITE_SCHEMA = {
    "type": "object",
    "properties": {
        "sourceId": {"type": ["string", "null"]},
        "title": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "email": {"type": ["string", "null"]},
        "companyId": {"type": ["string", "null"]},
        "companyExternalId": {"type": ["string", "null"]},
        "domains": {"type": ["array", "null"], "items": {"type": "string"}},
        "status": {"type": ["string", "null"]},
        "tags": {"type": ["array", "null"], "items": {"type": "string"}},
        "custom": {"type": ["object", "null"]},
    },
}


def write_singer(
    path: Path,
    stream: str,
    records: list[dict[str, Any]],
    *,
    schema: dict[str, Any] | None = None,
    key_properties: list[str] | None = None,
    state_every: int = 0,
) -> list[dict[str, Any]]:
    """Write a .singer file with one stream; return the STATE values written.

    With `state_every` N, a STATE follows every Nth record and the last one.
    """
    states = []
    lines = [
        {
            "type": "SCHEMA",
            "stream": stream,
            "schema": schema or WRITE_SCHEMA,
            "key_properties": key_properties
            if key_properties is not None
            else ["sourceId"],
        },
    ]
    for index, record in enumerate(records, start=1):
        lines.append({"type": "RECORD", "stream": stream, "record": record})
        if state_every and (index % state_every == 0 or index == len(records)):
            state = {"bookmarks": {stream: {"position": index}}}
            states.append(state)
            lines.append({"type": "STATE", "value": state})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return states


def ticket(number: int, **fields: Any) -> dict[str, Any]:
    """A valid write-shape record for a workspace made by the `workspace` fixture."""
    company = number % 5 + 1
    return {
        "sourceId": f"T-{number:05d}",
        "title": f"Ticket {number}",
        "description": f"Description of ticket {number}",
        "email": f"user{number}@company-{company}.example",
        "companyExternalId": f"CRM-{company:05d}",
        "status": "open",
        "tags": ["generated"],
        **fields,
    }


def stored_by_external_id(workspace) -> dict[str, dict[str, Any]]:
    return {ticket["externalId"]: ticket for ticket in workspace.tickets()}
