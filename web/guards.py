"""Request-wide limits on hostile input, applied before any view runs.

Ids in paths are bounded like the columns that hold them, so a 20-digit id is a 404
rather than an integer overflow in the database.  Text that no database can store
(NUL, lone surrogates) and absurd lengths are refused for the path, the query, form
fields and headers, whatever the view.  JSON bodies are bounded in web.validation.
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from keystore.errors import KeywardError, ValidationError
from keystore.validate import MAX_ID

MAX_PATH_CHARS = 2048
MAX_QUERY_CHARS = 8192
MAX_HEADER_CHARS = 8192
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class IdConverter(IntegerConverter):
    """``<int:...>`` in every route: a whole number from 1 to 2**31-1, else a 404."""

    def to_python(self, value: str) -> int:
        # Werkzeug's own bounds would make the router try the next rule, and a route that
        # exists for another method turns that into a 405; no id this large exists: 404.
        if len(value) > 10 or not 1 <= int(value) <= MAX_ID:
            raise NotFound(f"no such object: ids are whole numbers from 1 to {MAX_ID}")
        return int(value)


class TooLong(KeywardError):
    status = 414
    error = "uri_too_long"


class HeaderTooLarge(KeywardError):
    status = 431
    error = "request_header_fields_too_large"


def install(app: Flask) -> None:
    """Bound path ids (before any route is added) and check every request's text."""
    app.url_map.converters["int"] = IdConverter
    app.before_request(check_request)


def check_request() -> None:
    if len(request.path) > MAX_PATH_CHARS:
        raise TooLong(f"the path is longer than {MAX_PATH_CHARS} characters", reason="too_long")
    if len(request.query_string) > MAX_QUERY_CHARS:
        raise TooLong(f"the query is longer than {MAX_QUERY_CHARS} characters", reason="too_long")
    _check_text("path", request.path)
    for name, value in request.args.items(multi=True):
        _check_text(name, name)
        _check_text(name, value)
    for name, value in request.headers.items():
        if len(value) > MAX_HEADER_CHARS:
            raise HeaderTooLarge(
                f"header {name} is longer than {MAX_HEADER_CHARS} characters",
                reason="too_long",
                field=name,
            )
        _check_text(name, value)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in request.form.items(multi=True):
            _check_text(name, name)
            _check_text(name, value)


def _check_text(field: str, value: str) -> None:
    if _UNSTORABLE.search(value):
        raise ValidationError(
            "text must not contain NUL characters or lone surrogates",
            field=_printable(field),
            reason="bad_text",
        )


def _printable(field: str) -> str:
    return _UNSTORABLE.sub("\ufffd", field)[:100]
