"""A local SQLite file of what the target last sent to Planhat, per ticket key.

For each item key the store keeps a fingerprint: a BLAKE2b hash of the exact
JSON of the item that Planhat last acknowledged. An item whose JSON hashes
to the stored fingerprint is not sent again. The hash is of `orjson.dumps`
of the item, which is the item's part of the request body, because orjson
writes a list as the compact encodings of its items joined by commas.

Fingerprints are kept per workspace. Planhat serves every workspace from the
same host, and the API offers no workspace id, so the token stands for the
workspace. The store keeps an HMAC-SHA256 of the API URL and the token,
keyed with a random salt of the file, never the token itself. A store used
with another token, such as one of another workspace, therefore suppresses
nothing: it sends every item and remembers it under the new token.

One run at a time may use a file: the connection holds SQLite's exclusive
lock from opening to closing, and a second run fails at once with a clear
error. Each write is one transaction in write-ahead-log mode, so a run that
dies mid-batch leaves the fingerprints of the requests acknowledged before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from target_planhat_tickets.response import ItemKey

FORMAT_NAME = "target-planhat-tickets fingerprint store"
FORMAT_VERSION = 1
#: Seconds to wait for another run's lock before failing.
LOCK_WAIT_SECONDS = 2.0
#: Keys per SELECT, below SQLite's default limit of 32,766 parameters.
_KEYS_PER_QUERY = 500

_SCHEMA = (
    """
    CREATE TABLE store_format (
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        salt BLOB NOT NULL
    )
    """,
    """
    CREATE TABLE workspaces (
        id INTEGER PRIMARY KEY,
        digest BLOB NOT NULL UNIQUE
    )
    """,
    """
    CREATE TABLE fingerprints (
        workspace_id INTEGER NOT NULL REFERENCES workspaces (id),
        key_field TEXT NOT NULL,
        key_value TEXT NOT NULL,
        fingerprint BLOB NOT NULL,
        PRIMARY KEY (workspace_id, key_field, key_value)
    ) WITHOUT ROWID
    """,
)


class FingerprintStoreError(Exception):
    """The fingerprint store cannot be opened, is not a store, or is in use."""


@dataclass
class Selection:
    """The items of one batch that differ from what Planhat last acknowledged."""

    #: Items to send, by key, in the batch's order.
    items: dict[ItemKey, dict[str, Any]] = field(default_factory=dict)
    #: Fingerprint of each item to send, stored once Planhat acknowledged it.
    fingerprints: dict[ItemKey, bytes] = field(default_factory=dict)
    #: Items left out because Planhat acknowledged the same JSON before.
    unchanged: int = 0


def fingerprint(encoded: bytes) -> bytes:
    """Return the 16-byte BLAKE2b hash of an item's JSON."""
    return hashlib.blake2b(encoded, digest_size=16).digest()


