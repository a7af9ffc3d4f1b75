"""The garbage-collection setting of the record loops."""

from __future__ import annotations

import gc

import pytest

from planhat_api.collection import YOUNG_GENERATION_THRESHOLD, fewer_collections


def test_threshold_raised_then_restored():
    before = gc.get_threshold()

    with fewer_collections():
        inside = gc.get_threshold()

    assert inside == (YOUNG_GENERATION_THRESHOLD, before[1], before[2])
    assert gc.get_threshold() == before


def test_threshold_restored_after_error():
    before = gc.get_threshold()

    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("stop")

    assert gc.get_threshold() == before


def test_higher_threshold_kept(monkeypatch):
    before = gc.get_threshold()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD * 2, before[1], before[2])
    try:
        with fewer_collections():
            assert gc.get_threshold()[0] == YOUNG_GENERATION_THRESHOLD * 2
    finally:
        gc.set_threshold(*before)
