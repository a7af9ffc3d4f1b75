"""The demo's reverse pipeline: a helpdesk CSV -> Meltano -> the sandbox's Planhat API.

``tap-spreadsheets`` reads ``scripts/helpdesk_export.csv``, a ticket export
with the helpdesk's own column names. The stream maps of ``tap-spreadsheets``
in meltano.yml rename its columns to ticket fields, and
``target-planhat-tickets`` loads the records into the sandbox workspace
``import``, which starts with companies but no tickets. The check here reads
the CSV on its own and compares every row with the ticket the sandbox stores,
so a wrong stream map fails the demo.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from demo_support import (
    ADMIN_TIMEOUT_SECONDS,
    DEMO_DIR,
    ROOT,
    DemoError,
    admin,
    relative,
    run_logged,
)

CSV_FILE = ROOT / "scripts" / "helpdesk_export.csv"
WORKSPACE = "import"
# Token of the sandbox workspace. It is valid only on the local sandbox, so it is no secret.
TOKEN = "import-token"
# The tap bookmarks the file's modification time and skips a file that is
# not newer than the bookmark. --full-refresh ignores saved state, so a second
# run of this command loads the file again instead of emitting no records.
MELTANO_COMMAND = ["--environment=demo", "run", "--full-refresh", "tap-spreadsheets", "target-planhat-tickets"]
# Value of `source` that the stream maps give every ticket.
SOURCE = "helpdesk-csv"

# The target logs one summary line at the end of each run, and Meltano writes
# it to its log with the plugin name in front.
SUMMARY_PATTERN = re.compile(r"target-planhat-tickets +(Summary.*)")


@dataclass
class ImportResult:
    """Ticket counts of the import workspace around one `meltano run`, and its outcome."""

    rows: int
    before: dict[str, int]
    after: dict[str, int]
    summary: str
    seconds: float
    log: Path


def run_reverse(bin_dir: Path, environment: dict[str, str], url: str, *, run_number: int) -> ImportResult:
    """Load the CSV into the import workspace, print what changed, and check every row.

    Raises:
        DemoError: if the run fails or a row is missing or differs in the sandbox.
    """
    rows = read_export()
    log_path = DEMO_DIR / f"run-{run_number}.log"
    print(f"\n==> Run {run_number}, the reverse pipeline: meltano {' '.join(MELTANO_COMMAND)}")
    before = tickets_per_status(url)

    started = time.monotonic()
    log_text = run_logged([str(bin_dir / "meltano"), *MELTANO_COMMAND], environment, log_path, f"run {run_number}")
    seconds = time.monotonic() - started

    match = SUMMARY_PATTERN.search(log_text)
    result = ImportResult(
        rows=len(rows),
        before=before,
        after=tickets_per_status(url),
        summary=match.group(1) if match else f"(no summary line in {relative(log_path)})",
        seconds=seconds,
        log=log_path,
    )
    print(
        f"    {result.rows} rows from {relative(CSV_FILE)} into sandbox workspace '{WORKSPACE}', "
        f"{result.seconds:.1f} s (log: {relative(result.log)})"
    )
    print(f"    target-planhat-tickets: {result.summary}")

    print_counts(result, run_number)
    check_rows(url, rows, result)
    return result


def read_export() -> list[dict[str, str]]:
    """Read the helpdesk export, one dict per row keyed by the CSV's own column names."""
    with CSV_FILE.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def tickets_per_status(url: str) -> dict[str, int]:
    """Return the import workspace's ticket count per status, with the total under "total"."""
    stats = admin("GET", url, f"workspaces/{WORKSPACE}/stats")
    counts = {status: count for status, count in stats["by_status"].items() if count}
    counts["total"] = stats["tickets"]
    return counts


def print_counts(result: ImportResult, run_number: int) -> None:
    """Print the import workspace's tickets per status before and after the run."""
    statuses = (set(result.before) | set(result.after)) - {"total"}
    ordered = sorted(statuses, key=lambda status: (-result.after.get(status, 0), status))
    print(f"\nTickets per status in sandbox workspace '{WORKSPACE}', before and after run {run_number}:")
    print(f"  {'status':<12} {'before':>8} {'after':>8}")
    for status in [*ordered, "total"]:
        print(f"  {status:<12} {result.before.get(status, 0):>8,} {result.after.get(status, 0):>8,}")


def check_rows(url: str, rows: list[dict[str, str]], result: ImportResult) -> None:
    """Check that each CSV row became one new ticket whose fields have the row's values.

    Raises:
        DemoError: listing every missing ticket and every field that differs.
    """
    companies = admin("GET", url, f"workspaces/{WORKSPACE}/companies")["companies"]
    company_ids = {company["externalId"]: company["_id"] for company in companies}
    stored = {ticket.get("externalId"): ticket for ticket in read_tickets(url)}

    problems = []
    new_tickets = result.after["total"] - result.before["total"]
    if new_tickets != len(rows):
        problems.append(f"the workspace has {new_tickets} new tickets, expected one for each of the {len(rows)} rows")
    for row in rows:
        expected = expected_ticket(row, company_ids)
        ticket = stored.get(expected["externalId"])
        if ticket is None:
            problems.append(f"{expected['externalId']}: no ticket with this externalId")
            continue
        for field, value in expected.items():
            actual = ticket.get(field)
            # A type check too, because 45.0 == 45 while the API takes timeSpent only as an integer.
            if actual != value or type(actual) is not type(value):
                problems.append(f"{expected['externalId']}: {field} is {actual!r}, expected {value!r}")

    if problems:
        raise DemoError(
            f"the sandbox does not match {relative(CSV_FILE)} after the run (log: {relative(result.log)}):\n  "
            + "\n  ".join(problems)
        )
    print(
        f"\nWorkspace '{WORKSPACE}' matches {relative(CSV_FILE)}: all {len(rows)} rows arrived as tickets "
        "with the mapped subject, snippet, email, company, status, timeSpent and other fields."
    )


def expected_ticket(row: dict[str, str], company_ids: dict[str, str]) -> dict[str, object]:
    """Return the fields, by their read names, that the sandbox should store for one CSV row.

    This repeats the stream maps of meltano.yml on purpose: the check must not
    read the mapping that it checks. ``title``, ``description``, ``sourceId``
    and ``type`` are written under those names and read back as ``subject``,
    ``snippet``, ``externalId`` and ``subType``.
    """
    return {
        "externalId": row["Ticket ID"],
        "subject": row["Subject"],
        "snippet": row["Body"],
        "email": row["Requester Email"],
        # None when the workspace has no such company, which then shows as a difference.
        "companyId": company_ids.get(row["Account ID"]),
        "status": row["State"],
        "severity": row["Priority"],
        "timeSpent": int(row["Minutes Spent"]),
        "product": row["Product"],
        "agentEmail": row["Assignee Email"],
        "url": row["Link"],
        "subType": row["Category"],
        "source": SOURCE,
    }


def read_tickets(url: str) -> list[dict[str, object]]:
    """Read every ticket of the import workspace through the tickets API, as a Planhat client would."""
    response = requests.get(
        f"{url}/tickets",
        params={"limit": 10_000},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=ADMIN_TIMEOUT_SECONDS,
    )
    if not response.ok:
        raise DemoError(f"GET /tickets of workspace '{WORKSPACE}' failed with {response.status_code}: {response.text}")
    tickets = response.json()
    if len(tickets) >= 10_000:
        raise DemoError(
            f"GET /tickets of workspace '{WORKSPACE}' returned a full page of 10,000 tickets; "
            "the check reads only one page, so it would miss the tickets after it"
        )
    return tickets
