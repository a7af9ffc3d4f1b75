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
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.replies import PreparedReplies
from planhat_sandbox import Sandbox, Workspace

VENV_BIN = Path(sys.executable).parent
TAP = VENV_BIN / "tap-planhat-tickets"
TARGET = VENV_BIN / "target-planhat-tickets"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED = 11
TOKEN = "bench-token"
WORKSPACE = "bench"
#: Requests a minute allowed to the connectors: far above what they send.
NO_RATE_LIMIT = 1_000_000
MEMORY_GOAL_SIZES = (100_000, 1_000_000)
MEMORY_GOAL_RATIO = 1.5
_CUTOFF_PATTERN = re.compile(rb"updated since (\S+)\)")


@dataclass(frozen=True)
class Measurement:
    """Figures of one process run."""

    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    tickets: int
    requests: int
    #: Requests the sandbox had to compute, because no prepared response matched.
    unprepared: int


@dataclass(frozen=True)
class Row:
    """One benchmark of the summary: the connector's runs and its baseline's."""

    name: str
    runs: list[Measurement]
    baseline: list[Measurement]


class Bench:
    """Runs processes under `benchmarks.measure` against one sandbox."""

    def __init__(
        self, folder: Path, sandbox: Sandbox, replies: PreparedReplies
    ) -> None:
        self.folder = folder
        self.sandbox = sandbox
        self.replies = replies
        self._count = 0

    def run(
        self,
        label: str,
        command: list[str],
        *,
        workspace: str,
        method: str,
        stdin: Path | None = None,
        stdout: Path | None = None,
    ) -> Measurement:
        """Run `command` once, print its figures, and return them.

        Tickets are the RECORD lines written for a GET run, and the items of
        all PUT requests for a PUT run.
        """
        self._count += 1
        report = self.folder / f"run-{self._count}.json"
        log = self.folder / f"run-{self._count}.log"
        wrapper = [
            sys.executable,
            "-m",
            "benchmarks.measure",
            str(report),
            "--stderr",
            str(log),
        ]
        if stdin is not None:
            wrapper += ["--stdin", str(stdin)]
        if stdout is not None:
            wrapper += ["--stdout", str(stdout)]

        self.sandbox.clear_requests()
        misses_before = self.replies.misses
        subprocess.run([*wrapper, "--", *command], check=True, cwd=PROJECT_ROOT)
        figures = json.loads(report.read_text())
        if figures["returncode"] != 0:
            tail = log.read_text(errors="replace")[-3000:]
            status = figures["returncode"]
            msg = f"{label}: {command[0]} exited with status {status}:\n{tail}"
            raise SystemExit(msg)

        served = self.sandbox.requests(workspace, method=method)
        if method == "GET":
            tickets = figures["record_lines"]
        else:
            tickets = sum(entry.items or 0 for entry in served)
        measurement = Measurement(
            wall_seconds=figures["wall_seconds"],
            cpu_seconds=figures["user_seconds"] + figures["system_seconds"],
            peak_rss_mib=figures["peak_rss_kib"] / 1024,
            tickets=tickets,
            requests=len(served),
            unprepared=self.replies.misses - misses_before,
        )
        _print_run(label, measurement)
        return measurement

    def log_of_last_run(self) -> bytes:
        """Return the standard error of the last run."""
        return (self.folder / f"run-{self._count}.log").read_bytes()

    def config(self, name: str, **settings: object) -> Path:
        """Write a connector config for the sandbox and return its path."""
        path = self.folder / f"{name}.json"
        config = {
            "api_url": self.sandbox.url,
            "api_token": TOKEN,
            "max_requests_per_minute": NO_RATE_LIMIT,
            **settings,
        }
        path.write_text(json.dumps(config))
        return path

    def write_json(self, name: str, value: object) -> Path:
        path = self.folder / name
        path.write_text(json.dumps(value))
        return path


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
    _print_machine()
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

    _print_summary(results)
    _print_memory(results.memory)
    print(
        f"\nLoad average after: {_load_average()}; "
        f"took {time.monotonic() - started:.0f} s"
    )


