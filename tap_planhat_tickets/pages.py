"""The page requests of GET /tickets: one after another, or ahead of the reader."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from singer_sdk.helpers._util import utc_now

from planhat_api import PlanhatClient
from planhat_api.client import parse_json_body
from tap_planhat_tickets.paging import ID_KEY
from tap_planhat_tickets.prefetch import PagePrefetcher, PageQuery, RawPage

#: Default of the tap setting `max_requests_in_flight`. With pages of
#: 10,000 tickets that take a second each to arrive, the tap works through
#: about 3.5 pages a second (benchmarks/latency.py on a 2-core machine), so
#: it needs at least 5 requests ahead of the page it works on.
DEFAULT_REQUESTS_IN_FLIGHT = 6

#: A long companyId list is split into requests of at most about 2,000
#: characters each, as other Planhat clients do, so URLs stay within the
#: length that proxies and servers commonly accept.
MAX_COMPANY_FILTER_CHARS = 2_000


@dataclass(frozen=True)
class FetchedPage:
    """One page's response: its status, its parsed JSON body and when it arrived."""

    status: int
    data: Any
    received_at: datetime


class TicketPages:
    """Send the page requests of one sync's reads.

    With `max_in_flight` 1, every page is requested when the reader asks for
    it, and the client parses it, one request after another. With more, the
    pages of a read by `_id` are requested ahead by a `PagePrefetcher` and
    parsed here, in the reader's thread. Pages sorted otherwise (the
    incremental read by `updateDate`) are always requested when asked for,
    because their next offset depends on the page before.

    Call `end_read` when a read ends and `close` when the sync ends.
    """

    def __init__(
        self,
        client: PlanhatClient,
        *,
        select: str | None,
        max_in_flight: int,
        logger: logging.Logger,
    ) -> None:
        """Create the page requests of `client`, with the API's `select` parameter."""
        self._client = client
        self._select = select
        self._logger = logger
        self._prefetcher = (
            PagePrefetcher(self._fetch_body, max_in_flight)
            if max_in_flight > 1
            else None
        )

    @property
    def discarded_pages(self) -> int:
        """Pages requested ahead that no reader used."""
        return 0 if self._prefetcher is None else self._prefetcher.discarded_pages

    def fetch(self, query: PageQuery) -> FetchedPage:
        """Return the page of `query`.

        Raises:
            PlanhatAPIError: as `PlanhatClient.request` does.
        """
        if self._prefetcher is None or query.sort != ID_KEY:
            return self._fetch_now(query)

        raw = self._prefetcher.page(query)
        try:
            data = parse_json_body(raw.body)
        except orjson.JSONDecodeError as error:
            # The client's quick JSON check passes some bodies that orjson
            # rejects, such as invalid UTF-8 inside a string. The request is
            # sent again with the full parse, which retries such a body.
            self._logger.warning(
                "GET /tickets at offset %d returned a %d-byte body that is not "
                "valid JSON (%s); requesting the page again",
                query.offset,
                len(raw.body),
                error,
            )
            return self._fetch_now(query)
        return FetchedPage(raw.status, data, raw.received_at)

    def end_read(self) -> None:
        """Discard the pages requested ahead of a read that has ended."""
        if self._prefetcher is not None:
            self._prefetcher.discard_ahead()

    def close(self) -> None:
        """Cancel every request not yet sent and let the worker threads exit."""
        if self._prefetcher is not None:
            self._prefetcher.close()

    def join(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the workers to exit; True if they did."""
        return self._prefetcher is None or self._prefetcher.join(timeout)

    def _fetch_now(self, query: PageQuery) -> FetchedPage:
        response = self._client.request("GET", "/tickets", params=self._params(query))
        return FetchedPage(response.status, response.data, utc_now())

    def _fetch_body(self, query: PageQuery, stop: threading.Event) -> RawPage:
        response = self._client.request(
            "GET", "/tickets", params=self._params(query), parse_body=False, stop=stop
        )
        return RawPage(response.status, response.data, utc_now())

    def _params(self, query: PageQuery) -> dict[str, str | int]:
        params: dict[str, str | int] = {
            "limit": query.limit,
            "offset": query.offset,
            "sort": query.sort,
        }
        if self._select:
            params["select"] = self._select
        if query.company_filter:
            params["companyId"] = query.company_filter
        return params


def company_filters(company_ids: list[str] | None) -> list[str | None]:
    """Return the `companyId` value of each read: comma-joined ids, or None for all."""
    if not company_ids:
        return [None]

    chunks: list[str] = []
    current = ""
    for company_id in company_ids:
        candidate = f"{current},{company_id}" if current else company_id
        if current and len(candidate) > MAX_COMPANY_FILTER_CHARS:
            chunks.append(current)
            candidate = company_id
        current = candidate
    chunks.append(current)
    return chunks
