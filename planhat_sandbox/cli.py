"""Command line: ``planhat-sandbox serve`` runs the sandbox in the foreground."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from planhat_sandbox.faults import (
    Fault,
    FaultHook,
    FaultSpecError,
    load_fault_file,
    parse_fault_text,
)
from planhat_sandbox.sandbox import Sandbox

logger = logging.getLogger("planhat_sandbox")


@dataclass(frozen=True)
class WorkspaceSpec:
    """A ``--workspace NAME:TOKEN:COUNT[:SEED]`` argument."""

    name: str
    token: str
    tickets: int
    seed: int | None


def parse_workspace(text: str) -> WorkspaceSpec:
    """Parse ``NAME:TOKEN:COUNT[:SEED]``; the token may not contain ``:``.

    Raises:
        argparse.ArgumentTypeError: if the text does not have that form.

    """
    parts = text.split(":")
    usage = (
        f"invalid workspace {text!r}: "
        "expected NAME:TOKEN:COUNT or NAME:TOKEN:COUNT:SEED"
    )
    if len(parts) not in (3, 4) or not all(parts[:2]):
        raise argparse.ArgumentTypeError(usage)
    if not parts[2].isdigit() or (
        len(parts) == 4 and not parts[3].lstrip("-").isdigit()
    ):
        raise argparse.ArgumentTypeError(
            f"{usage}, with whole numbers for COUNT and SEED"
        )
    seed = int(parts[3]) if len(parts) == 4 else None
    return WorkspaceSpec(parts[0], parts[1], int(parts[2]), seed)


def _fault_argument(text: str) -> Fault:
    try:
        return parse_fault_text(text)
    except FaultSpecError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``planhat-sandbox``."""
    parser = argparse.ArgumentParser(
        prog="planhat-sandbox",
        description=(
            "Local Planhat-compatible API server on 127.0.0.1 "
            "for tests, demos and benchmarks."
        ),
    )

    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="serve in the foreground until SIGINT or SIGTERM",
        description=(
            "Serve the Planhat tickets API on 127.0.0.1. "
            "The first line on stdout is the base URL."
        ),
    )

    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; only 127.0.0.1 is accepted",
    )

    serve.add_argument(
        "--port",
        type=int,
        default=8765,
        help="TCP port; 0 picks a free port (default: 8765)",
    )

    serve.add_argument(
        "--workspace",
        action="append",
        type=parse_workspace,
        default=[],
        metavar="NAME:TOKEN:COUNT[:SEED]",
        help=(
            "add a workspace with COUNT seeded tickets, reached with "
            "'Authorization: Bearer TOKEN'; repeatable"
        ),
    )

    serve.add_argument(
        "--seed",
        type=int,
        default=0,
        help=(
            "seed of generated data; the Nth --workspace without its own SEED "
            "gets this plus N-1 (default: 0)"
        ),
    )

    serve.add_argument(
        "--ready-file",
        type=Path,
        help="write the base URL to this file once the server listens",
    )

    serve.add_argument(
        "--rate-limit",
        type=int,
        metavar="PER_MINUTE",
        help=(
            "limit every workspace to this many requests per minute and 150 "
            "per second (default: no limit)"
        ),
    )

    serve.add_argument(
        "--retry-after",
        action="store_true",
        help="send Retry-After (seconds) with each 429",
    )

    serve.add_argument(
        "--fault",
        action="append",
        type=_fault_argument,
        default=[],
        metavar="FAULT",
        help=(
            "inject a fault, as key=value pairs or a JSON object, such as "
            "kind=status,status=503,method=GET,path=/tickets,first=2,times=1; "
            "repeatable (see planhat_sandbox/faults.py for the kinds and fields)"
        ),
    )

    serve.add_argument(
        "--fault-file",
        type=Path,
        metavar="PATH",
        help='read more faults from a JSON file: a list of fault objects or {"faults": [...]}',
    )

    serve.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default="INFO",
        help="logging level; INFO logs one line per request (default: INFO)",
    )

    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(
        level=arguments.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return _serve(arguments)


def _serve(arguments: argparse.Namespace) -> int:
    faults: list[Fault] = list(arguments.fault)
    if arguments.fault_file is not None:
        try:
            faults.extend(load_fault_file(arguments.fault_file))
        except FaultSpecError as error:
            print(f"planhat-sandbox: error: {error}", file=sys.stderr)
            return 2
    try:
        sandbox = Sandbox(
            arguments.host, arguments.port, hook=FaultHook(faults) if faults else None
        )
    except ValueError as error:
        print(f"planhat-sandbox: error: {error}", file=sys.stderr)
        return 2
    for fault in faults:
        logger.info("fault injected: %s", fault.to_dict())

    for index, spec in enumerate(arguments.workspace):
        seed = arguments.seed + index if spec.seed is None else spec.seed
        try:
            workspace = sandbox.add_workspace(
                spec.name, token=spec.token, tickets=spec.tickets, seed=seed
            )
        except ValueError as error:
            print(f"planhat-sandbox: error: {error}", file=sys.stderr)
            return 2
        if arguments.rate_limit is not None:
            workspace.set_rate_limit(
                arguments.rate_limit, send_retry_after=arguments.retry_after
            )
        logger.info("workspace %s: %d tickets, seed %d", spec.name, spec.tickets, seed)

    stop = threading.Event()
    received: list[str] = []

    def request_stop(signal_number: int, frame: FrameType | None) -> None:
        # Only record the signal: logging here could deadlock on a lock that
        # the interrupted code holds.
        received.append(signal.Signals(signal_number).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    try:
        sandbox.start()
    except OSError as error:
        print(
            f"planhat-sandbox: error: cannot listen on port {arguments.port}: {error}",
            file=sys.stderr,
        )
        return 1
    print(sandbox.url, flush=True)
    if arguments.ready_file is not None:
        _write_atomically(arguments.ready_file, sandbox.url + "\n")
    logger.info("listening on %s", sandbox.url)

    try:
        while not stop.wait(timeout=1.0):
            pass
        logger.info("received %s, stopping", received[0])
    finally:
        sandbox.close()
        logger.info("stopped")
    return 0


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` so that a reader never sees a partly written file."""
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent or Path("."), prefix=f".{path.name}."
    )
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
