"""Tickets and companies of one workspace, with the lookups that upserts need."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Ticket = dict[str, Any]
Company = dict[str, Any]


class TicketStore:
    """In-memory ticket collection of one workspace, in insertion order.

    Stored ticket dicts are never changed in place: an update stores a new
    dict. Callers may therefore keep references to stored tickets (query
    caches, page serialisation) without holding a lock. The store itself is
    not thread-safe; ``Workspace`` serialises access to it.
    """

    def __init__(self) -> None:
        """Create an empty store."""
        #: Tickets by ``_id``; iteration order is insertion order, the
        #: natural order of an unsorted GET.
        self.tickets: dict[str, Ticket] = {}
        #: Number of changes so far; caches compare it to detect stale views.
        self.version = 0
        self.companies: list[Company] = []
        # The oldest ticket per externalId, plus any younger ones; duplicates are
        # rare, so most externalIds cost one dict entry and no list.
        self._oldest_by_external_id: dict[str, str] = {}
        self._younger_by_external_id: dict[str, list[str]] = {}
        self._company_by_id: dict[str, Company] = {}
        self._company_by_external_id: dict[str, Company] = {}
        self._company_by_domain: dict[str, Company] = {}

    # Companies

    def add_company(self, company: Company) -> None:
        """Add a company with ``_id``, ``name``, ``externalId`` and ``domains``.

        Raises:
            ValueError: if a company with the same ``_id`` exists.

        """
        company_id = company["_id"]
        if company_id in self._company_by_id:
            raise ValueError(f"company _id already exists: {company_id}")
        self.companies.append(company)
        self._company_by_id[company_id] = company
        external_id = company.get("externalId")
        if external_id:
            self._company_by_external_id.setdefault(external_id, company)
        for domain in company.get("domains") or ():
            self._company_by_domain.setdefault(domain.lower(), company)
        self.version += 1

    def company_by_id(self, company_id: str) -> Company | None:
        """Return the company with this ``_id``, or None."""
        return self._company_by_id.get(company_id)

    def company_by_external_id(self, external_id: str) -> Company | None:
        """Return the first company added with this ``externalId``, or None."""
        return self._company_by_external_id.get(external_id)

    def company_by_domains(self, domains: Iterable[str]) -> Company | None:
        """Return the company of the first domain that matches one, or None.

        Domains match case-insensitively and exactly: ``www.example.com`` does
        not match ``example.com``.
        """
        for domain in domains:
            company = self._company_by_domain.get(domain.lower())
            if company is not None:
                return company
        return None

    # Tickets

    def get(self, ticket_id: str) -> Ticket | None:
        """Return the ticket with this ``_id``, or None."""
        return self.tickets.get(ticket_id)

    def find_by_external_id(self, external_id: str) -> Ticket | None:
        """Return the oldest ticket whose ``externalId`` is ``external_id``, or None."""
        ticket_id = self._oldest_by_external_id.get(external_id)
        return None if ticket_id is None else self.tickets[ticket_id]

    def insert(self, ticket: Ticket) -> None:
        """Add a new ticket at the end of the natural order.

        Raises:
            ValueError: if a ticket with the same ``_id`` exists.

        """
        ticket_id = ticket["_id"]
        if ticket_id in self.tickets:
            raise ValueError(f"ticket _id already exists: {ticket_id}")
        self.tickets[ticket_id] = ticket
        self._index(ticket)
        self.version += 1

    def insert_many(self, tickets: Iterable[Ticket]) -> None:
        """Add new tickets in order, counting them as one change."""
        for ticket in tickets:
            ticket_id = ticket["_id"]
            if ticket_id in self.tickets:
                raise ValueError(f"ticket _id already exists: {ticket_id}")
            self.tickets[ticket_id] = ticket
            self._index(ticket)
        self.version += 1

    def replace(self, ticket: Ticket) -> None:
        """Store a new version of an existing ticket; its natural position stays."""
        ticket_id = ticket["_id"]
        old = self.tickets[ticket_id]
        if old.get("externalId") != ticket.get("externalId"):
            self._unindex(old)
            self.tickets[ticket_id] = ticket
            self._index(ticket)
        else:
            self.tickets[ticket_id] = ticket
        self.version += 1

    def delete(self, ticket_id: str) -> bool:
        """Remove a ticket; return False if no ticket has this ``_id``."""
        ticket = self.tickets.pop(ticket_id, None)
        if ticket is None:
            return False
        self._unindex(ticket)
        self.version += 1
        return True

    def _index(self, ticket: Ticket) -> None:
        external_id = ticket.get("externalId")
        if not isinstance(external_id, str):
            return
        ticket_id = ticket["_id"]
        oldest = self._oldest_by_external_id.setdefault(external_id, ticket_id)
        if oldest == ticket_id:
            return
        # ObjectIds grow in creation order, so the smallest id is the oldest ticket.
        if ticket_id < oldest:
            self._oldest_by_external_id[external_id] = ticket_id
            ticket_id = oldest
        self._younger_by_external_id.setdefault(external_id, []).append(ticket_id)

    def _unindex(self, ticket: Ticket) -> None:
        external_id = ticket.get("externalId")
        if not isinstance(external_id, str):
            return
        ticket_id = ticket["_id"]
        younger = self._younger_by_external_id.get(external_id, [])
        if ticket_id in younger:
            younger.remove(ticket_id)
        elif self._oldest_by_external_id.get(external_id) == ticket_id:
            if younger:
                next_oldest = min(younger)
                younger.remove(next_oldest)
                self._oldest_by_external_id[external_id] = next_oldest
            else:
                del self._oldest_by_external_id[external_id]
        if not younger:
            self._younger_by_external_id.pop(external_id, None)
