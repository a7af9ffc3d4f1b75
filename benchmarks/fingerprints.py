"""Load the same tickets twice with a fingerprint store, and once without one.

    python -m benchmarks.fingerprints [--tickets 200000] [--keep DIR]

The sandbox runs in this process on 127.0.0.1 with a workspace of seeded
tickets. The tap reads them once into a Singer file (not timed). The target
then loads that file three times into the same workspace, each run under
`benchmarks.measure`:

1. without a fingerprint store, as a reference;
2. with a new, empty store, which sends every ticket and remembers each;
3. with the store of run 2, which finds every ticket unchanged since last
   sent and sends no PUT.

Each line prints the PUT requests that the sandbox served, the items they
carried, and the CPU seconds (user plus system) and wall seconds of the
target process. The rate limiter is raised out of the way, as in
`benchmarks.run`.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.bench import SEED, TAP, TARGET, TOKEN, WORKSPACE, Bench
from benchmarks.replies import PreparedReplies
from benchmarks.report import Measurement
from planhat_sandbox import Sandbox


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tickets", type=int, default=200_000, help="tickets to seed and load"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep the input, store and logs in DIR"
    )
    arguments = parser.parse_args()

    started = time.monotonic()
    # Replayed responses would shorten the waits of a load that sends the
    # same batches as an earlier one, so the sandbox handles every PUT.
    replies = PreparedReplies()
    replies.enabled = False
    with Sandbox(hook=replies) as sandbox, tempfile.TemporaryDirectory() as temporary:
        folder = arguments.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        bench = Bench(folder, sandbox, replies)
        print(f"Seeding {arguments.tickets:,} tickets (seed {SEED})...", flush=True)
        sandbox.add_workspace(
            WORKSPACE, token=TOKEN, tickets=arguments.tickets, seed=SEED
        )
        singer_input = _read_tickets(bench)
        runs = _load_three_times(bench, singer_input)

    print("\nSummary")
    for label, run in runs:
        print(
            f"  {label:<34} {run.requests:>3} PUT requests, {run.tickets:>9,} items, "
            f"{run.cpu_seconds:6.2f} s CPU, {run.wall_seconds:6.2f} s wall"
        )
    print(f"\nTook {time.monotonic() - started:.0f} s")


def _read_tickets(bench: Bench) -> Path:
    output = bench.folder / "tickets.singer"
    config = bench.config("tap")
    print("Reading the workspace with the tap (not timed)...", flush=True)
    with output.open("wb") as stdout:
        subprocess.run(
            [str(TAP), "--config", str(config)],
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            check=True,
        )
    return output


def _load_three_times(
    bench: Bench, singer_input: Path
) -> list[tuple[str, Measurement]]:
    store = bench.folder / "fingerprints.sqlite"
    store.unlink(missing_ok=True)
    without = bench.config("target-without-store")
    with_store = bench.config("target-with-store", fingerprint_store_path=str(store))
    runs = []
    print("\nTarget loads of the tap's output")
    for label, config in (
        ("without a store", without),
        ("with a new store (first load)", with_store),
        ("with that store (second load)", with_store),
    ):
        run = bench.run(
            label,
            [str(TARGET), "--config", str(config)],
            workspace=WORKSPACE,
            method="PUT",
            stdin=singer_input,
        )
        runs.append((label, run))
    return runs


if __name__ == "__main__":
    main()
