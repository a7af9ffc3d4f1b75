"""Run one command and write its wall time, CPU time and peak memory as JSON.

    python -m benchmarks.measure REPORT [--stdin PATH] [--stdout PATH]
                                 [--stderr PATH] -- COMMAND [ARGS...]

This runs as a small process of its own between the benchmark and the
connector, for two reasons. Linux counts the memory that a child had before
its exec in its ru_maxrss, so a connector forked straight from the
benchmark, which keeps the sandbox's tickets in memory, would report the benchmark's
size. And this process drains the connector's standard output through a
pipe, as a downstream target would, so that the connector's figures contain
its own work only.

The report holds `wall_seconds`, `user_seconds`, `system_seconds`,
`peak_rss_kib`, `returncode`, `stdout_bytes` and `record_lines`: the number
of Singer RECORD messages in the output.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

#: Start of every RECORD line, as the SDK's writers and the baselines write
#: it. Inside a JSON string a quote is escaped, so this cannot occur there.
RECORD_PREFIX = b'{"type":"RECORD"'
_CHUNK_BYTES = 1 << 20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--stdin", type=Path, help="file to send to standard input")
    parser.add_argument(
        "--stdout", type=Path, help="file that receives standard output"
    )
    parser.add_argument("--stderr", type=Path, help="file that receives standard error")
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("give the command to run after --")
    split = argv.index("--")
    arguments = parser.parse_args(argv[:split])
    command = argv[split + 1 :]

    stdin = arguments.stdin.open("rb") if arguments.stdin else subprocess.DEVNULL
    stderr = arguments.stderr.open("wb") if arguments.stderr else subprocess.DEVNULL
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr
    )
    assert process.stdout is not None
    copy = arguments.stdout.open("wb") if arguments.stdout else None
    stdout_bytes, record_lines = _drain(process.stdout, copy)
    returncode = process.wait()
    wall = time.perf_counter() - started
    if copy is not None:
        copy.close()

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "wall_seconds": wall,
        "user_seconds": usage.ru_utime,
        "system_seconds": usage.ru_stime,
        "peak_rss_kib": usage.ru_maxrss,
        "returncode": returncode,
        "stdout_bytes": stdout_bytes,
        "record_lines": record_lines,
    }
    arguments.report.write_text(json.dumps(report))
    return 0


def _drain(stream: BinaryIO, copy: BinaryIO | None) -> tuple[int, int]:
    """Read `stream` to its end and return its size and its number of RECORD lines."""
    total = 0
    records = 0
    # The end of the previous chunk, so that a prefix split over two chunks
    # is counted once.
    carry = b""
    while chunk := stream.read(_CHUNK_BYTES):
        total += len(chunk)
        if copy is not None:
            copy.write(chunk)
        window = carry + chunk
        records += window.count(RECORD_PREFIX)
        carry = window[-(len(RECORD_PREFIX) - 1) :]
    return total, records


if __name__ == "__main__":
    sys.exit(main())
