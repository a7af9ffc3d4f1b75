"""Extension point where fault injection attaches to the request handler."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planhat_sandbox.workspace import Workspace


@dataclass
class Exchange:
    """One request to the Planhat API routes, as the handler received it.

    ``SandboxHook.before_handling`` may replace ``body`` or ``parameters``,
    and the API then handles the replaced values.
    """

    #: Sequence number of the request among all API requests of the server,
    #: starting at 1; the request log uses the same number.
    number: int
    method: str
    #: Path without the query string.
    path: str
    #: Query parameters with every value of a repeated parameter.
    parameters: dict[str, list[str]]
    #: Request headers with lower-case names, without ``authorization``.
    headers: Mapping[str, str]
    body: bytes
    workspace: Workspace | None

    @property
    def query(self) -> dict[str, str]:
        """Query parameters with repeated values joined by commas, as logged."""
        return {name: ",".join(values) for name, values in self.parameters.items()}


@dataclass
class Reply:
    """A response that the handler is about to send."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "application/json; charset=utf-8"
    #: Value of ``Content-Length``; None sends ``len(body)``. A value larger
    #: than the body, with ``close``, sends a truncated response.
    content_length: int | None = None
    #: Close the connection after this response.
    close: bool = False
    #: Items for the request log: tickets returned by GET, items sent by PUT.
    items: int | None = None


class SandboxHook:
    """Hook the handler calls around each API request; this base class changes nothing.

    Fault injection subclasses it: ``before_handling`` can delay, change
    workspace data or respond in place of the API (a chosen status code), and
    ``before_sending`` can replace or cut the response. Neither is called for
    admin requests under ``/_sandbox/``. Methods run on the request's thread,
    concurrently for concurrent requests.
    """

    def before_handling(self, exchange: Exchange) -> Reply | None:
        """Return a reply to send instead of handling the request, or None to handle it.

        Called after authentication and rate limiting succeeded.
        """
        return None

    def before_sending(self, exchange: Exchange, reply: Reply) -> Reply:
        """Return the reply to send.

        Called for every API response, 401 and 429 included.
        """
        return reply

    def upsert_item_error(
        self, exchange: Exchange, index: int, item: dict[str, Any]
    ) -> tuple[str, str] | None:
        """Return an error for one PUT item, or None to process it normally.

        The error is the name of a response array (``"createdErrors"``,
        ``"updatedErrors"``, ``"permissionErrors"`` or ``"validationErrors"``)
        and a message. Called for items that have an email and passed
        validation, before matching.
        """
        return None
