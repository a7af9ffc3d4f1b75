"""Run the end-to-end demo: Planhat sandbox -> Meltano -> DuckDB, then a helpdesk CSV -> Planhat.

Steps:

1. Start ``planhat-sandbox serve`` on a free port of 127.0.0.1 with seeded
   tickets in the workspace ``demo`` and an empty workspace ``import``.
2. ``meltano --environment=demo run tap-planhat-tickets target-duckdb`` (full sync).
3. Update and create some tickets through the sandbox's admin routes.
4. The same ``meltano run`` again; the bookmark from step 2 makes it incremental.
5. Print tickets per status from DuckDB and what each run synced, and check
   that DuckDB contains as many tickets per status as the sandbox.
6. ``meltano --environment=demo run --full-refresh tap-spreadsheets
   target-planhat-tickets`` loads ``scripts/helpdesk_export.csv`` into the
   workspace ``import`` (see ``demo_reverse.py``). Print the workspace's
   tickets before and after, and check every row against the sandbox.

The sandbox is stopped on every exit path. Everything the demo writes goes to
``.demo/``, which is emptied at the start, so every demo starts from scratch.
The Meltano plugins must be installed first (``make demo`` does that).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import demo_reverse
import duckdb
from demo_support import DEMO_DIR, ROOT, DemoError, admin, relative, run_logged

DUCKDB_FILE = DEMO_DIR / "planhat_tickets.duckdb"
TABLE = "planhat.tickets"
WORKSPACE = "demo"
# Token of the sandbox workspace. It is valid only on the local sandbox, so it is no secret.
TOKEN = "demo-token"
MELTANO_COMMAND = ["--environment=demo", "run", "tap-planhat-tickets", "target-duckdb"]

SANDBOX_START_TIMEOUT_SECONDS = 120

# The Singer SDK logs `METRIC: {...}` lines to stderr, and Meltano writes them
# to its log with the plugin name in front.
METRIC_PATTERN = re.compile(r"METRIC: (\{.*)")
# The SDK logs the bookmark that a stream starts from, and "None" for a full sync.
BOOKMARK_PATTERN = re.compile(r"Starting incremental sync of 'tickets' with bookmark value: (\S+)")


@dataclass
class RunResult:
    """Counts and duration of one `meltano run`."""

    #: The updateDate that the run started from, or None for a full sync.
    bookmark: str | None
    records_from_tap: int
    rows_written: int
    get_requests: int
    seconds: float
    log: Path

    @property
    def mode(self) -> str:
        """Return "full" or "incremental"."""
        return "full" if self.bookmark is None else "incremental"


def main() -> int:
    """Run the demo and return the exit status."""
    arguments = parse_arguments()
    bin_dir = Path(sys.executable).parent
    prepare_demo_dir()

    # SIGTERM (from `timeout` or a CI runner) should stop the sandbox too.
    signal.signal(signal.SIGTERM, raise_system_exit)

    sandbox = start_sandbox(bin_dir, arguments.tickets, arguments.seed)
    try:
        sandbox.wait_until_listening()
        run_demo(bin_dir, sandbox.url, arguments)
    except DemoError as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo interrupted", file=sys.stderr)
        return 130
    finally:
        sandbox.stop()
    return 0


def parse_arguments() -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=5000, help="tickets seeded in the sandbox (default: 5000)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated tickets (default: 42)")
    parser.add_argument("--update", type=int, default=25, help="tickets updated before run 2 (default: 25)")
    parser.add_argument("--create", type=int, default=5, help="tickets created before run 2 (default: 5)")
    return parser.parse_args()


def raise_system_exit(signal_number: int, frame: FrameType | None) -> None:
    """Turn SIGTERM into SystemExit, so that `finally` blocks run."""
    raise SystemExit(128 + signal_number)


def prepare_demo_dir() -> None:
    """Create an empty ``.demo/``, removing the files of an earlier demo."""
    DEMO_DIR.mkdir(exist_ok=True)
    for path in DEMO_DIR.iterdir():
        if path.is_file():
            path.unlink()


class SandboxProcess:
    """A ``planhat-sandbox serve`` child process."""

    def __init__(self, process: subprocess.Popen[bytes], ready_file: Path, log_path: Path) -> None:
        """Wrap a started process that writes its URL to ``ready_file`` once it listens."""
        self.process = process
        self.ready_file = ready_file
        self.log_path = log_path
        self.url = ""

    def wait_until_listening(self) -> None:
        """Wait until the sandbox listens and set ``url``.

        Raises:
            DemoError: if the sandbox exits or does not listen in time.
        """
        deadline = time.monotonic() + SANDBOX_START_TIMEOUT_SECONDS
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise DemoError(f"the sandbox exited with status {self.process.returncode}; see {relative(self.log_path)}")
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the sandbox timed out: not listening after {SANDBOX_START_TIMEOUT_SECONDS} s; see {relative(self.log_path)}"
                )
            time.sleep(0.1)
        self.url = self.ready_file.read_text(encoding="utf-8").strip()
        print(
            f"    API at {self.url}, workspaces '{WORKSPACE}' and '{demo_reverse.WORKSPACE}' "
            f"(log: {relative(self.log_path)})"
        )

    def stop(self) -> None:
        """Stop the sandbox with SIGTERM, or SIGKILL if it does not exit within 10 s."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        print("==> Sandbox stopped")


