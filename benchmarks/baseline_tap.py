"""The raw baseline of the tap: fetch the same pages, write the same RECORD lines.

    python -m benchmarks.baseline_tap URL TOKEN REQUESTS [--cutoff TIMESTAMP]

REQUESTS is a JSON file with the query parameters of every GET /tickets the
tap sent, in order. The loop sends the same requests and writes one Singer
RECORD message per ticket, skipping tickets already written (pages overlap)
and, with `--cutoff`, tickets updated before it. It is the fastest plain
Python this machine offers for that work: requests, orjson, one write per
page and no garbage collection, so it is the practical ceiling of the tap.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import orjson
import requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("requests", type=Path)
    parser.add_argument("--cutoff", default="", help="skip tickets updated before this")
    arguments = parser.parse_args()

    gc.disable()
    pages = json.loads(arguments.requests.read_text())
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {arguments.token}"
    out = sys.stdout.buffer
    written: set[str] = set()
    time_extracted = datetime.now(timezone.utc).isoformat()

    for params in pages:
        response = session.get(f"{arguments.url}/tickets", params=params, timeout=120)
        response.raise_for_status()
        lines = []
        for ticket in orjson.loads(response.content):
            ticket_id = ticket["_id"]
            if (
                ticket_id in written
                or (ticket.get("updateDate") or "") < arguments.cutoff
            ):
                continue
            written.add(ticket_id)
            message = {
                "type": "RECORD",
                "stream": "tickets",
                "record": ticket,
                "time_extracted": time_extracted,
            }
            lines.append(orjson.dumps(message))
        if lines:
            out.write(b"\n".join(lines))
            out.write(b"\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
