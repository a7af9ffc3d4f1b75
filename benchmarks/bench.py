"""Run a connector or a baseline as a measured process against the sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.replies import PreparedReplies
from benchmarks.report import Measurement, print_run
from planhat_sandbox import Sandbox

VENV_BIN = Path(sys.executable).parent
TAP = VENV_BIN / "tap-planhat-tickets"
TARGET = VENV_BIN / "target-planhat-tickets"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEED = 11
TOKEN = "bench-token"
WORKSPACE = "bench"
#: Requests a minute allowed to the connectors: far above what they send.
NO_RATE_LIMIT = 1_000_000


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
        print_run(label, measurement)
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
