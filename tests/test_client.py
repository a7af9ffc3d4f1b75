"""The shared HTTP client against a scripted server on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import email.utils
import threading
import time

import pytest

from planhat_api import (
    ClientSettings,
    PlanhatAPIError,
    PlanhatClient,
    PlanhatRetriesExhaustedError,
    RateLimiter,
)
from planhat_api.client import RequestCancelledError, _parse_retry_after
from tests.scripted_server import Reply, ScriptedServer

TOKEN = "secret-token-123"


def make_client(url, *, waits, **overrides):
    settings = ClientSettings(
        base_url=url,
        api_token=TOKEN,
        request_timeout_seconds=overrides.pop("timeout", 5),
        retry_max_attempts=overrides.pop("attempts", 4),
        retry_initial_wait_seconds=1,
        retry_max_wait_seconds=overrides.pop("max_wait", 30),
    )
    return PlanhatClient(settings, user_agent="test/0", sleep=waits.append)


def test_bearer_token_sent():
    waits: list[float] = []
    with ScriptedServer([Reply(body=b"[1]")]) as server:
        response = make_client(server.url, waits=waits).request("GET", "/tickets")

    assert response.data == [1]
    assert server.received[0]["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_429_honours_retry_after_seconds():
    waits: list[float] = []
    replies = [Reply(429, b"Too many requests", {"Retry-After": "7"}), Reply(body=b"[]")]
    with ScriptedServer(replies) as server:
        client = make_client(server.url, waits=waits)
        client.request("GET", "/tickets")

    assert waits == [7.0]
    assert client.retry_count == 1
    assert len(server.received) == 2


def test_429_without_retry_after_backs_off_exponentially():
    waits: list[float] = []
    replies = [Reply(429, b""), Reply(429, b""), Reply(429, b""), Reply(body=b"[]")]
    with ScriptedServer(replies) as server:
        make_client(server.url, waits=waits).request("GET", "/tickets")

    # Equal jitter: each wait lies between half and all of 1, 2, 4 seconds.
    assert len(waits) == 3
    for wait, ceiling in zip(waits, [1, 2, 4], strict=True):
        assert ceiling / 2 <= wait <= ceiling


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_retried(status, caplog):
    waits: list[float] = []
    with ScriptedServer([Reply(status, b"oops"), Reply(body=b"[2]")]) as server:
        response = make_client(server.url, waits=waits).request("GET", "/tickets")

    assert response.data == [2]
    assert len(waits) == 1
    # A retry that may yet succeed is a warning; the error comes when the
    # attempts run out.
    retries = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert [r.levelname for r in retries] == ["WARNING"]


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (400, "invalid"),
        (401, "Check api_token, and that the API URL or region matches the workspace"),
        (403, "lacks permission"),
        (404, "Check api_url"),
    ],
)
def test_client_errors_fail_at_once(status, advice):
    waits: list[float] = []
    with ScriptedServer([Reply(status, b'{"error":"no"}')]) as server:
        client = make_client(server.url, waits=waits)
        with pytest.raises(PlanhatAPIError, match=advice) as raised:
            client.request("GET", "/tickets")

    assert raised.value.status == status
    assert len(server.received) == 1
    assert waits == []
    assert TOKEN not in str(raised.value)


def test_invalid_json_retried():
    waits: list[float] = []
    with ScriptedServer([Reply(body=b'[{"_id": "a"'), Reply(body=b'[{"_id": "a"}]')]) as server:
        response = make_client(server.url, waits=waits).request("GET", "/tickets")

    assert response.data == [{"_id": "a"}]
    assert len(waits) == 1


def test_truncated_body_retried():
    waits: list[float] = []
    with ScriptedServer([Reply(body=b'[{"_id": "a"}', truncate_by=50), Reply(body=b"[]")]) as server:
        response = make_client(server.url, waits=waits).request("GET", "/tickets")

    assert response.data == []
    assert len(waits) == 1


def test_timeout_retried():
    waits: list[float] = []
    with ScriptedServer([Reply(delay=1.0), Reply(body=b"[3]")]) as server:
        response = make_client(server.url, waits=waits, timeout=0.2).request("GET", "/tickets")

    assert response.data == [3]
    assert len(waits) == 1


def test_retries_exhausted_names_attempts():
    waits: list[float] = []
    with ScriptedServer([Reply(503, b"down")]) as server:
        client = make_client(server.url, waits=waits, attempts=3)
        with pytest.raises(PlanhatRetriesExhaustedError, match=r"failed after 3 attempts; last error: HTTP 503"):
            client.request("GET", "/tickets")

    assert len(server.received) == 3
    assert len(waits) == 2


def test_retry_after_above_max_wait_fails():
    waits: list[float] = []
    with ScriptedServer([Reply(429, b"", {"Retry-After": "3600"})]) as server:
        client = make_client(server.url, waits=waits, max_wait=60)
        with pytest.raises(PlanhatAPIError, match=r"Retry-After 3600 s, longer than retry_max_wait_seconds \(60 s\)"):
            client.request("GET", "/tickets")

    assert waits == []


def test_retry_after_http_date_parsed():
    in_ten_seconds = email.utils.formatdate(time.time() + 10, usegmt=True)

    wait = _parse_retry_after(in_ten_seconds)

    assert wait is not None
    assert 8 <= wait <= 10


def test_retry_after_garbage_ignored():
    assert _parse_retry_after("soon") is None


def test_unparsed_body_returned_as_bytes():
    waits: list[float] = []
    with ScriptedServer([Reply(body=b'[{"_id": "a"}]')]) as server:
        response = make_client(server.url, waits=waits).request("GET", "/tickets", parse_body=False)

    assert response.data == b'[{"_id": "a"}]'
    assert response.status == 200


@pytest.mark.parametrize("parse_body", [True, False])
def test_invalid_json_message_same_unparsed(parse_body):
    waits: list[float] = []
    with ScriptedServer([Reply(body=b'[{"_id": "a"')]) as server:
        client = make_client(server.url, waits=waits, attempts=2)
        with pytest.raises(PlanhatRetriesExhaustedError) as raised:
            client.request("GET", "/tickets", parse_body=parse_body)

    assert "failed after 2 attempts; last error: invalid JSON in a 12-byte body: unexpected end of data" in str(raised.value)
    assert len(server.received) == 2


def test_unparsed_truncated_body_retried():
    waits: list[float] = []
    with ScriptedServer([Reply(body=b'[{"_id": "a"}', truncate_by=50), Reply(body=b"[]")]) as server:
        client = make_client(server.url, waits=waits)
        response = client.request("GET", "/tickets", parse_body=False)

    assert response.data == b"[]"
    assert len(waits) == 1
    assert client.retry_count == 1


def test_unparsed_client_error_names_body():
    waits: list[float] = []
    with ScriptedServer([Reply(400, b'{"error":"bad sort"}')]) as server:
        client = make_client(server.url, waits=waits)
        with pytest.raises(PlanhatAPIError, match="bad sort"):
            client.request("GET", "/tickets", parse_body=False)


def test_stop_cancels_retry_wait():
    stop = threading.Event()
    settings = ClientSettings(base_url="", api_token=TOKEN, retry_initial_wait_seconds=600, retry_max_wait_seconds=600)
    with ScriptedServer([Reply(503, b"down")]) as server:
        client = PlanhatClient(dataclasses.replace(settings, base_url=server.url), user_agent="test/0")
        threading.Timer(0.2, stop.set).start()
        with pytest.raises(RequestCancelledError, match="cancelled before a retry"):
            client.request("GET", "/tickets", stop=stop)

    assert len(server.received) == 1


def test_stop_set_before_sending():
    stop = threading.Event()
    stop.set()
    with ScriptedServer([Reply(body=b"[]")]) as server:
        client = make_client(server.url, waits=[])
        with pytest.raises(RequestCancelledError, match="cancelled before sending"):
            client.request("GET", "/tickets", stop=stop)

    assert server.received == []
    assert client.request_count == 0


def test_counters_exact_under_threads():
    # Every tenth reply is a 503, so both counters move; enough attempts
    # that no request runs out of them.
    replies = [Reply(503, b"down") if n % 10 == 5 else Reply(body=b"[]") for n in range(400)]
    with ScriptedServer(replies) as server:
        client = make_client(server.url, waits=[], attempts=20)
        # Out of the way of 200 requests and their retries.
        client._limiter = RateLimiter(100_000, 10_000)
        workers = [threading.Thread(target=lambda: [client.request("GET", "/tickets") for _ in range(25)]) for _ in range(8)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)

    assert client.request_count == len(server.received)
    assert client.retry_count == client.request_count - 8 * 25
