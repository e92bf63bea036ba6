"""Keyset pages on both databases: mixed directions, a boolean sort key, in-memory reports."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from keystore.errors import ValidationError
from keystore.models import Client, ScanRun, WatchedRepository
from keystore.paging import (
    PageRequest,
    SortKey,
    decode_cursor,
    encode_cursor,
    fetch_page,
    slice_page,
)
from keystore.services import clients, repositories
from tests.worlds import ACTOR


def _walk(fetch, limit: int) -> list:
    seen, cursor = [], None
    while True:
        page = fetch(PageRequest(limit=limit, cursor=cursor))
        seen += list(page)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("limit", [1, 2, 3, 50])
def test_a_boolean_then_descending_order_pages_like_the_whole(session, limit):
    """The incidents' order (open first, then newest): a flag ascending, the id descending."""
    for i in range(7):
        client = clients.create_client(
            session, actor=ACTOR, name=f"c{i}", role=None, environments=[]
        )
        client.enabled = i % 3 != 0
    session.flush()
    order = (SortKey(Client.enabled), SortKey(Client.id, descending=True))
    whole = list(fetch_page(session, select(Client), order, None))
    assert [c.enabled for c in whole] == sorted(c.enabled for c in whole)
    walked = _walk(lambda page: fetch_page(session, select(Client), order, page), limit)
    assert [c.id for c in walked] == [c.id for c in whole]


def test_runs_page_newest_first(session):
    repo = WatchedRepository(url="https://github.com/acme/app.git")
    session.add(repo)
    session.flush()
    for _ in range(5):
        session.add(ScanRun(repository_id=repo.id, trigger="manual"))
    session.flush()
    walked = _walk(lambda page: repositories.list_runs(session, repo_id=repo.id, page=page), 2)
    ids = [run.id for run in walked]
    assert ids == sorted(ids, reverse=True)
    assert len(ids) == 5


def test_a_report_pages_in_memory_by_its_key():
    rows = [{"b": b, "o": o} for b in ("2026-01-01", "2026-01-02") for o in ("allowed", "revoked")]
    key = lambda row: (row["b"], row["o"])  # noqa: E731
    walked = _walk(lambda page: slice_page(rows, key, (str, str), page), 3)
    assert walked == rows


def test_cursors_round_trip_and_refuse_other_shapes():
    cursor = encode_cursor(["acme", 7])
    assert "=" not in cursor
    assert decode_cursor(cursor, (str, int)) == ["acme", 7]
    for kinds in ((int, int), (str,), (str, bool), (str, int, int)):
        with pytest.raises(ValidationError) as refused:
            decode_cursor(cursor, kinds)
        assert refused.value.field == "cursor"
    assert decode_cursor(encode_cursor([False, 3]), (bool, int)) == [False, 3]
    with pytest.raises(ValidationError):
        decode_cursor(encode_cursor([1, 3]), (bool, int))  # 1 is no boolean
