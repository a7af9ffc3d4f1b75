"""Garbage-collection settings for the connectors' record loops and page parses."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: Allocations between two young-generation collections in the record
#: loops. Python's default, 700, runs a collection every few records and
#: every few hundred objects of a parsed page: on the benchmark machine that
#: was about a quarter of the tap's CPU time and a sixth of the target's.
#: 50,000 removed most of it; larger values gained nothing measurable.
YOUNG_GENERATION_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Raise the young-generation threshold inside the block, then restore it.

    Reference counting still frees every object that is not in a cycle as
    soon as it is unused, so the raised threshold only lets garbage in
    cycles, which records and parsed pages do not form, wait somewhat longer.
    """
    young, middle, old = gc.get_threshold()
    gc.set_threshold(max(young, YOUNG_GENERATION_THRESHOLD), middle, old)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, old)


@contextmanager
def paused_collection() -> Iterator[None]:
    """Turn the cyclic garbage collector off inside the block, then restore it.

    For parsing one JSON document: a page of 10,000 tickets parses into about
    120,000 objects, and a collection between them cannot free anything,
    because the parser builds no cycles and frees nothing before it returns.
    On the benchmark machine this took a 19 MB page from about 150 ms to
    100 ms even with the threshold of `fewer_collections`.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
