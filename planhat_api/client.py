"""The one HTTP client of tap and target: auth, pacing, retries, error mapping."""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import msgspec
import orjson
import requests

from planhat_api.collection import paused_collection
from planhat_api.config import ClientSettings
from planhat_api.errors import (
    PlanhatAPIError,
    PlanhatRetriesExhaustedError,
    describe_fatal_status,
)
from planhat_api.ratelimit import RateLimiter

# Failures of the transport or of a response body that a new attempt can cure.
# ChunkedEncodingError also covers a body cut short of its Content-Length.
_RETRYABLE_EXCEPTIONS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_RETRYABLE_STATUSES = frozenset({408, 429})
# Checks that a body is one well-formed JSON value without building its
# objects: about 10 ms for a page of 10,000 tickets, against about 200 ms
# for orjson's full parse (measured on the 2-core development machine).
_JSON_CHECK = msgspec.json.Decoder(msgspec.Raw)


class RequestCancelledError(Exception):
    """A request given up because its `stop` event was set; nothing failed."""


@dataclass(frozen=True)
class ApiResponse:
    """A response whose status the caller accepted, with its JSON body.

    `data` is the parsed body, or the body's bytes for a request sent with
    `parse_body=False`.
    """

    status: int
    data: Any
    headers: Mapping[str, str]


@dataclass(frozen=True)
class _RetryableFailure:
    reason: str
    retry_after_seconds: float | None = None