def start_sandbox(bin_dir: Path, tickets: int, seed: int) -> SandboxProcess:
    """Start the sandbox on a free port of 127.0.0.1; it is not listening yet on return."""
    ready_file = DEMO_DIR / "sandbox.url"
    log_path = DEMO_DIR / "sandbox.log"
    command = [
        str(bin_dir / "planhat-sandbox"),
        "serve",
        "--port", "0",
        "--workspace", f"{WORKSPACE}:{TOKEN}:{tickets}",
        # No tickets, but the companies CRM-00001 to CRM-00005 that the CSV's Account ID column names.
        "--workspace", f"{demo_reverse.WORKSPACE}:{demo_reverse.TOKEN}:0",
        "--seed", str(seed),
        "--ready-file", str(ready_file),
        "--log-level", "WARNING",
    ]  # fmt: skip
    print(f"==> Starting the Planhat sandbox with {tickets:,} seeded tickets and an empty workspace to import into")
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return SandboxProcess(process, ready_file, log_path)


def run_demo(bin_dir: Path, url: str, arguments: argparse.Namespace) -> None:
    """Run both syncs, change tickets in between, print the report, then load the CSV."""
    environment = meltano_environment(url)

    first = run_meltano(bin_dir, environment, url, run_number=1)
    print(f"    {describe(first)}")

    changed = change_tickets(url, arguments.update, arguments.create)
    print(f"==> Changed tickets in the sandbox: {changed['updated']} updated, {changed['created']} created")

    second = run_meltano(bin_dir, environment, url, run_number=2)
    print(f"    {describe(second)}")

    print_report([first, second])
    check_against_sandbox(url)

    demo_reverse.run_reverse(bin_dir, environment, url, run_number=3)


def meltano_environment(url: str) -> dict[str, str]:
    """Return the environment of the `meltano run` processes.

    The demo keeps its own Meltano system database (and with it the state
    bookmarks) under ``.demo/``, so it never touches the state of the dev
    or prod environments. Settings of the plugins that the caller's shell
    may hold are removed, so that only meltano.yml and these values count.
    """
    plugin_prefixes = ("TAP_PLANHAT_TICKETS_", "TARGET_DUCKDB_", "TAP_SPREADSHEETS_", "TARGET_PLANHAT_TICKETS_")
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith((*plugin_prefixes, "MELTANO_STATE_BACKEND_"))
        and name not in ("MELTANO_ENVIRONMENT", "MELTANO_DATABASE_URI")
    }
    environment.update({
        "MELTANO_DATABASE_URI": f"sqlite:///{DEMO_DIR / 'meltano.db'}",
        "TAP_PLANHAT_TICKETS_API_URL": url,
        "TAP_PLANHAT_TICKETS_API_TOKEN": TOKEN,
        "TARGET_PLANHAT_TICKETS_API_URL": url,
        "TARGET_PLANHAT_TICKETS_API_TOKEN": demo_reverse.TOKEN,
    })  # fmt: skip
    return environment


def run_meltano(bin_dir: Path, environment: dict[str, str], url: str, *, run_number: int) -> RunResult:
    """Run one `meltano run` and return what it synced."""
    log_path = DEMO_DIR / f"run-{run_number}.log"
    print(f"==> Run {run_number}: meltano {' '.join(MELTANO_COMMAND)}")
    last_request = latest_request_sequence(url)
    rows_before = latest_batch_time()

    started = time.monotonic()
    log_text = run_logged([str(bin_dir / "meltano"), *MELTANO_COMMAND], environment, log_path, f"run {run_number}")
    seconds = time.monotonic() - started

    return RunResult(
        bookmark=read_bookmark(log_text),
        records_from_tap=count_records(log_text),
        rows_written=count_rows_written_after(rows_before),
        get_requests=len(tickets_requests_after(url, last_request)),
        seconds=seconds,
        log=log_path,
    )


def read_bookmark(log_text: str) -> str | None:
    """Return the bookmark that the tickets stream started from, or None for a full sync."""
    match = BOOKMARK_PATTERN.search(log_text)
    if match is None or match.group(1) == "None":
        return None
    return match.group(1)


def count_records(log_text: str) -> int:
    """Sum the SDK's `record_count` metrics of the tickets stream in a run's log."""
    total = 0
    for match in METRIC_PATTERN.finditer(log_text):
        try:
            metric, _ = json.JSONDecoder().raw_decode(match.group(1))
        except json.JSONDecodeError:
            continue
        if metric.get("metric") == "record_count" and metric.get("tags", {}).get("stream") == "tickets":
            total += int(metric["value"])
    return total


