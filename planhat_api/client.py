"""The one HTTP client of tap and target: auth, pacing, retries, error mapping."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

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


@dataclass(frozen=True)
class ApiResponse:
    """A response whose status the caller accepted, with its parsed JSON body."""

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
        self._session = requests.Session()
        self._session.headers.update(
            {
                "Authorization": f"Bearer {settings.api_token}",
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
        )
        #: Requests sent, retries included.
        self.request_count = 0
        #: Attempts that failed with a retryable error and were tried again.
        self.retry_count = 0

    def close(self) -> None:
        """Close the connection pool."""
        self._session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        accept_statuses: frozenset[int] = frozenset(),
    ) -> ApiResponse:
        """Send one request, retrying as the policy allows, and return its parsed body.

        A 2xx status and any status in `accept_statuses` are returned.

        Raises:
            PlanhatAPIError: on a status that is never retried, or on a
                Retry-After longer than `retry_max_wait_seconds`.
            PlanhatRetriesExhaustedError: when every attempt failed.
        """
        url = f"{self.settings.base_url}{path}"
        payload = None if body is None else orjson.dumps(body)
        attempts = self.settings.retry_max_attempts

        for attempt in range(1, attempts + 1):
            outcome = self._attempt(method, url, params, payload, accept_statuses)
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
            self.retry_count += 1
            self._logger.error(
                "%s failed (%s); retrying in %.2f s (attempt %d of %d)",
                where,
                outcome.reason,
                wait,
                attempt + 1,
                attempts,
            )
            self._sleep(wait)

        raise AssertionError("unreachable: the loop returns or raises")

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        payload: bytes | None,
        accept_statuses: frozenset[int],
    ) -> ApiResponse | _RetryableFailure:
        self._limiter.acquire()
        self.request_count += 1
        headers = {"Content-Type": "application/json"} if payload is not None else None
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=payload,
                headers=headers,
                timeout=self.settings.request_timeout_seconds,
            )
        except _RETRYABLE_EXCEPTIONS as exc:
            return _RetryableFailure(f"{type(exc).__name__}: {exc}")

        status = response.status_code
        if status in _RETRYABLE_STATUSES or status >= 500:
            return _RetryableFailure(
                f"HTTP {status}",
                _parse_retry_after(response.headers.get("Retry-After")),
            )
        if not (200 <= status < 300 or status in accept_statuses):
            msg = describe_fatal_status(method, url, status, response.text)
            raise PlanhatAPIError(msg, status=status)

        return self._parse_body(response)

    @staticmethod
    def _parse_body(response: requests.Response) -> ApiResponse | _RetryableFailure:
        data: Any = None
        if response.content:
            try:
                with paused_collection():
                    data = orjson.loads(response.content)
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