class PlanhatClient:
    """Send requests to the Planhat API under one rate limit and retry policy.

    Every request waits for the rate limiter, carries the Bearer token, and is
    retried with exponential backoff and jitter on 408, 429, 5xx, time-outs,
    dropped connections and bodies that are cut short or not valid JSON.
    Other 4xx statuses fail at once with a message naming what to check.

    Safe to use from several threads at once. The counters are updated
    under a lock. Each request borrows a `requests.Session` that no other
    request uses at the same time, because requests does not promise that
    one Session can be shared between threads.
    """

    def __init__(
        self,
        settings: ClientSettings,
        *,
        user_agent: str,
        logger: logging.Logger | None = None,
        rate_limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Create a client; a shared `rate_limiter` paces several clients together."""
        self.settings = settings
        self._logger = logger or logging.getLogger("planhat_api")
        self._limiter = rate_limiter or RateLimiter(
            settings.max_requests_per_minute,
            settings.max_requests_per_second,
        )
        self._sleep = sleep
        self._headers = {
            "Authorization": f"Bearer {settings.api_token}",
            "Accept": "application/json",
            "User-Agent": user_agent,
        }
        # Sessions not in use; one per request in flight at most, each with
        # its own connection pool, reused by later requests.
        self._idle_sessions: list[requests.Session] = []
        self._all_sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        #: Requests sent, retries included.
        self.request_count = 0
        #: Attempts that failed with a retryable error and were tried again.
        self.retry_count = 0

    def close(self) -> None:
        """Close the connection pools of every session."""
        with self._lock:
            sessions = list(self._all_sessions)
        for session in sessions:
            session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        accept_statuses: frozenset[int] = frozenset(),
        parse_body: bool = True,
        stop: threading.Event | None = None,
    ) -> ApiResponse:
        """Send one request, retrying as the policy allows, and return its parsed body.

        A 2xx status and any status in `accept_statuses` are returned. With
        `parse_body=False`, `data` holds the body's bytes, checked to be
        well-formed JSON, so that the caller can parse them later, in
        another thread. A body that fails the check is retried like one that
        fails to parse.

        Setting `stop` from another thread cancels the request before its
        next attempt: it ends the wait for the rate limiter or for a retry,
        but not an attempt already sent.

        Raises:
            PlanhatAPIError: on a status that is never retried, or on a
                Retry-After longer than `retry_max_wait_seconds`.
            PlanhatRetriesExhaustedError: when every attempt failed.
            RequestCancelledError: when `stop` was set before an attempt.
        """
        url = f"{self.settings.base_url}{path}"
        payload = None if body is None else orjson.dumps(body)
        attempts = self.settings.retry_max_attempts

        for attempt in range(1, attempts + 1):
            outcome = self._attempt(
                method, url, params, payload, accept_statuses, parse_body, stop
            )
            if isinstance(outcome, ApiResponse):
                return outcome

            where = f"{method} {url}"
            if attempt == attempts:
                msg = (
                    f"{where} failed after {attempts} attempts; last error: "
                    f"{outcome.reason}. Check the API's status, or raise "
                    "retry_max_attempts."
                )
                raise PlanhatRetriesExhaustedError(msg)

            wait = self._wait_before_retry(attempt, outcome, where)
            with self._lock:
                self.retry_count += 1
            # WARNING, not ERROR: a retry that succeeds leaves a healthy run,
            # and the error comes when the attempts run out.
            self._logger.warning(
                "%s failed (%s); retrying in %.2f s (attempt %d of %d)",
                where,
                outcome.reason,
                wait,
                attempt + 1,
                attempts,
            )
            if stop is None:
                self._sleep(wait)
            elif stop.wait(wait):
                raise RequestCancelledError(f"{where}: cancelled before a retry")

        raise AssertionError("unreachable: the loop returns or raises")

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        payload: bytes | None,
        accept_statuses: frozenset[int],
        parse_body: bool,
        stop: threading.Event | None,
    ) -> ApiResponse | _RetryableFailure:
        if self._limiter.acquire(stop) is None:
            raise RequestCancelledError(f"{method} {url}: cancelled before sending")
        with self._lock:
            self.request_count += 1
        headers = {"Content-Type": "application/json"} if payload is not None else None
        try:
            with self._borrowed_session() as session:
                response = session.request(
                    method,
                    url,
                    params=params,
                    data=payload,
                    headers=headers,
                    timeout=self.settings.request_timeout_seconds,
                    stream=not parse_body,
                )
                raw_body = None if parse_body else _read_whole_body(response)
        except _RETRYABLE_EXCEPTIONS as exc:
            return _RetryableFailure(f"{type(exc).__name__}: {exc}")

        status = response.status_code
        if status in _RETRYABLE_STATUSES or status >= 500:
            return _RetryableFailure(
                f"HTTP {status}",
                _parse_retry_after(response.headers.get("Retry-After")),
            )
        if not (200 <= status < 300 or status in accept_statuses):
            text = (
                response.text if raw_body is None else raw_body.decode(errors="replace")
            )
            msg = describe_fatal_status(method, url, status, text)
            raise PlanhatAPIError(msg, status=status)

        if raw_body is not None:
            return _checked_body(status, raw_body, response.headers)
        return self._parse_body(response)

    @contextmanager
    def _borrowed_session(self) -> Iterator[requests.Session]:
        """Lend a session that no other thread uses until the block ends."""
        with self._lock:
            session = self._idle_sessions.pop() if self._idle_sessions else None
        if session is None:
            session = requests.Session()
            session.headers.update(self._headers)
            with self._lock:
                self._all_sessions.append(session)
        try:
            yield session
        finally:
            with self._lock:
                self._idle_sessions.append(session)

    @staticmethod
    def _parse_body(response: requests.Response) -> ApiResponse | _RetryableFailure:
        try:
            data = parse_json_body(response.content)
        except orjson.JSONDecodeError as exc:
            size = len(response.content)
            return _RetryableFailure(f"invalid JSON in a {size}-byte body: {exc}")
        return ApiResponse(response.status_code, data, response.headers)

    def _wait_before_retry(
        self,
        attempt: int,
        failure: _RetryableFailure,
        where: str,
    ) -> float:
        max_wait = self.settings.retry_max_wait_seconds
        if failure.retry_after_seconds is not None:
            if failure.retry_after_seconds > max_wait:
                msg = (
                    f"{where} answered {failure.reason} with Retry-After "
                    f"{failure.retry_after_seconds:.0f} s, longer than "
                    f"retry_max_wait_seconds ({max_wait:g} s). Rerun later, or raise "
                    "retry_max_wait_seconds."
                )
                raise PlanhatAPIError(msg)
            return failure.retry_after_seconds

        # Exponential backoff with "equal jitter": half fixed, half random, so
        # that parallel clients spread out but still wait at least half.
        ceiling = min(
            max_wait, self.settings.retry_initial_wait_seconds * 2 ** (attempt - 1)
        )
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311


def parse_json_body(body: bytes) -> Any:
    """Parse a response body, or return None for an empty one.

    Raises:
        orjson.JSONDecodeError: for a body that is not JSON.
    """
    if not body:
        return None
    with paused_collection():
        return orjson.loads(body)


def _read_whole_body(response: requests.Response) -> bytes:
    """Read the body of a streamed response in one piece.

    `response.content` reads 10 KB chunks and joins them, so a body is in
    memory twice for a moment. In worker threads, the freed chunks also stay
    in each thread's malloc arena. One read of the whole body allocates it once.
    Errors are mapped as `response.content` maps them.
    """
    return b"".join(response.iter_content(chunk_size=None))


def _checked_body(
    status: int, content: bytes, headers: Mapping[str, str]
) -> ApiResponse | _RetryableFailure:
    """Return the body as bytes if it is well-formed JSON, else a retryable failure."""
    if content:
        try:
            _JSON_CHECK.decode(content)
        except msgspec.DecodeError:
            # orjson's message, so that the failure reads as in `_parse_body`.
            # NOTE: the two parsers disagree on some bodies. Invalid UTF-8
            # inside a string passes the check, so callers must handle a
            # parse error of the bytes.
            try:
                parse_json_body(content)
            except orjson.JSONDecodeError as exc:
                size = len(content)
                return _RetryableFailure(f"invalid JSON in a {size}-byte body: {exc}")
    return ApiResponse(status, content, headers)


def _parse_retry_after(value: str | None) -> float | None:
    """Return the wait a Retry-After header asks for, in seconds, or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
