"""Measure a full tap sync at several page sizes against the sandbox.

Prints, per page size: GET requests, wall seconds, tickets per second, the
tap's peak resident memory, and how long the same number of requests takes
at Planhat's quota of 200 requests a minute, which bounds a real sync.

    python benchmarks/page_size.py [--tickets 50000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from planhat_sandbox import Sandbox

TAP = Path(sys.executable).parent / "tap-planhat-tickets"
PAGE_SIZES = (500, 2_000, 5_000, 10_000)
QUOTA_PER_MINUTE = 200


# Linux counts a child's memory from before its exec in ru_maxrss, so a tap
# forked straight from this process, which holds the sandbox's tickets, would
# report this process's size. A small wrapper process starts the tap instead
# and reports the tap's own peak.
_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stderr=subprocess.DEVNULL)
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(peak_kib, file=sys.stderr)
sys.exit(code)
"""


def run_tap(config_path: Path) -> tuple[float, int, int]:
    """Run one sync; return wall seconds, RECORD lines and peak RSS in MiB."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, str(TAP), "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    records = sum(1 for line in process.stdout if line.startswith(b'{"type":"RECORD"'))
    _, stderr = process.communicate()
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"tap-planhat-tickets exited with status {process.returncode}")
    return elapsed, records, int(stderr.split()[-1]) // 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=50_000)
    args = parser.parse_args()

    with Sandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        workspace = sandbox.add_workspace(
            "bench", token="bench-token", tickets=args.tickets, seed=11
        )
        mean_bytes = len(json.dumps(workspace.tickets()).encode()) / max(
            args.tickets, 1
        )
        print(f"{args.tickets} tickets, mean {mean_bytes:.0f} bytes of JSON each")
        print("page_size  requests  wall_s  tickets/s  peak_rss_mib  at_200/min_s")

        for page_size in PAGE_SIZES:
            config_path = Path(folder) / "config.json"
            config = {
                "api_url": sandbox.url,
                "api_token": "bench-token",
                "page_size": page_size,
                "max_requests_per_minute": 100_000,
            }
            config_path.write_text(json.dumps(config))
            sandbox.clear_requests()

            elapsed, records, peak_mib = run_tap(config_path)

            requests = len(sandbox.requests("bench", method="GET"))
            quota_seconds = requests * 60 / QUOTA_PER_MINUTE
            rate = records / elapsed
            print(
                f"{page_size:>9}  {requests:>8}  {elapsed:>6.1f}  {rate:>9.0f}"
                f"  {peak_mib:>12}  {quota_seconds:>12.0f}"
            )


if __name__ == "__main__":
    main()
