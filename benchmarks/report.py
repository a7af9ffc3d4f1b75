"""The figures of the benchmarks, and how `benchmarks.run` prints them."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

MEMORY_GOAL_SIZES = (100_000, 1_000_000)
MEMORY_GOAL_RATIO = 1.5


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


@dataclass
class Results:
    """Everything that the summary prints."""

    rows: list[Row]
    #: A sync of an empty workspace and a load of no records: the fixed cost.
    fixed_cost: tuple[Measurement, Measurement]
    memory: list[str]


def median(runs: list[Measurement], field: str) -> float:
    return statistics.median(getattr(run, field) for run in runs)


def print_run(label: str, run: Measurement) -> None:
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


def print_summary(results: Results) -> None:
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
    tickets = int(median(runs, "tickets"))
    wall = median(runs, "wall_seconds")
    cpu = median(runs, "cpu_seconds")
    rate_wall = tickets / wall if wall else 0.0
    rate_cpu = tickets / cpu if cpu else 0.0
    ratio = ""
    if baseline:
        base_tickets = median(baseline, "tickets")
        base_wall = base_tickets / median(baseline, "wall_seconds")
        base_cpu = base_tickets / median(baseline, "cpu_seconds")
        ratio = f"{rate_wall / base_wall:.2f} | {rate_cpu / base_cpu:.2f}"
    print(
        f"{name:<30} {tickets:>9,} {median(runs, 'requests'):>8.0f} "
        f"{wall:>7.2f} {cpu:>7.2f} "
        f"{rate_wall:>10,.0f} {rate_cpu:>10,.0f} {ratio:>12} "
        f"{median(runs, 'peak_rss_mib'):>8.0f}"
    )


def memory_line(
    kind: str, small: int, small_mib: float, large: int, large_mib: float
) -> str:
    ratio = large_mib / small_mib if small_mib else float("nan")
    return (
        f"{kind:<6} peak RSS {small:>9,} tickets {small_mib:>6.0f} MiB, "
        f"{large:>9,} tickets {large_mib:>6.0f} MiB: ratio {ratio:.2f}"
    )


def print_memory(lines: list[str]) -> None:
    print(
        f"\nPeak memory (the goal: at most {MEMORY_GOAL_RATIO} times from "
        f"{MEMORY_GOAL_SIZES[0]:,} to {MEMORY_GOAL_SIZES[1]:,} tickets; "
        "--full runs those sizes)"
    )
    for line in lines:
        print(f"  {line}")


def print_machine() -> None:
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
        f"Load average before: {load_average()} "
        "(above 0, other processes share the CPU)"
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