def latest_batch_time() -> object | None:
    """Return the newest ``_sdc_batched_at`` in DuckDB, or None before the first load."""
    if not DUCKDB_FILE.exists():
        return None
    with duckdb.connect(str(DUCKDB_FILE), read_only=True) as connection:
        return connection.execute(f"select max(_sdc_batched_at) from {TABLE}").fetchone()[0]


def count_rows_written_after(batch_time: object | None) -> int:
    """Count rows whose ``_sdc_batched_at`` is newer than ``batch_time``.

    target-duckdb stamps every row it inserts or updates with the load time,
    so these are the rows that the last run wrote.
    """
    with duckdb.connect(str(DUCKDB_FILE), read_only=True) as connection:
        if batch_time is None:
            return connection.execute(f"select count(*) from {TABLE}").fetchone()[0]
        query = f"select count(*) from {TABLE} where _sdc_batched_at > ?"
        return connection.execute(query, [batch_time]).fetchone()[0]


def latest_request_sequence(url: str) -> int:
    """Return the sequence number of the newest logged API request, 0 when there is none."""
    entries = admin("GET", url, f"requests?workspace={WORKSPACE}")["requests"]
    return max((entry["sequence"] for entry in entries), default=0)


def tickets_requests_after(url: str, sequence: int) -> list[dict[str, object]]:
    """Return the GET /tickets requests logged after ``sequence``."""
    path = f"requests?workspace={WORKSPACE}&method=GET&path=/tickets&after={sequence}"
    return admin("GET", url, path)["requests"]


def change_tickets(url: str, update: int, create: int) -> dict[str, int]:
    """Update the status of ``update`` random tickets and create ``create`` new ones."""
    updated = admin("POST", url, f"workspaces/{WORKSPACE}/update-random", {"count": update})["ids"]
    created = admin("POST", url, f"workspaces/{WORKSPACE}/create-random", {"count": create})["ids"]
    return {"updated": len(updated), "created": len(created)}


def describe(run: RunResult) -> str:
    """Return a one-line summary of a run."""
    requests_word = "request" if run.get_requests == 1 else "requests"
    start = "full sync" if run.bookmark is None else f"incremental sync from updateDate {run.bookmark}"
    return (
        f"{start}: {run.records_from_tap:,} tickets from the tap, {run.rows_written:,} rows "
        f"written, {run.get_requests} GET /tickets {requests_word}, {run.seconds:.1f} s (log: {relative(run.log)})"
    )


def print_report(runs: list[RunResult]) -> None:
    """Print tickets per status in DuckDB and what each run synced."""
    with duckdb.connect(str(DUCKDB_FILE), read_only=True) as connection:
        by_status = connection.execute(
            f"select coalesce(status, '(none)'), count(*) from {TABLE} group by 1 order by 2 desc, 1"
        ).fetchall()
    total = sum(count for _, count in by_status)

    print(f"\nTickets per status in {relative(DUCKDB_FILE)}, table {TABLE}:")
    print(f"  {'status':<12} {'tickets':>8}")
    for status, count in by_status:
        print(f"  {status:<12} {count:>8,}")
    print(f"  {'total':<12} {total:>8,}")

    print("\nTickets synced per run:")
    print(f"  {'run':<4} {'mode':<12} {'from tap':>9} {'rows written':>13} {'GET requests':>13} {'seconds':>8}")
    for number, run in enumerate(runs, start=1):
        print(
            f"  {number:<4} {run.mode:<12} {run.records_from_tap:>9,} {run.rows_written:>13,} "
            f"{run.get_requests:>13} {run.seconds:>8.1f}"
        )


def check_against_sandbox(url: str) -> None:
    """Check that DuckDB contains as many tickets, and per status, as the sandbox.

    Raises:
        DemoError: on any difference.
    """
    stats = admin("GET", url, f"workspaces/{WORKSPACE}/stats")
    expected = {status: count for status, count in stats["by_status"].items() if count}
    with duckdb.connect(str(DUCKDB_FILE), read_only=True) as connection:
        rows = connection.execute(f"select status, count(*) from {TABLE} where status is not null group by 1").fetchall()
        total = connection.execute(f"select count(*) from {TABLE}").fetchone()[0]
    actual = dict(rows)

    if total != stats["tickets"] or actual != expected:
        raise DemoError(
            f"DuckDB does not match the sandbox: {total} tickets in DuckDB, {stats['tickets']} in the "
            f"sandbox. Per status, DuckDB: {actual}, sandbox: {expected}"
        )
    print(f"\nDuckDB matches the sandbox: {total:,} tickets, the same count for each status.")
    print(
        "Query it: .venv/bin/python -c \"import duckdb; "
        f"print(duckdb.connect('{relative(DUCKDB_FILE)}', read_only=True)"
        f".sql('select status, count(*) from {TABLE} group by all'))\""
    )


if __name__ == "__main__":
    sys.exit(main())
