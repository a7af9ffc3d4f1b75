"""Measure a tap sync and a target load when every request takes a second.

    python -m benchmarks.latency [--tickets 200000] [--page-size 10000]
                                 [--delay 1.0] [--in-flight 6 1] [--runs 1]

Planhat takes about a second to return a page of 10,000 tickets, while
the sandbox on 127.0.0.1 takes milliseconds. This benchmark adds the
sandbox's `delay` fault to every GET /tickets, so the time that the tap
waits for pages shows, and runs the real tap CLI once per value of
`max_requests_in_flight`. It prints, per run, the wall and CPU seconds,
the peak resident memory, and the GET requests that the sandbox served.
Then the target loads the tap's output with the same delay on every PUT
/tickets, which shows whether it prepares the next batch while a PUT is in
flight: its wall time is then about the PUTs' delays, not their sum with
its CPU time.

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

from benchmarks.bench import SEED, TAP, TARGET, TOKEN, WORKSPACE, Bench
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
        "--delay",
        type=float,
        default=1.0,
        help="seconds added to each GET and PUT /tickets",
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

    delays = FaultHook(
        Fault(
            kind="delay",
            method=method,
            path="/tickets",
            times=None,
            seconds=arguments.delay,
        )
        for method in ("GET", "PUT")
    )
    replies = DelayedReplies(delays)
    with Sandbox(hook=replies) as sandbox, tempfile.TemporaryDirectory() as folder:
        print(f"Seeding {arguments.tickets:,} tickets (seed {SEED})...", flush=True)
        sandbox.add_workspace(
            WORKSPACE, token=TOKEN, tickets=arguments.tickets, seed=SEED
        )
        bench = Bench(Path(folder), sandbox, replies)
        results = _run(bench, replies, arguments)
        target = _run_target(bench, replies, arguments)
        delays.close()

    _print_summary(results, arguments)
    _print_target_summary(target, arguments)


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


def _run_target(
    bench: Bench, replies: DelayedReplies, arguments: argparse.Namespace
) -> Measurement:
    """Load the tap's output with the same delay added to every PUT /tickets."""
    singer_input = bench.folder / "tickets.singer"
    replies.delaying = False
    bench.run(
        "tap output for the target",
        [str(TAP), "--config", str(bench.config("tap-output"))],
        workspace=WORKSPACE,
        method="GET",
        stdout=singer_input,
    )
    command = [str(TARGET), "--config", str(bench.config("target"))]
    bench.run(
        "target, warm-up",
        command,
        workspace=WORKSPACE,
        method="PUT",
        stdin=singer_input,
    )
    replies.delaying = True
    return bench.run(
        f"target, {arguments.delay:g} s a PUT",
        command,
        workspace=WORKSPACE,
        method="PUT",
        stdin=singer_input,
    )


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


def _print_target_summary(measured: Measurement, arguments: argparse.Namespace) -> None:
    # Without the sender thread, each batch's CPU time and its PUT's delay
    # would add up.
    one_after_another = measured.cpu_seconds + measured.requests * arguments.delay
    print(
        f"\nTarget load of {measured.tickets:,} tickets, {arguments.delay:g} s added "
        f"to every PUT /tickets: {measured.requests} PUTs, "
        f"{measured.wall_seconds:.2f} s wall, {measured.cpu_seconds:.2f} s CPU. "
        f"Preparing each batch only after the previous PUT would take at least "
        f"{one_after_another:.2f} s (CPU plus the PUTs' delays)."
    )


if __name__ == "__main__":
    main()