class FingerprintStore:
    """Fingerprints of the items that Planhat acknowledged, for one workspace.

    Use it from one thread at a time: the connection allows other threads,
    but the methods do not serialize their transactions.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        path: Path,
        workspace_id: int,
        *,
        other_workspaces: int,
        known_workspace: bool,
    ) -> None:
        """Wrap an open, locked connection; use `FingerprintStore.open` instead."""
        self._connection = connection
        self.path = path
        self._workspace_id = workspace_id
        #: Workspaces or tokens other than this one that have fingerprints.
        self.other_workspaces = other_workspaces
        #: Whether this workspace and token had fingerprints when the store opened.
        self.known_workspace = known_workspace

    @classmethod
    def open(cls, path: Path, *, api_url: str, api_token: str) -> FingerprintStore:
        """Open or create the store at `path` and lock it for this run.

        Raises:
            FingerprintStoreError: if the file cannot be opened or created, is
                not a fingerprint store, or is in use by another run.

        """
        try:
            connection = sqlite3.connect(
                path,
                timeout=LOCK_WAIT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise FingerprintStoreError(_describe_open_error(path, exc)) from exc
        try:
            return cls._lock_and_load(connection, path, api_url, api_token)
        except FingerprintStoreError:
            connection.close()
            raise
        except sqlite3.Error as exc:
            connection.close()
            raise FingerprintStoreError(_describe_open_error(path, exc)) from exc

    @classmethod
    def _lock_and_load(
        cls, connection: sqlite3.Connection, path: Path, api_url: str, api_token: str
    ) -> FingerprintStore:
        # In exclusive locking mode SQLite keeps the lock of the first write
        # until the connection closes, so a second run cannot take it.
        connection.execute("PRAGMA locking_mode = EXCLUSIVE")
        connection.execute("BEGIN EXCLUSIVE")
        try:
            salt = _check_or_create_schema(connection, path)
            digest = _workspace_digest(salt, api_url, api_token)
            workspace_id, known = _workspace_id(connection, digest)
            other = connection.execute(
                "SELECT COUNT(DISTINCT workspace_id) FROM fingerprints "
                "WHERE workspace_id != ?",
                (workspace_id,),
            ).fetchone()[0]
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

        # The journal mode changes only now, once the file is known to be a
        # store. WAL keeps it consistent when the run dies. NORMAL skips the
        # fsync of each commit, which risks at most the last fingerprints on
        # a power loss.
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("PRAGMA synchronous = NORMAL")
        return cls(
            connection,
            path,
            workspace_id,
            other_workspaces=other,
            known_workspace=known,
        )

    def select_changed(
        self, items: Mapping[ItemKey, dict[str, Any]], *, resend_all: bool
    ) -> Selection:
        """Encode `items` and keep those whose JSON differs from the stored one.

        With `resend_all`, every item is kept.

        Raises:
            orjson.JSONEncodeError: if an item cannot be encoded as JSON.

        """
        # Each encoding is dropped once hashed. Kept for a batch of 5,000
        # seeded tickets, the 9 MB of encodings raised the resident memory by
        # about 45 MB (orjson 3.13, glibc malloc).
        current = {key: fingerprint(orjson.dumps(item)) for key, item in items.items()}
        stored = {} if resend_all else self._stored(list(items))
        selection = Selection()
        for key, item in items.items():
            if stored.get(key) == current[key]:
                selection.unchanged += 1
                continue
            selection.items[key] = item
            selection.fingerprints[key] = current[key]
        return selection

    def remember(self, fingerprints: Mapping[ItemKey, bytes]) -> None:
        """Store the fingerprints of items Planhat acknowledged, in one transaction."""
        if not fingerprints:
            return
        rows = [
            (self._workspace_id, key[0], key[1], value)
            for key, value in fingerprints.items()
        ]
        with self._transaction():
            self._connection.executemany(
                "INSERT INTO fingerprints "
                "(workspace_id, key_field, key_value, fingerprint) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (workspace_id, key_field, key_value) "
                "DO UPDATE SET fingerprint = excluded.fingerprint",
                rows,
            )

    def forget(self, keys: Iterable[ItemKey]) -> None:
        """Remove the fingerprints of `keys`, such as those of deleted tickets."""
        rows = [(self._workspace_id, key[0], key[1]) for key in keys]
        if not rows:
            return
        with self._transaction():
            self._connection.executemany(
                "DELETE FROM fingerprints "
                "WHERE workspace_id = ? AND key_field = ? AND key_value = ?",
                rows,
            )

    def count(self) -> int:
        """Return the number of fingerprints of this workspace."""
        return self._connection.execute(
            "SELECT COUNT(*) FROM fingerprints WHERE workspace_id = ?",
            (self._workspace_id,),
        ).fetchone()[0]

    def close(self) -> None:
        """Close the file, which releases the lock."""
        self._connection.close()

    def _stored(self, keys: list[ItemKey]) -> dict[ItemKey, bytes]:
        values_by_field: dict[str, list[str]] = {}
        for key_field, key_value in keys:
            values_by_field.setdefault(key_field, []).append(key_value)

        found: dict[ItemKey, bytes] = {}
        for key_field, values in values_by_field.items():
            for start in range(0, len(values), _KEYS_PER_QUERY):
                chunk = values[start : start + _KEYS_PER_QUERY]
                # The query names all three columns of the primary key, so
                # SQLite looks each key up in its index instead of scanning.
                placeholders = ", ".join("?" * len(chunk))
                query = (
                    "SELECT key_value, fingerprint FROM fingerprints "  # noqa: S608
                    "WHERE workspace_id = ? AND key_field = ? "
                    f"AND key_value IN ({placeholders})"
                )
                rows = self._connection.execute(
                    query, (self._workspace_id, key_field, *chunk)
                )
                for key_value, value in rows:
                    found[(key_field, key_value)] = value
        return found

    def _transaction(self) -> _Transaction:
        return _Transaction(self._connection)


class _Transaction:
    """Begin a transaction on entry; commit it on success, else roll it back."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def __enter__(self) -> None:
        self._connection.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        if exc_type is None:
            self._connection.execute("COMMIT")
        elif self._connection.in_transaction:
            self._connection.execute("ROLLBACK")


