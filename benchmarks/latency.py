"""Measure a full tap sync when every page request takes a second.

    python -m benchmarks.latency [--tickets 200000] [--page-size 10000]
                                 [--delay 1.0] [--in-flight 6 1] [--runs 1]

Planhat takes about a second to return a page of 10,000 tickets, while
the sandbox on 127.0.0.1 takes milliseconds. This benchmark adds the
sandbox's `delay` fault to every GET /tickets, so the time that the tap
waits for pages shows, and runs the real tap CLI once per value of
`max_requests_in_flight`. It prints, per run, the wall and CPU seconds,
the peak resident memory, and the GET requests that the sandbox served.

The sandbox serves every timed request from `PreparedReplies`, which an
untimed run without the delay fills first, so the server's own work stays
small. The sandbox's server handles each connection in its own thread and
the delay waits in that thread, so delayed requests do not hold up each
other. The tap runs with its default `max_requests_per_minute` (200).
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from benchmarks.bench import SEED, TAP, TOKEN, WORKSPACE, Bench
from benchmarks.replies import PreparedReplies
from benchmarks.report import Measurement
from planhat_sandbox import Exchange, Fault, FaultHook, Reply, Sandbox
from tap_planhat_tickets.pages import DEFAULT_REQUESTS_IN_FLIGHT

#: The tap's default, so that the runs show the rate limit's cost too.
MAX_REQUESTS_PER_MINUTE = 200
#: Seconds beyond the delay to wait for requests still in the server.
LATE_REQUEST_MARGIN_SECONDS = 1.0


class DelayedReplies(PreparedReplies):
    """Prepared replies, each sent after the delay faults of `delays` when on."""

    def __init__(self, delays: FaultHook) -> None:
        super().__init__()
        self.delays = delays
        #: False skips the delay, as for the untimed run that fills the store.
        self.delaying = False

    def before_handling(self, exchange: Exchange) -> Reply | None:
        if self.delaying:
            self.delays.before_handling(exchange)
        return super().before_handling(exchange)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200_000)
    parser.add_argument("--page-size", type=int, default=10_000)
    parser.add_argument(
        "--delay", type=float, default=1.0, help="seconds added to each GET /tickets"
    )
    parser.add_argument(
        "--in-flight",
        type=int,
        nargs="+",
        default=[DEFAULT_REQUESTS_IN_FLIGHT, 1],
        help="values of max_requests_in_flight to run, in order (default: 6 1)",
    )
    parser.add_argument("--runs", type=int, default=1, help="timed runs of each value")
    arguments = parser.parse_args()

    delay = Fault(
        kind="delay", method="GET", path="/tickets", times=None, seconds=arguments.delay
    )
    delays = FaultHook([delay])
    replies = DelayedReplies(delays)
    with Sandbox(hook=replies) as sandbox, tempfile.TemporaryDirectory() as folder:
        print(f"Seeding {arguments.tickets:,} tickets (seed {SEED})...", flush=True)
        sandbox.add_workspace(
            WORKSPACE, token=TOKEN, tickets=arguments.tickets, seed=SEED
        )
        bench = Bench(Path(folder), sandbox, replies)
        results = _run(bench, replies, arguments)
        delays.close()

    _print_summary(results, arguments)


def _run(
    bench: Bench, replies: DelayedReplies, arguments: argparse.Namespace
) -> list[tuple[int, Measurement]]:
    results = []
    for in_flight in arguments.in_flight:
        config = bench.config(
            f"tap-{in_flight}",
            page_size=arguments.page_size,
            max_requests_in_flight=in_flight,
            max_requests_per_minute=MAX_REQUESTS_PER_MINUTE,
        )
        command = [str(TAP), "--config", str(config)]
        replies.delaying = False
        bench.run(
            f"{in_flight} in flight, warm-up",
            command,
            workspace=WORKSPACE,
            method="GET",
        )
        replies.delaying = True
        for _ in range(arguments.runs):
            label = f"{in_flight} in flight, {arguments.delay:g} s a request"
            measured = bench.run(label, command, workspace=WORKSPACE, method="GET")
            results.append((in_flight, _with_late_requests(bench, measured, arguments)))
    return results


def _with_late_requests(
    bench: Bench, measured: Measurement, arguments: argparse.Namespace
) -> Measurement:
    """Count the requests too that were still delayed when the tap exited.

    The request log has a request once its response is ready, so the pages
    requested past the last one can reach it after the tap has exited.
    """
    time.sleep(arguments.delay + LATE_REQUEST_MARGIN_SECONDS)
    served = bench.sandbox.requests(WORKSPACE, method="GET")
    return dataclasses.replace(measured, requests=len(served))


def _print_summary(
    results: list[tuple[int, Measurement]], arguments: argparse.Namespace
) -> None:
    print(
        f"\nFull sync of {arguments.tickets:,} tickets, page_size "
        f"{arguments.page_size:,}, {arguments.delay:g} s added to every GET /tickets"
    )
    print("| in flight | wall s | CPU s | peak RSS MiB | GET requests | tickets |")
    print("|---:|---:|---:|---:|---:|---:|")
    for in_flight, measured in results:
        print(
            f"| {in_flight} | {measured.wall_seconds:.2f} "
            f"| {measured.cpu_seconds:.2f} | {measured.peak_rss_mib:.0f} "
            f"| {measured.requests} | {measured.tickets:,} |"
        )


if __name__ == "__main__":
    main()
