"""Errors of the Planhat client, with messages that say what to check."""

from __future__ import annotations

from singer_sdk.exceptions import FatalAPIError

# Advice for each status that is never retried.
_ADVICE_BY_STATUS = {
    400: "The request was rejected as invalid; check the parameters or payload.",
    401: (
        "Check api_token, and that the API URL or region matches the workspace: "
        "a token used on another region's host is also answered with 401."
    ),
    403: "The token's service account lacks permission; check its roles in Planhat.",
    404: "Check api_url: the path was not found on that host.",
}


class PlanhatAPIError(FatalAPIError):
    """A request that failed for good; retrying it would not help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        """Store the HTTP status, if any, beside the message."""
        super().__init__(message)
        self.status = status


class PlanhatRetriesExhaustedError(PlanhatAPIError):
    """A retryable failure that persisted through every allowed attempt."""


def describe_fatal_status(method: str, url: str, status: int, body: str) -> str:
    """Build the message for a status that fails at once."""
    advice = _ADVICE_BY_STATUS.get(status, "Check the request and the API's answer.")
    excerpt = " ".join(body.split())[:300]
    return f"{method} {url} failed with HTTP {status}: {excerpt!r}. {advice}"
