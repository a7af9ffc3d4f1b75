"""The sandbox process: binding, keep-alive, fault-injection hook, speed and CLI."""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import requests

from planhat_sandbox import Reply, Sandbox, SandboxHook

REPOSITORY = Path(__file__).parents[2]


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "::1", "192.168.1.10"])
def test_binding_other_addresses_is_rejected(host):
    with pytest.raises(ValueError, match=r"binds 127\.0\.0\.1 only"):
        Sandbox(host=host)


def test_url_and_port(sandbox):
    assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"


def test_start_twice_is_an_error(sandbox):
    with pytest.raises(RuntimeError, match="already running"):
        sandbox.start()


def test_close_ends_keep_alive_connections():
    with Sandbox() as local:
        local.add_workspace("a", token="token-a", tickets=1)
        session = requests.Session()
        session.headers["Authorization"] = "Bearer token-a"
        assert session.get(f"{local.url}/tickets", timeout=10).status_code == 200
        url = local.url

    with pytest.raises(requests.ConnectionError):
        session.get(f"{url}/tickets", timeout=5)
    session.close()


def test_responses_use_http_1_1_keep_alive(sandbox, make_workspace):
    workspace = make_workspace(tickets=2)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {workspace.token}"

    responses = [session.get(f"{sandbox.url}/tickets", timeout=10) for _ in range(3)]
    session.close()

    assert all(response.raw.version == 11 for response in responses)
    assert all(
        response.headers.get("Connection", "keep-alive") == "keep-alive"
        for response in responses
    )


def test_small_requests_are_fast_on_one_connection(sandbox, make_workspace):
    workspace = make_workspace(tickets=2)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {workspace.token}"
    session.get(f"{sandbox.url}/tickets", timeout=10)

    started = time.perf_counter()
    for _ in range(20):
        session.get(f"{sandbox.url}/tickets", timeout=10)
    elapsed = time.perf_counter() - started
    session.close()

    # Delayed ACKs without TCP_NODELAY would cost about 40 ms per request.
    assert elapsed < 0.5


def _time_full_page(sandbox, workspace):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {workspace.token}"
    url = f"{sandbox.url}/tickets?limit=10000&offset=8000&sort=updateDate"
    session.get(url, timeout=30)

    started = time.perf_counter()
    response = session.get(url, timeout=30)
    elapsed = time.perf_counter() - started
    session.close()

    assert len(orjson.loads(response.content)) == 10_000
    return elapsed


def test_full_page_is_fast(sandbox, make_workspace):
    workspace = make_workspace(tickets=20_000, seed=8)

    assert _time_full_page(sandbox, workspace) < 1.0


@pytest.mark.slow
def test_full_page_of_200_000_tickets_is_fast(sandbox, make_workspace):
    started = time.perf_counter()
    workspace = make_workspace(tickets=200_000, seed=1)
    seeding = time.perf_counter() - started

    assert len(workspace) == 200_000
    assert seeding < 30
    assert _time_full_page(sandbox, workspace) < 1.0


class _RecordingHook(SandboxHook):
    def __init__(self):
        self.seen = []

    def before_handling(self, exchange):
        self.seen.append(
            (exchange.number, exchange.method, exchange.path, exchange.workspace.name)
        )
        if exchange.query.get("fault") == "503":
            return Reply(status=503, body=b'{"error": "Service Unavailable"}')
        return None

    def before_sending(self, exchange, reply):
        reply.headers["X-Hook"] = str(reply.status)
        return reply

    def upsert_item_error(self, exchange, index, item):
        if item.get("sourceId") == "reject-me":
            return ("createdErrors", "rejected by the hook")
        return None


@pytest.fixture
def hooked(sandbox, make_workspace):
    hook = _RecordingHook()
    sandbox.hook = hook
    workspace = make_workspace(tickets=3)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {workspace.token}"
    yield hook, workspace, session
    session.close()
    sandbox.hook = None