@dataclass
class Results:
    """Everything that the summary prints."""

    rows: list[Row]
    #: A sync of an empty workspace and a load of no records: the fixed cost.
    fixed_cost: tuple[Measurement, Measurement]
    memory: list[str]


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

    tap_peak = _median(tap_full.runs, "peak_rss_mib")
    target_peak = _median(target_load.runs, "peak_rss_mib")
    return [
        _memory_line("tap", tenth, tap.peak_rss_mib, full, tap_peak),
        _memory_line("target", tenth, target.peak_rss_mib, full, target_peak),
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
        _memory_line(kind, small, peaks[kind, small], large, peaks[kind, large])
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


def _median(runs: list[Measurement], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def _print_run(label: str, run: Measurement) -> None:
    note = (
        f", {run.unprepared} responses computed by the sandbox"
        if run.unprepared
        else ""
    )
    print(
        f"  {label:<26} {run.tickets:>9,} tickets {run.requests:>4} requests "
        f"{run.wall_seconds:>7.2f} s wall {run.cpu_seconds:>7.2f} s CPU "
        f"{run.peak_rss_mib:>7.0f} MiB peak{note}",
        flush=True,
    )


def _print_summary(results: Results) -> None:
    print(
        "\nSummary: medians of the timed runs. Rates are tickets per second of wall "
        "time"
    )
    print("and per CPU second of the measured process; 'of baseline' divides the")
    print("connector's rate by its raw baseline's, wall | CPU.\n")
    header = (
        f"{'benchmark':<30} {'tickets':>9} {'requests':>8} {'wall s':>7} {'CPU s':>7} "
        f"{'per s wall':>10} {'per CPU s':>10} {'of baseline':>12} {'peak MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in results.rows:
        _print_row(row.name, row.runs, row.baseline)
        _print_row("  baseline", row.baseline, None)
    tap, target = results.fixed_cost
    print(
        f"\nFixed cost of a run with no tickets, included in the rates above: tap "
        f"{tap.cpu_seconds:.2f} s CPU ({tap.wall_seconds:.2f} s wall), target "
        f"{target.cpu_seconds:.2f} s CPU ({target.wall_seconds:.2f} s wall)."
    )


def _print_row(
    name: str, runs: list[Measurement], baseline: list[Measurement] | None
) -> None:
    tickets = int(_median(runs, "tickets"))
    wall = _median(runs, "wall_seconds")
    cpu = _median(runs, "cpu_seconds")
    rate_wall = tickets / wall if wall else 0.0
    rate_cpu = tickets / cpu if cpu else 0.0
    ratio = ""
    if baseline:
        base_tickets = _median(baseline, "tickets")
        base_wall = base_tickets / _median(baseline, "wall_seconds")
        base_cpu = base_tickets / _median(baseline, "cpu_seconds")
        ratio = f"{rate_wall / base_wall:.2f} | {rate_cpu / base_cpu:.2f}"
    print(
        f"{name:<30} {tickets:>9,} {_median(runs, 'requests'):>8.0f} "
        f"{wall:>7.2f} {cpu:>7.2f} "
        f"{rate_wall:>10,.0f} {rate_cpu:>10,.0f} {ratio:>12} "
        f"{_median(runs, 'peak_rss_mib'):>8.0f}"
    )


def _memory_line(
    kind: str, small: int, small_mib: float, large: int, large_mib: float
) -> str:
    ratio = large_mib / small_mib if small_mib else float("nan")
    return (
        f"{kind:<6} peak RSS {small:>9,} tickets {small_mib:>6.0f} MiB, "
        f"{large:>9,} tickets {large_mib:>6.0f} MiB: ratio {ratio:.2f}"
    )


def _print_memory(lines: list[str]) -> None:
    print(
        f"\nPeak memory (the goal: at most {MEMORY_GOAL_RATIO} times from "
        f"{MEMORY_GOAL_SIZES[0]:,} to {MEMORY_GOAL_SIZES[1]:,} tickets; "
        "--full runs those sizes)"
    )
    for line in lines:
        print(f"  {line}")


def _print_machine() -> None:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(
        f"{name} {_version(name)}"
        for name in ("singer-sdk", "orjson", "msgspec", "requests")
    )
    print(
        f"Machine: {cpu}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, "
        f"{platform.system()} {platform.release()}"
    )
    print(f"Python {platform.python_version()}; {versions}")
    print(
        f"Load average before: {_load_average()} "
        "(above 0, other processes share the CPU)"
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
