"""The raw baseline of the target: read Singer input, send the same batches.

    python -m benchmarks.baseline_target URL TOKEN < tickets.singer

Reads Singer messages from standard input and sends the records in
PUT /tickets requests of 5,000 items. It builds each item as the target
builds it from a record in the read shape: read names fill missing write
names, and `subType` becomes `type`. So the request bodies are the target's
byte for byte. It writes the last STATE after every batch was acknowledged.
It validates nothing: it is the practical ceiling of the target on this
machine.
"""

from __future__ import annotations

import argparse
import gc
import sys
from typing import Any

import orjson
import requests

from target_planhat_tickets.mapping import READ_NAMES, READ_TYPE, WRITE_FIELDS

BATCH_SIZE = 5_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("token")
    arguments = parser.parse_args()

    gc.disable()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {arguments.token}"
    session.headers["Content-Type"] = "application/json"
    batch: list[dict[str, Any]] = []
    state = None

    for line in sys.stdin.buffer:
        message = orjson.loads(line)
        kind = message["type"]
        if kind == "RECORD":
            batch.append(_item(message["record"]))
            if len(batch) == BATCH_SIZE:
                _send(session, arguments.url, batch)
                batch = []
        elif kind == "STATE":
            state = message["value"]
    if batch:
        _send(session, arguments.url, batch)
    if state is not None:
        sys.stdout.buffer.write(orjson.dumps({"type": "STATE", "value": state}) + b"\n")
    return 0


def _item(record: dict[str, Any]) -> dict[str, Any]:
    item = {}
    for name in WRITE_FIELDS:
        value = record.get(name)
        if value is None and name in READ_NAMES:
            value = record.get(READ_NAMES[name])
        if value is not None:
            item[name] = value
    sub_type = record.get("subType")
    if sub_type is not None and record.get("type") in (None, READ_TYPE):
        item["type"] = sub_type
    return item


def _send(session: requests.Session, url: str, batch: list[dict[str, Any]]) -> None:
    response = session.put(f"{url}/tickets", data=orjson.dumps(batch), timeout=120)
    response.raise_for_status()
    result = orjson.loads(response.content)
    accounted = result["created"] + result["updated"] + result.get("nonupdates", 0)
    if accounted != len(batch):
        msg = f"PUT /tickets accounted for {accounted} of {len(batch)} items: {result}"
        raise SystemExit(msg)


if __name__ == "__main__":
    sys.exit(main())