def test_hook_can_replace_the_response(sandbox, hooked):
    hook, workspace, session = hooked

    response = session.get(f"{sandbox.url}/tickets?fault=503", timeout=10)

    assert response.status_code == 503
    assert response.headers["X-Hook"] == "503"
    assert hook.seen[-1][1:] == ("GET", "/tickets", workspace.name)


def test_hook_sees_every_reply(sandbox, hooked):
    _, _, session = hooked

    response = session.get(f"{sandbox.url}/tickets", timeout=10)

    assert response.status_code == 200
    assert response.headers["X-Hook"] == "200"


def test_hook_number_matches_request_log(sandbox, hooked):
    hook, workspace, session = hooked

    session.get(f"{sandbox.url}/tickets", timeout=10)

    assert sandbox.requests(workspace=workspace.name)[-1].sequence == hook.seen[-1][0]


def test_hook_can_reject_one_upsert_item(sandbox, hooked):
    _, workspace, session = hooked
    company = workspace.companies[0]["_id"]
    items = [
        {"sourceId": "keep-me", "email": "a@example.com", "companyId": company},
        {"sourceId": "reject-me", "email": "a@example.com", "companyId": company},
    ]

    response = session.put(f"{sandbox.url}/tickets", json=items, timeout=10)

    assert response.status_code == 206
    assert response.json()["created"] == 1
    assert response.json()["createdErrors"] == [
        {"sourceId": "reject-me", "message": "rejected by the hook"}
    ]


def test_default_hook_is_restored(sandbox):
    sandbox.hook = None

    assert type(sandbox.hook) is SandboxHook


def _start_cli(*arguments, ready_file=None):
    command = [
        sys.executable,
        "-m",
        "planhat_sandbox",
        "serve",
        "--port",
        "0",
        *arguments,
    ]
    if ready_file is not None:
        command += ["--ready-file", str(ready_file)]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    return subprocess.Popen(
        command,
        cwd=REPOSITORY,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_serves_until_sigterm(tmp_path):
    ready_file = tmp_path / "ready"
    process = _start_cli(
        "--workspace", "demo:cli-secret-token:25:3", ready_file=ready_file
    )
    try:
        url = process.stdout.readline().strip()
        headers = {"Authorization": "Bearer cli-secret-token"}

        response = requests.get(f"{url}/tickets", headers=headers, timeout=10)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert url.startswith("http://127.0.0.1:")
    assert ready_file.read_text().strip() == url
    assert len(response.json()) == 25
    assert process.returncode == 0
    assert "GET /tickets -> 200 items=25 workspace=demo" in stderr
    assert "cli-secret-token" not in stderr
    assert "stopped" in stderr


def test_cli_stops_on_sigint():
    process = _start_cli("--workspace", "demo:token:1")
    try:
        process.stdout.readline()
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert process.returncode == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--host", "0.0.0.0"], "binds 127.0.0.1 only"),
        (["--workspace", "only-a-name"], "expected NAME:TOKEN:COUNT"),
        (["--workspace", "a:token:many"], "whole numbers for COUNT and SEED"),
        (["--workspace", "a:t1:1", "--workspace", "a:t2:1"], "already exists"),
    ],
)
def test_cli_rejects_bad_arguments(arguments, message):
    process = _start_cli(*arguments)
    _, stderr = process.communicate(timeout=30)

    assert process.returncode == 2
    assert message in stderr


def test_client_reset_prints_no_traceback(sandbox, capfd):
    # A client that exits with requests in flight resets its connections; a
    # traceback per connection would bury the real errors in a test log.
    connection = socket.create_connection(("127.0.0.1", sandbox.port))
    connection.sendall(b"GET /tickets HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    # Linger with a zero timeout: close sends RST instead of FIN.
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    connection.close()
    time.sleep(0.3)

    assert "Traceback" not in capfd.readouterr().err
    assert requests.get(f"{sandbox.url}/_sandbox/health", timeout=5).status_code == 200
