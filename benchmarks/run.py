"""Run every benchmark of the connectors against the sandbox and print the figures.

    python -m benchmarks [--tickets 200000] [--runs 2] [--full] [--profile DIR]

The sandbox runs in this process on 127.0.0.1 with `PreparedReplies`, so
every timed request is served from stored bytes. Each connector and each
baseline runs as its own process under `benchmarks.measure`, which reports
its wall time, CPU time and peak resident memory. The rate limiter is raised
out of the way (max_requests_per_minute 1,000,000), because the figures are
about the connectors' own cost.

Benchmarks, each run `--runs` times after one untimed warm-up run that fills
the prepared responses:

- tap full sync of all tickets, and the baseline that fetches the same pages
  and writes the same RECORD lines;
- tap incremental sync after 1% of the tickets changed, and its baseline;
- target load of the full sync's output, and the baseline that sends the
  same batches;
- peak memory at a tenth of the tickets, to compare with the full size.

`--full` adds the memory goal's runs: a tap sync and a target load of
100,000 and of 1,000,000 tickets. They take several more minutes and about
6 GB of memory, so `make bench` leaves them out.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench import (
    SEED,
    TAP,
    TARGET,
    TOKEN,
    VENV_BIN,
    WORKSPACE,
    Bench,
)
from benchmarks.replies import PreparedReplies
from benchmarks.report import (
    MEMORY_GOAL_SIZES,
    Measurement,
    Results,
    Row,
    load_average,
    median,
    memory_line,
    print_machine,
    print_memory,
    print_summary,
)
from planhat_sandbox import Sandbox, Workspace

_CUTOFF_PATTERN = re.compile(rb"updated since (\S+)\)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tickets", type=int, default=200_000, help="tickets of the main runs"
    )
    parser.add_argument(
        "--runs", type=int, default=2, help="timed runs of each benchmark"
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help="also run the memory goal: 100,000 and 1,000,000 tickets (minutes more)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="also profile one tap sync and one target load with pyinstrument into DIR",
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="keep outputs and logs in DIR"
    )
    arguments = parser.parse_args()

    started = time.monotonic()
    print_machine()
    replies = PreparedReplies()
    with Sandbox(hook=replies) as sandbox, tempfile.TemporaryDirectory() as temporary:
        folder = arguments.keep or Path(temporary)
        folder.mkdir(parents=True, exist_ok=True)
        bench = Bench(folder, sandbox, replies)
        results = _run_all(bench, arguments)
        if arguments.full:
            results.memory += _run_memory_goal(bench)
        if arguments.profile:
            _profile(bench, arguments.profile)

    print_summary(results)
    print_memory(results.memory)
    print(
        f"\nLoad average after: {load_average()}; "
        f"took {time.monotonic() - started:.0f} s"
    )


def _run_all(bench: Bench, arguments: argparse.Namespace) -> Results:
    tickets = arguments.tickets
    runs = arguments.runs
    print(f"\nSeeding {tickets:,} tickets (seed {SEED})...", flush=True)
    workspace = bench.sandbox.add_workspace(
        WORKSPACE, token=TOKEN, tickets=tickets, seed=SEED
    )

    fixed_cost = _fixed_cost(bench)
    full_output = bench.folder / "tap-full.singer"
    tap_full = _tap_full(bench, runs, full_output)
    incremental = _tap_incremental(bench, workspace, runs, full_output)
    target = _target_load(bench, runs, full_output)
    memory = _memory_at_tenth(bench, tap_full, target, full_output)
    return Results([tap_full, incremental, target], fixed_cost, memory)


def _fixed_cost(bench: Bench) -> tuple[Measurement, Measurement]:
    """Measure a sync of an empty workspace and a load of its output: no tickets."""
    print("\nFixed cost: tap sync of an empty workspace, target load of its output")
    bench.sandbox.add_workspace("empty", token="empty-token", tickets=0, seed=SEED)
    output = bench.folder / "empty.singer"
    config = bench.config("tap-empty", api_token="empty-token")
    tap = bench.run(
        "tap, 0 tickets",
        [str(TAP), "--config", str(config)],
        workspace="empty",
        method="GET",
        stdout=output,
    )
    target_config = bench.config("target-empty", api_token="empty-token")
    target = bench.run(
        "target, 0 records",
        [str(TARGET), "--config", str(target_config)],
        workspace="empty",
        method="PUT",
        stdin=output,
    )
    return tap, target


def _tap_full(bench: Bench, runs: int, output: Path) -> Row:
    print("\nTap full sync")
    config = bench.config("tap")
    command = [str(TAP), "--config", str(config)]
    bench.replies.enabled = True
    bench.run("tap, warm-up", command, workspace=WORKSPACE, method="GET", stdout=output)
    pages = [entry.query for entry in bench.sandbox.requests(WORKSPACE, method="GET")]
    page_bytes = bench.replies.stored_bytes()
    records = output.read_bytes().count(b'{"type":"RECORD"')
    print(
        f"  {records:,} tickets: mean {page_bytes / max(records, 1):,.0f} bytes of "
        f"JSON per ticket in the pages, "
        f"{output.stat().st_size / max(records, 1):,.0f} bytes "
        "per RECORD line"
    )

    requests_file = bench.write_json("tap-full-requests.json", pages)
    baseline = _baseline_tap_command(bench, requests_file)
    measured, base = [], []
    for _ in range(runs):
        measured.append(bench.run("tap", command, workspace=WORKSPACE, method="GET"))
        base.append(bench.run("baseline", baseline, workspace=WORKSPACE, method="GET"))
    return Row("tap full sync", measured, base)


def _tap_incremental(
    bench: Bench, workspace: Workspace, runs: int, full_output: Path
) -> Row:
    changed = max(1, len(workspace) // 100)
    print(f"\nTap incremental sync after {changed:,} tickets (1%) changed")
    state = bench.write_json("state.json", _last_state(full_output))
    workspace.update_random(changed)
    bench.replies.clear()

    config = bench.config("tap")
    command = [str(TAP), "--config", str(config), "--state", str(state)]
    bench.run("tap, warm-up", command, workspace=WORKSPACE, method="GET")
    cutoff = _CUTOFF_PATTERN.search(bench.log_of_last_run())
    if cutoff is None:
        raise SystemExit("the incremental sync did not log its cutoff; see its log")
    pages = [entry.query for entry in bench.sandbox.requests(WORKSPACE, method="GET")]
    requests_file = bench.write_json("tap-incremental-requests.json", pages)
    baseline = [
        *_baseline_tap_command(bench, requests_file),
        "--cutoff",
        cutoff.group(1).decode(),
    ]

    measured, base = [], []
    for _ in range(runs):
        measured.append(bench.run("tap", command, workspace=WORKSPACE, method="GET"))
        base.append(bench.run("baseline", baseline, workspace=WORKSPACE, method="GET"))
    return Row("tap incremental, 1% changed", measured, base)


def _target_load(bench: Bench, runs: int, singer_input: Path) -> Row:
    print("\nTarget load of the full sync's output")
    config = bench.config("target")
    command = [str(TARGET), "--config", str(config)]
    baseline = [
        sys.executable,
        "-m",
        "benchmarks.baseline_target",
        bench.sandbox.url,
        TOKEN,
    ]
    bench.run(
        "target, warm-up",
        command,
        workspace=WORKSPACE,
        method="PUT",
        stdin=singer_input,
    )

    measured, base = [], []
    for _ in range(runs):
        measured.append(
            bench.run(
                "target", command, workspace=WORKSPACE, method="PUT", stdin=singer_input
            )
        )
        base.append(
            bench.run(
                "baseline",
                baseline,
                workspace=WORKSPACE,
                method="PUT",
                stdin=singer_input,
            )
        )
    return Row("target load", measured, base)


def _memory_at_tenth(
    bench: Bench, tap_full: Row, target_load: Row, full_output: Path
) -> list[str]:
    """Compare the peak memory of the full-size runs with a tenth of the tickets."""
    full = len(bench.sandbox.workspace(WORKSPACE))
    tenth = max(1, full // 10)
    print(f"\nPeak memory at {tenth:,} tickets")
    bench.sandbox.add_workspace("tenth", token="tenth-token", tickets=tenth, seed=SEED)
    config = bench.config("tap-tenth", api_token="tenth-token")
    tap = bench.run(
        "tap", [str(TAP), "--config", str(config)], workspace="tenth", method="GET"
    )

    # The first records of the full sync, loaded into the workspace they came from.
    partial = bench.folder / "target-tenth.singer"
    _head_records(full_output, partial, tenth)
    target = bench.run(
        "target",
        [str(TARGET), "--config", str(bench.config("target"))],
        workspace=WORKSPACE,
        method="PUT",
        stdin=partial,
    )

    tap_peak = median(tap_full.runs, "peak_rss_mib")
    target_peak = median(target_load.runs, "peak_rss_mib")
    return [
        memory_line("tap", tenth, tap.peak_rss_mib, full, tap_peak),
        memory_line("target", tenth, target.peak_rss_mib, full, target_peak),
    ]


def _run_memory_goal(bench: Bench) -> list[str]:
    """Run the memory goal: tap and target at 100,000 and 1,000,000 tickets."""
    small, large = MEMORY_GOAL_SIZES
    bench.replies.enabled = False
    peaks: dict[tuple[str, int], float] = {}
    for size in (small, large):
        print(f"\nMemory goal: {size:,} tickets (seeding...)", flush=True)
        name = f"memory-{size}"
        token = f"{name}-token"
        bench.sandbox.add_workspace(name, token=token, tickets=size, seed=SEED)
        output = bench.folder / f"{name}.singer"
        tap = bench.run(
            "tap",
            [str(TAP), "--config", str(bench.config(name, api_token=token))],
            workspace=name,
            method="GET",
            stdout=output,
        )
        target_config = bench.config(f"{name}-target", api_token=token)
        target = bench.run(
            "target",
            [str(TARGET), "--config", str(target_config)],
            workspace=name,
            method="PUT",
            stdin=output,
        )
        peaks["tap", size] = tap.peak_rss_mib
        peaks["target", size] = target.peak_rss_mib
        output.unlink()
        bench.sandbox.remove_workspace(name)
    return [
        memory_line(kind, small, peaks[kind, small], large, peaks[kind, large])
        for kind in ("tap", "target")
    ]


def _profile(bench: Bench, folder: Path) -> None:
    """Profile one tap full sync and one target load with pyinstrument.

    Each profile is kept as a pyinstrument session and rendered twice: as a
    call tree (`*-tree.txt`) and as a flat list of functions by their own
    time (`*-flat.txt`). The wall time includes the waits for the sandbox.
    """
    folder.mkdir(parents=True, exist_ok=True)
    profiler = str(VENV_BIN / "pyinstrument")
    print(f"\nProfiles with pyinstrument into {folder}")
    bench.replies.enabled = True
    runs = {
        "tap": ([str(TAP), "--config", str(bench.config("tap"))], "GET", None),
        "target": (
            [str(TARGET), "--config", str(bench.config("target"))],
            "PUT",
            bench.folder / "tap-full.singer",
        ),
    }
    for name, (command, method, stdin) in runs.items():
        session = folder / f"{name}.pyisession"
        bench.run(
            f"{name} under pyinstrument",
            [profiler, "-r", "pyisession", "-o", str(session), *command],
            workspace=WORKSPACE,
            method=method,
            stdin=stdin,
        )
        for style, options in (("tree", []), ("flat", ["-p", "flat=true"])):
            subprocess.run(
                [
                    profiler,
                    "--load",
                    str(session),
                    "-r",
                    "text",
                    *options,
                    "-o",
                    str(folder / f"{name}-{style}.txt"),
                ],
                check=True,
            )


def _baseline_tap_command(bench: Bench, requests_file: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.baseline_tap",
        bench.sandbox.url,
        TOKEN,
        str(requests_file),
    ]


def _last_state(singer_output: Path) -> dict[str, object]:
    """Return the value of the last STATE message of a Singer output file."""
    with singer_output.open("rb") as file:
        file.seek(max(0, singer_output.stat().st_size - 65_536))
        tail = file.read()
    for line in reversed(tail.splitlines()):
        if line.startswith(b'{"type":"STATE"'):
            return json.loads(line)["value"]
    raise SystemExit(f"{singer_output} ends without a STATE message")


def _head_records(source: Path, destination: Path, count: int) -> None:
    """Copy the SCHEMA, the first `count` RECORD lines and the last STATE."""
    state = _last_state(source)
    written = 0
    with source.open("rb") as lines, destination.open("wb") as out:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                if written == count:
                    break
                written += 1
                out.write(line)
            elif line.startswith(b'{"type":"SCHEMA"'):
                out.write(line)
        out.write(json.dumps({"type": "STATE", "value": state}).encode() + b"\n")


if __name__ == "__main__":
    main()
