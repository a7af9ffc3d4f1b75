"""Deterministic generator of companies and tickets that look like Planhat data.

The data exercises what a connector finds hard. Subjects contain emoji and
right-to-left text, and a few descriptions are very large. Optional properties
are sometimes missing or null, and ``custom`` has values of every JSON type.
Many runs of tickets share one ``updateDate``, as after bulk imports and bulk
updates.
"""

from __future__ import annotations

import gc
import math
import random
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from planhat_sandbox.formats import ObjectIdGenerator, epoch_days, time_bucket
from planhat_sandbox.store import Company, Ticket
from planhat_sandbox.texts import (
    COMPANY_NAMES,
    FIRST_NAMES,
    LAST_NAMES,
    PRODUCTS,
    SENTENCES,
    SUBJECTS,
    TAGS,
)

#: Seeded tickets are created between these dates (UTC).
SEED_START_MS = int(datetime(2021, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)
SEED_END_MS = int(datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp() * 1000)

#: Statuses by source system, with Salesforce-style capitals as in the
#: vendor's example ticket.
_STATUSES = {
    "zendesk": ("new", "open", "pending", "hold", "solved", "closed"),
    "salesforce": ("New", "Working", "Escalated", "Closed"),
    "freshdesk": ("open", "pending", "resolved", "closed"),
    "intercom": ("open", "snoozed", "closed"),
    None: ("open", "closed"),
}
_OPEN_STATUSES = frozenset(
    {"new", "open", "pending", "hold", "New", "Working", "Escalated", "snoozed"}
)
_SOURCES = ("zendesk", "zendesk", "salesforce", "freshdesk", "intercom", None)

#: Share of tickets with a description between 2 KB and 100 KB of UTF-8.
LARGE_SNIPPET_SHARE = 0.02
_LARGE_SNIPPET_MIN_BYTES = 2_000
_LARGE_SNIPPET_MAX_BYTES = 100_000
_SMALL_SNIPPET_POOL = 4_096
_LARGE_SNIPPET_POOL = 256


def default_company_count(ticket_count: int) -> int:
    """Return the number of companies for ``ticket_count`` seeded tickets."""
    return max(5, min(100, ticket_count // 2000))


def generate_companies(
    rng: random.Random, count: int, ids: ObjectIdGenerator
) -> list[Company]:
    """Generate companies with ``_id``, ``name``, ``externalId`` and ``domains``."""
    companies = []
    for index in range(count):
        base = COMPANY_NAMES[index % len(COMPANY_NAMES)]
        name = (
            base
            if index < len(COMPANY_NAMES)
            else f"{base} {index // len(COMPANY_NAMES) + 1}"
        )
        domains = [f"company-{index + 1}.example"]
        if rng.random() < 0.5:
            domains.append(f"mail.company-{index + 1}.example")
        companies.append(
            {
                "_id": ids.generate(SEED_START_MS - 86_400_000),
                "name": name,
                "externalId": f"CRM-{index + 1:05d}",
                "domains": domains,
            }
        )
    return companies


class TicketFactory:
    """Builder of single tickets in the read shape from one random generator."""

    def __init__(self, rng: random.Random, companies: list[Company]) -> None:
        """Create a factory that assigns tickets to ``companies``."""
        #: Random generator of every choice the factory makes.
        self.rng = rng
        self._rng = rng
        self._companies = companies
        self._format_date = _DateFormatter()
        self._time_buckets: dict[int, list[str]] = {}
        # Tickets draw descriptions from pools, so equal descriptions share
        # one string object. A 200,000-ticket workspace then needs about 650 MB
        # of process memory (maximum RSS, Python 3.11).
        self._small_snippets = [
            " ".join(rng.choices(SENTENCES, k=1 + int(rng.random() * 5)))
            for _ in range(_SMALL_SNIPPET_POOL)
        ]
        self._large_snippets = [_large_snippet(rng) for _ in range(_LARGE_SNIPPET_POOL)]
        # Tag lists are shared between tickets too; stored tickets are never
        # changed in place.
        self._tag_sets = [rng.sample(TAGS, int(rng.random() * 4)) for _ in range(64)]

    def build(
        self, sequence: int, ticket_id: str, create_ms: int, update_ms: int
    ) -> Ticket:
        """Build ticket number ``sequence``.

        It is created at ``create_ms`` and last updated at ``update_ms``, both in
        milliseconds since the epoch.
        """
        if not self._companies:
            raise ValueError("generating tickets needs at least one company")
        rng = self._rng
        random_value = rng.random
        company = self._companies[int(random_value() * len(self._companies))]
        source = _SOURCES[int(random_value() * len(_SOURCES))]
        statuses = _STATUSES[source]
        status = statuses[int(random_value() * len(statuses))]
        created = self._format_date(create_ms)
        updated = self._format_date(update_ms)

        history = [{"status": statuses[0], "time": created}]
        if status != statuses[0]:
            history.append({"status": status, "time": updated})

        ticket: Ticket = {
            "_id": ticket_id,
            "externalId": _external_id(source, sequence),
            "type": "ticket",
        }
        if source is not None:
            ticket["source"] = source
        roll = random_value()
        if roll < 0.8:
            ticket["subType"] = "ticket"
        elif roll < 0.9:
            ticket["subType"] = "bug" if roll < 0.85 else "feature request"
        first = FIRST_NAMES[int(random_value() * len(FIRST_NAMES))]
        last = LAST_NAMES[int(random_value() * len(LAST_NAMES))]
        ticket["subject"] = (
            f"[{sequence:05d}] {SUBJECTS[int(random_value() * len(SUBJECTS))]}"
        )
        ticket["snippet"] = self._snippet()
        ticket["email"] = (
            f"{first.lower()}.{last.lower()}{sequence % 97}@{company['domains'][0]}"
        )
        ticket["status"] = status
        ticket["history"] = history
        roll = random_value()
        if roll < 0.85:
            ticket["url"] = (
                f"https://support.example.com/{source or 'helpdesk'}/"
                f"{ticket['externalId']}"
            )
        elif roll < 0.95:
            ticket["url"] = None
        ticket["createDate"] = created
        ticket["updateDate"] = updated
        ticket["date"] = created
        ticket["days"] = epoch_days(create_ms)
        ticket["timeBucket"] = self._time_bucket(create_ms)
        ticket["companyId"] = company["_id"]
        ticket["companyName"] = company["name"]
        ticket["endusers"] = [
            {"id": f"{rng.getrandbits(96):024x}", "name": f"{first} {last}"}
        ] if random_value() < 0.7 else []  # fmt: skip
        ticket["inDate"] = created
        ticket["custom"] = self._custom(create_ms, created, updated, status)
        ticket["starred"] = random_value() < 0.05
        ticket["pinned"] = random_value() < 0.02
        ticket["activityTags"] = [] if random_value() < 0.9 else ["churn-risk"]
        ticket["emailTemplateIds"] = []
        ticket["isOpen"] = status in _OPEN_STATUSES
        roll = random_value()
        if roll < 0.8:
            ticket["tags"] = self._tag_sets[int(random_value() * len(self._tag_sets))]
        elif roll < 0.9:
            ticket["tags"] = None
        ticket["waitsToBeFiltered"] = random_value() < 0.5
        ticket["archived"] = random_value() < 0.03
        ticket["users"] = (
            [] if random_value() < 0.6 else [f"{rng.getrandbits(96):024x}"]
        )
        ticket["sender"] = []
        self._write_model_extras(ticket)
        return ticket

    def _time_bucket(self, epoch_ms: int) -> list[str]:
        # Tickets of one day share one list.
        day = epoch_ms // 86_400_000
        bucket = self._time_buckets.get(day)
        if bucket is None:
            bucket = time_bucket(epoch_ms)
            self._time_buckets[day] = bucket
        return bucket

    def _snippet(self) -> str:
        rng = self._rng
        if rng.random() < LARGE_SNIPPET_SHARE:
            return self._large_snippets[int(rng.random() * len(self._large_snippets))]
        return self._small_snippets[int(rng.random() * len(self._small_snippets))]

    def _custom(
        self, create_ms: int, created: str, updated: str, status: str
    ) -> dict[str, Any]:
        random_value = self._rng.random
        days = epoch_days(create_ms)
        custom: dict[str, Any] = {
            "Closed Date": None if status in _OPEN_STATUSES else _offset_date(updated),
            "Created Date": _offset_date(created),
            "Days in Phase": int(random_value() * 60),
            "Logins": int(random_value() * 500),
            "Renewal in days": int(random_value() * 400) - 30,
            "Activity Count": int(random_value() * 40),
            "Week No": (days % 365) / 7,
        }
        roll = random_value()
        if roll < 0.3:
            custom["Escalated"] = roll < 0.1
        if random_value() < 0.3:
            custom["Health score"] = (
                round(random_value() * 10, 2) if random_value() < 0.8 else None
            )
        if random_value() < 0.2:
            custom["Due"] = updated[:10]
        return custom

    def _write_model_extras(self, ticket: Ticket) -> None:
        """Add ``severity``, ``product`` and ``timeSpent`` to some tickets."""
        random_value = self._rng.random
        roll = random_value()
        if roll < 0.4:
            ticket["severity"] = ("low", "normal", "high", "urgent")[
                int(random_value() * 4)
            ]
        elif roll < 0.5:
            ticket["severity"] = None
        if random_value() < 0.4:
            ticket["product"] = PRODUCTS[int(random_value() * len(PRODUCTS))]
        if random_value() < 0.3:
            ticket["timeSpent"] = int(random_value() * 600)


def pick_new_status(rng: random.Random, source: Any, current: Any) -> str:
    """Pick a status of the ticket's source system other than ``current``."""
    statuses = _STATUSES.get(
        source if isinstance(source, str) else None, _STATUSES[None]
    )
    choices = [status for status in statuses if status != current] or list(statuses)
    return choices[int(rng.random() * len(choices))]


def _large_snippet(rng: random.Random) -> str:
    """Return a description of 2 KB to 100 KB of UTF-8.

    Sizes are log-uniform, so most large descriptions are a few KB.
    """
    low = math.log(_LARGE_SNIPPET_MIN_BYTES)
    high = math.log(_LARGE_SNIPPET_MAX_BYTES)
    target_bytes = int(math.exp(rng.uniform(low, high)))
    parts: list[str] = []
    size = 0
    while size < target_bytes:
        sentence = SENTENCES[int(rng.random() * len(SENTENCES))]
        parts.append(sentence)
        size += len(sentence.encode()) + 1
    return " ".join(parts)


def _external_id(source: str | None, sequence: int) -> str:
    if source == "salesforce":
        return f"5003X{sequence:013d}"
    if source == "zendesk":
        return f"ZD-{sequence}"
    if source == "freshdesk":
        return f"FD-{sequence}"
    if source == "intercom":
        return f"ic_{sequence:08x}"
    return f"T-{sequence}"


def _offset_date(date_text: str) -> str:
    """Rewrite ``...000Z`` as Salesforce custom fields show it: ``...000+0000``."""
    return date_text[:-1] + "+0000"


class _DateFormatter:
    """``format_date`` with the date part cached per day.

    It formats about three times faster than ``format_date`` (timeit, Python
    3.11, one day repeated).
    """

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, epoch_ms: int) -> str:
        day, millis_of_day = divmod(epoch_ms, 86_400_000)
        prefix = self._days.get(day)
        if prefix is None:
            moment = datetime.fromtimestamp(day * 86_400, tz=timezone.utc)
            prefix = f"{moment:%Y-%m-%d}T"
            self._days[day] = prefix
        seconds, millis = divmod(millis_of_day, 1000)
        minutes, second = divmod(seconds, 60)
        hour, minute = divmod(minutes, 60)
        return f"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


#: Chance that the next creation event is a bulk import of 2 to 500 tickets
#: with one shared timestamp. About a quarter of seeded tickets come from one.
_IMPORT_PROBABILITY = 0.0066
#: Mean size of a bulk import or bulk update run (see ``_run_size``).
_MEAN_RUN_SIZE = 0.6 * 5.5 + 0.3 * 54.5 + 0.1 * 300
#: Mean time from creation to last update for tickets updated one by one.
_MEAN_UPDATE_DELAY_MS = 20 * 86_400_000
#: One bulk update event (a status change on many tickets at once) per this
#: many seeded tickets.
_TICKETS_PER_BULK_UPDATE = 1_500


def generate_tickets(
    factory: TicketFactory, count: int, ids: ObjectIdGenerator
) -> list[Ticket]:
    """Generate ``count`` tickets in creation order, with ``_id`` from ``ids``."""
    creates, updates = seed_timeline(factory.rng, count)
    with paused_garbage_collection():
        return [
            factory.build(
                index + 1, ids.generate(creates[index]), creates[index], updates[index]
            )
            for index in range(count)
        ]


@contextmanager
def paused_garbage_collection() -> Iterator[None]:
    """Pause the cyclic garbage collector while millions of containers are created.

    It would otherwise rescan the growing heap again and again; generated
    tickets contain no reference cycles, so nothing is left for it to free.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def seed_timeline(rng: random.Random, count: int) -> tuple[list[int], list[int]]:
    """Return creation and update times in ms of ``count`` tickets, creation ascending.

    Bulk imports create runs of tickets with one shared creation and update
    time. Bulk updates later give a random set of older tickets one shared
    update time. The other tickets get distinct times to the millisecond.
    """
    span = SEED_END_MS - SEED_START_MS
    expected_events = max(
        1.0, count / (_IMPORT_PROBABILITY * _MEAN_RUN_SIZE + 1 - _IMPORT_PROBABILITY)
    )
    mean_gap = span / expected_events

    creates: list[int] = []
    imported: list[bool] = []
    moment = float(SEED_START_MS)
    while len(creates) < count:
        created = min(int(moment), SEED_END_MS - 1)
        if rng.random() < _IMPORT_PROBABILITY:
            size = min(_run_size(rng), count - len(creates))
            creates.extend([created] * size)
            imported.extend([True] * size)
        else:
            creates.append(created)
            imported.append(False)
        moment += rng.expovariate(1 / mean_gap) + 1

    updates: list[int] = []
    for created, was_imported in zip(creates, imported, strict=True):
        if was_imported or rng.random() < 0.3:
            updates.append(created)
        else:
            updated = created + int(rng.expovariate(1 / _MEAN_UPDATE_DELAY_MS))
            if updated >= SEED_END_MS:
                # Stay inside the seeded period without piling tickets onto
                # its last millisecond.
                updated = created + int(rng.random() * (SEED_END_MS - created))
            updates.append(updated)

    bulk_updates = sorted(
        SEED_START_MS + int(rng.random() * span)
        for _ in range(count // _TICKETS_PER_BULK_UPDATE + 1)
    )
    for moment_ms in bulk_updates:
        created_before = _count_at_or_before(creates, moment_ms)
        if created_before < 2:
            continue
        size = min(_run_size(rng), created_before)
        for index in rng.sample(range(created_before), size):
            # A later update already recorded wins, as it happened after this one.
            if updates[index] < moment_ms:
                updates[index] = moment_ms
    return creates, updates


def _run_size(rng: random.Random) -> int:
    roll = rng.random()
    if roll < 0.6:
        return rng.randint(2, 9)
    if roll < 0.9:
        return rng.randint(10, 99)
    return rng.randint(100, 500)


def _count_at_or_before(sorted_times: list[int], moment_ms: int) -> int:
    return bisect_right(sorted_times, moment_ms)