def _check_or_create_schema(connection: sqlite3.Connection, path: Path) -> bytes:
    """Return the store's salt, creating the tables in an empty file."""
    tables = {
        row[0]
        for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
    }
    if not tables:
        for statement in _SCHEMA:
            connection.execute(statement)
        salt = secrets.token_bytes(16)
        connection.execute(
            "INSERT INTO store_format (name, version, salt) VALUES (?, ?, ?)",
            (FORMAT_NAME, FORMAT_VERSION, salt),
        )
        return salt

    row = None
    if "store_format" in tables:
        row = connection.execute(
            "SELECT name, version, salt FROM store_format"
        ).fetchone()
    if row is None or row[0] != FORMAT_NAME:
        msg = (
            f"Setting fingerprint_store_path {str(path)!r} is a SQLite database of "
            f"another program (tables: {', '.join(sorted(tables))}), not a "
            "fingerprint store; it was left unchanged. Point fingerprint_store_path "
            "at a new file."
        )
        raise FingerprintStoreError(msg)
    if row[1] != FORMAT_VERSION:
        msg = (
            f"Fingerprint store {str(path)!r} has format version {row[1]}, and this "
            f"target reads version {FORMAT_VERSION}. Upgrade the target, or point "
            "fingerprint_store_path at a new file."
        )
        raise FingerprintStoreError(msg)
    return bytes(row[2])


def _workspace_digest(salt: bytes, api_url: str, api_token: str) -> bytes:
    message = f"{api_url}\n{api_token}".encode()
    return hmac.new(salt, message, hashlib.sha256).digest()


def _workspace_id(connection: sqlite3.Connection, digest: bytes) -> tuple[int, bool]:
    """Return the id of the workspace with `digest` and whether it existed."""
    row = connection.execute(
        "SELECT id FROM workspaces WHERE digest = ?", (digest,)
    ).fetchone()
    if row is not None:
        return int(row[0]), True
    cursor = connection.execute("INSERT INTO workspaces (digest) VALUES (?)", (digest,))
    return int(cursor.lastrowid or 0), False


def _describe_open_error(path: Path, error: sqlite3.Error) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return (
            f"Fingerprint store {str(path)!r} is in use by another run of the target "
            f"(still locked after {LOCK_WAIT_SECONDS:g} s). One run at a time may use "
            "a store: wait for the other run to end, or give this run its own "
            "fingerprint_store_path."
        )
    if isinstance(error, sqlite3.DatabaseError) and "not a database" in text:
        return (
            f"Setting fingerprint_store_path {str(path)!r} is not a fingerprint store "
            f"({text}); it was left unchanged. Point fingerprint_store_path at a new "
            "file."
        )
    return (
        f"Cannot open the fingerprint store {str(path)!r}: {text}. Check that its "
        "folder exists and that this user may write to the file and the folder, or "
        "change fingerprint_store_path."
    )
