"""The API's list convention: ``?limit=`` and ``?cursor=`` in, a ``Link: rel="next"`` out.

Lists keep their shape (a JSON array, or their object); the next page's address travels in the
``Link`` header (RFC 8288) and, for object bodies, in ``next_cursor`` too.  The cursor is opaque
(keystore.paging makes and checks it); a bad one is a 422 naming ``cursor``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import jsonify, request

from keystore.errors import ValidationError
from keystore.paging import DEFAULT_LIMIT, MAX_CURSOR_CHARS, MAX_LIMIT, Page, PageRequest
from web.inputs import text, whole
from web.payload import query_int

CURSOR = {
    **text(MAX_CURSOR_CHARS, "^[A-Za-z0-9_-]*$"),
    "description": "opaque: the previous page's next cursor (its Link rel=next); empty: page 1",
}
PAGE_QUERY = {"limit": whole(1, MAX_LIMIT), "cursor": CURSOR}
LINK_HEADER = {
    "description": 'the next page: <path?...&cursor=...>; rel="next" (absent on the last page)',
    "schema": {"type": "string"},
}


def page_request(*, default: int = DEFAULT_LIMIT) -> PageRequest:
    """The page this request asks for: ``limit`` 1-500 (default 50) after ``cursor``.

    For the console's pages as much as the API's (where the document states the bounds).
    """
    limit = query_int("limit", default=default)
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be a whole number from 1 to {MAX_LIMIT}", field="limit")
    return PageRequest(limit=limit, cursor=request.args.get("cursor") or None)


def next_link(page: Page) -> dict[str, str]:
    """The ``Link`` header of the next page (the same query, the new cursor), if there is one."""
    if page.next_cursor is None:
        return {}
    args = [(k, v) for k, v in request.args.items(multi=True) if k != "cursor"]
    url = f"{request.path}?{urlencode([*args, ('cursor', page.next_cursor)])}"
    return {"Link": f'<{url}>; rel="next"'}


def page_response(page: Page, serialize):
    """A list endpoint's answer: the page as a JSON array, and its ``Link`` header."""
    return jsonify([serialize(row) for row in page]), 200, next_link(page)
