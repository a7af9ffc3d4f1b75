"""The SQLite fingerprint store on its own, without the target."""

from __future__ import annotations

import sqlite3

import orjson
import pytest

from target_planhat_tickets.fingerprints import (
    FingerprintStore,
    FingerprintStoreError,
    fingerprint,
)

URL = "https://api.planhat.com"
TOKEN = "secret-token-of-a-service-account"
KEY_A = ("sourceId", "A")
KEY_B = ("sourceId", "B")
ITEMS = {KEY_A: {"sourceId": "A", "title": "a"}, KEY_B: {"sourceId": "B"}}


def open_store(path, *, api_url=URL, api_token=TOKEN):
    return FingerprintStore.open(path, api_url=api_url, api_token=api_token)


def test_selection_skips_remembered(tmp_path):
    store = open_store(tmp_path / "store.sqlite")
    first = store.select_changed(ITEMS, resend_all=False)
    store.remember({KEY_A: first.fingerprints[KEY_A]})
    second = store.select_changed(dict(ITEMS), resend_all=False)
    store.close()

    assert list(first.items) == [KEY_A, KEY_B]
    assert first.fingerprints[KEY_A] == fingerprint(orjson.dumps(ITEMS[KEY_A]))
    assert list(second.items) == [KEY_B]
    assert second.unchanged == 1


def test_item_bytes_are_body_bytes():
    items = list(ITEMS.values())
    joined = b"[" + b",".join(orjson.dumps(item) for item in items) + b"]"

    assert orjson.dumps(items) == joined


def test_field_order_counts_as_change(tmp_path):
    store = open_store(tmp_path / "store.sqlite")
    store.remember(store.select_changed(ITEMS, resend_all=False).fingerprints)
    reordered = {KEY_A: {"title": "a", "sourceId": "A"}}

    selection = store.select_changed(reordered, resend_all=False)
    store.close()

    assert list(selection.items) == [KEY_A]


def test_resend_all_selects_everything(tmp_path):
    store = open_store(tmp_path / "store.sqlite")
    store.remember(store.select_changed(ITEMS, resend_all=False).fingerprints)

    selection = store.select_changed(ITEMS, resend_all=True)
    store.close()

    assert list(selection.items) == [KEY_A, KEY_B]
    assert selection.unchanged == 0


def test_reopen_keeps_and_forget_removes(tmp_path):
    path = tmp_path / "store.sqlite"
    store = open_store(path)
    store.remember(store.select_changed(ITEMS, resend_all=False).fingerprints)
    store.close()

    reopened = open_store(path)
    known = reopened.known_workspace
    count_before = reopened.count()
    reopened.forget([KEY_A, ("_id", "not-stored")])
    count_after = reopened.count()
    reopened.close()

    assert known is True
    assert count_before == 2
    assert count_after == 1


@pytest.mark.parametrize(
    "other",
    [
        {"api_token": "token-of-another-workspace"},
        {"api_url": "https://api-eu.planhat.com"},
    ],
)
def test_other_workspace_sends_all(tmp_path, other):
    path = tmp_path / "store.sqlite"
    store = open_store(path)
    store.remember(store.select_changed(ITEMS, resend_all=False).fingerprints)
    store.close()

    elsewhere = open_store(path, **other)
    selection = elsewhere.select_changed(ITEMS, resend_all=False)
    elsewhere.close()

    assert elsewhere.known_workspace is False
    assert elsewhere.other_workspaces == 1
    assert list(selection.items) == [KEY_A, KEY_B]


def test_token_not_in_file(tmp_path):
    path = tmp_path / "store.sqlite"
    store = open_store(path)
    store.remember(store.select_changed(ITEMS, resend_all=False).fingerprints)
    store.close()

    files = [path, *tmp_path.glob("store.sqlite-*")]
    contents = b"".join(file.read_bytes() for file in files)

    assert TOKEN.encode() not in contents
    assert len(contents) > 0


def test_second_open_rejected(tmp_path):
    path = tmp_path / "store.sqlite"
    holder = open_store(path)
    try:
        with pytest.raises(FingerprintStoreError, match="is in use by another run"):
            open_store(path)
    finally:
        holder.close()


def test_newer_format_rejected(tmp_path):
    path = tmp_path / "store.sqlite"
    open_store(path).close()
    connection = sqlite3.connect(path)
    connection.execute("UPDATE store_format SET version = 2")
    connection.commit()
    connection.close()

    with pytest.raises(
        FingerprintStoreError,
        match="has format version 2, and this target reads version 1",
    ):
        open_store(path)
