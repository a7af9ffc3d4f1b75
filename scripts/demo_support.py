"""Paths, errors and helpers that both directions of the demo use.

``demo.py`` runs the demo and imports this module and ``demo_reverse.py``.
Neither imports ``demo.py``, because the script runs as the module
``__main__``, and importing it as ``demo`` would define a second
``DemoError`` that the script's ``except`` clause does not catch.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / ".demo"

MELTANO_RUN_TIMEOUT_SECONDS = 900
ADMIN_TIMEOUT_SECONDS = 30


class DemoError(RuntimeError):
    """Failure of a demo step. The message names the step and its log file."""


def admin(method: str, url: str, path: str, body: dict[str, object] | None = None) -> dict[str, object]:
    """Call an admin route of the sandbox and return its JSON body."""
    response = requests.request(method, f"{url}/_sandbox/{path}", json=body, timeout=ADMIN_TIMEOUT_SECONDS)
    if not response.ok:
        raise DemoError(f"sandbox admin request {method} /_sandbox/{path} failed with {response.status_code}: {response.text}")
    return response.json()


def run_logged(command: list[str], environment: dict[str, str], log_path: Path, step: str) -> str:
    """Run ``command`` in the repository, write its output to ``log_path``, and return that output.

    Raises:
        DemoError: naming ``step``, if the command times out or exits with a
            non-zero status.
    """
    with log_path.open("wb") as log:
        try:
            result = subprocess.run(
                command,
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=MELTANO_RUN_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DemoError(f"{step} timed out after {MELTANO_RUN_TIMEOUT_SECONDS} s; see {log_path}") from None

    log_text = log_path.read_text(encoding="utf-8", errors="replace")
    if result.returncode != 0:
        tail = log_text.splitlines()[-15:]
        raise DemoError(f"{step} exited with status {result.returncode}; last lines of {log_path}:\n" + "\n".join(tail))
    return log_text


def relative(path: Path) -> str:
    """Return ``path`` relative to the repository root, for messages."""
    return str(path.relative_to(ROOT))
