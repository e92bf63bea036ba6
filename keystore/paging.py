"""Keyset pagination: one convention for every list, in SQL or over a sorted list.

A page is asked for with a limit and an opaque cursor.  The cursor is the base64url (unpadded)
JSON array of the last row's sort key, so the next page starts right after it whatever was
added or deleted meanwhile (no offsets: nothing is skipped or shown twice).  Every sort ends on
a unique column, so the order is total and stable.  A cursor is client input: it is checked
against the sort key's types and bounds before it reaches a query, and anything else is a
:class:`ValidationError` naming ``cursor``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, and_, literal, or_
from sqlalchemy.orm import Session

from keystore.errors import ValidationError
from keystore.validate import MAX_ID

DEFAULT_LIMIT, MAX_LIMIT = 50, 500
MAX_CURSOR_CHARS = 1024  # a name of 200 characters, encoded, fits many times over
_MAX_TEXT = 300
_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class SortKey:
    """One column (or expression) of a list's order."""

    column: object
    descending: bool = False


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


class Page(list):
    """The rows of one page (a plain list to callers that need no more) and the next cursor."""

    def __init__(self, rows=(), next_cursor: str | None = None) -> None:
        super().__init__(rows)
        self.next_cursor = next_cursor


def encode_cursor(values: Sequence) -> str:
    raw = json.dumps(list(values), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kinds: Sequence[type]) -> list:
    """The sort key a cursor carries, each value of the kind the sort expects."""
    values = _parse(cursor)
    if not isinstance(values, list) or len(values) != len(kinds):
        raise _bad_cursor()
    if not all(_fits(value, kind) for value, kind in zip(values, kinds, strict=True)):
        raise _bad_cursor()
    return values


def fetch_page(
    session: Session, query: Select, order: Sequence[SortKey], page: PageRequest | None
) -> Page:
    """Run ``query`` (one entity) in ``order``; with ``page``, only the page after its cursor."""
    query = query.order_by(*(k.column.desc() if k.descending else k.column for k in order))
    if page is None:
        return Page(session.scalars(query))
    if page.cursor is not None:
        kinds = [key.column.type.python_type for key in order]
        query = query.where(_after(order, decode_cursor(page.cursor, kinds)))
    query = query.add_columns(*(key.column for key in order)).limit(page.limit + 1)
    rows = session.execute(query).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = encode_cursor(rows[-1][1:]) if more else None
    return Page((row[0] for row in rows), next_cursor)


def slice_page(rows: list, key: Callable, kinds: Sequence[type], page: PageRequest | None) -> Page:
    """The same convention over rows already sorted by ``key`` (a tuple), e.g. a report."""
    if page is None:
        return Page(rows)
    if page.cursor is not None:
        after = tuple(decode_cursor(page.cursor, kinds))
        rows = [row for row in rows if key(row) > after]
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    return Page(rows, encode_cursor(key(rows[-1])) if more else None)


def _after(order: Sequence[SortKey], values: list):
    """Rows strictly after ``values`` in ``order``: (a > x) or (a = x and b > y) or ..."""
    alternatives = []
    for i, key in enumerate(order):
        # A bound literal: SQLAlchemy refuses ``column > True`` written as a Python constant.
        column, value = key.column, literal(values[i], type_=key.column.type)
        beyond = column < value if key.descending else column > value
        equal = [o.column == v for o, v in zip(order[:i], values[:i], strict=True)]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)


def _parse(cursor: str):
    # The alphabet first: a lenient decoder would skip stray characters and take the rest.
    if len(cursor) > MAX_CURSOR_CHARS or not _ALPHABET.fullmatch(cursor):
        raise _bad_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise _bad_cursor() from None


def _fits(value, kind: type) -> bool:
    if kind is bool or isinstance(value, bool):
        return kind is bool and isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and 0 <= value <= MAX_ID
    if kind is str:
        return isinstance(value, str) and len(value) <= _MAX_TEXT and _storable(value)
    return False


def _storable(text: str) -> bool:
    """No NUL (PostgreSQL refuses it) and no lone surrogate (no encoder takes one)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _bad_cursor() -> ValidationError:
    return ValidationError(
        "cursor is not one this list gave out; start again without it",
        field="cursor",
        reason="bad_cursor",
    )
