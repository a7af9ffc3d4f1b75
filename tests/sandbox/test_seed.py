"""Properties of seeded data and of the paging helpers behind GET /tickets."""

from __future__ import annotations

import random
import re
import unicodedata
from collections import Counter

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from planhat_sandbox import Workspace
from planhat_sandbox.formats import time_bucket
from planhat_sandbox.query import TicketView, sort_key, take_page

DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
OFFSET_DATE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000")


@pytest.fixture(scope="module")
def tickets():
    return Workspace("seed-test", "unused-token", tickets=5_000, seed=42).tickets()


def test_same_seed_gives_same_data():
    first = Workspace("one", "t1", tickets=300, seed=9)
    second = Workspace("two", "t2", tickets=300, seed=9)

    assert first.tickets() == second.tickets()
    assert first.companies == second.companies


def test_different_seeds_give_different_data():
    first = Workspace("one", "t1", tickets=50, seed=1).tickets()
    second = Workspace("two", "t2", tickets=50, seed=2).tickets()

    assert [ticket["subject"] for ticket in first] != [
        ticket["subject"] for ticket in second
    ]


def test_every_ticket_has_email_and_external_id(tickets):
    assert all(
        isinstance(ticket["email"], str) and "@" in ticket["email"]
        for ticket in tickets
    )
    assert all(
        isinstance(ticket["externalId"], str) and ticket["externalId"]
        for ticket in tickets
    )


def test_external_ids_are_unique(tickets):
    assert len({ticket["externalId"] for ticket in tickets}) == len(tickets)


def test_ids_increase_in_creation_order(tickets):
    ids = [ticket["_id"] for ticket in tickets]

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{24}", ticket_id) for ticket_id in ids)


def test_create_dates_follow_creation_order(tickets):
    dates = [ticket["createDate"] for ticket in tickets]

    assert dates == sorted(dates)


def test_update_date_is_never_before_create_date(tickets):
    assert all(ticket["updateDate"] >= ticket["createDate"] for ticket in tickets)


def test_update_date_tie_runs_exist(tickets):
    counts = Counter(ticket["updateDate"] for ticket in tickets)
    run_sizes = [count for count in counts.values() if count > 1]

    assert len(run_sizes) >= 10
    assert max(run_sizes) >= 100
    assert sum(1 for count in counts.values() if count == 1) > len(tickets) / 2


def test_some_descriptions_are_large(tickets):
    sizes = [len(ticket["snippet"].encode()) for ticket in tickets]
    large = [size for size in sizes if size > 2_000]

    assert 0.01 <= len(large) / len(sizes) <= 0.05
    assert max(sizes) <= 110_000
    assert max(sizes) > 20_000


def test_mean_ticket_size_is_one_to_two_kilobytes(tickets):
    mean = sum(len(orjson.dumps(ticket)) for ticket in tickets) / len(tickets)

    assert 1_000 <= mean <= 2_000


def test_subjects_contain_emoji_and_right_to_left_text(tickets):
    text = "".join(ticket["subject"] for ticket in tickets)
    bidi_classes = {unicodedata.bidirectional(character) for character in text}

    assert any(ord(character) >= 0x1F300 for character in text)
    assert "AL" in bidi_classes
    assert "R" in bidi_classes


def test_custom_values_have_mixed_types(tickets):
    values = [value for ticket in tickets for value in ticket["custom"].values()]

    assert None in values
    assert any(isinstance(value, bool) for value in values)
    assert any(
        isinstance(value, int) and not isinstance(value, bool) for value in values
    )
    assert any(isinstance(value, float) and not value.is_integer() for value in values)
    assert any(
        isinstance(value, str) and OFFSET_DATE.fullmatch(value) for value in values
    )


def test_optional_properties_are_sometimes_missing_or_null(tickets):
    urls = [ticket.get("url", "missing") for ticket in tickets]

    assert "missing" in urls
    assert None in urls
    assert any(isinstance(url, str) and url != "missing" for url in urls)
    assert any("source" not in ticket for ticket in tickets)


def test_dates_use_milliseconds_and_z(tickets):
    for ticket in tickets[:500]:
        assert DATE.fullmatch(ticket["createDate"])
        assert DATE.fullmatch(ticket["updateDate"])


def test_company_names_match_company_ids(tickets):
    workspace = Workspace("names", "t", tickets=100, seed=3)
    names = {company["_id"]: company["name"] for company in workspace.companies}

    assert all(
        names[ticket["companyId"]] == ticket["companyName"]
        for ticket in workspace.tickets()
    )


def test_time_bucket_matches_vendor_example():
    # 2021-06-24T19:38:16.000Z, the createDate of the vendor's example ticket.
    assert time_bucket(1_624_563_496_000) == ["2021", "2021-Q2", "2021-6", "2021-W26"]


def _view(keys):
    tickets = [{"_id": f"{index:024x}", "k": key} for index, key in enumerate(keys)]
    ordered = sorted(tickets, key=lambda ticket: sort_key(ticket["k"]))
    return TicketView(ordered, [sort_key(ticket["k"]) for ticket in ordered])


@given(
    keys=st.lists(st.integers(min_value=0, max_value=5), max_size=60),
    page_size=st.integers(min_value=1, max_value=20),
    seed=st.integers(),
)
def test_pages_keep_sort_order_and_size(keys, page_size, seed):
    view = _view(keys)
    rng = random.Random(seed)

    pages = [
        take_page(view, offset, page_size, rng)
        for offset in range(0, len(keys) + 1, page_size)
    ]
    flat = [ticket for page in pages for ticket in page]

    assert len(flat) == len(keys)
    assert [ticket["k"] for ticket in flat] == sorted(keys)
    assert all(len(page) == page_size for page in pages[:-1] if len(keys) >= page_size)


@given(
    keys=st.lists(st.integers(), max_size=60, unique=True),
    page_size=st.integers(min_value=1, max_value=20),
)
def test_pages_without_ties_cover_each_ticket_once(keys, page_size):
    view = _view(keys)
    rng = random.Random(0)

    flat = [
        ticket
        for offset in range(0, len(keys), page_size)
        for ticket in take_page(view, offset, page_size, rng)
    ]

    assert [ticket["_id"] for ticket in flat] == [
        ticket["_id"] for ticket in view.tickets
    ]
