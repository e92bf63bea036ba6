"""Helpers for the HTML forms of the console and the portal."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import request
from sqlalchemy.orm import Session

from keystore.errors import KeywardError
from keystore.services.policies import LIMIT_FIELDS
from web.runtime import runtime

GENERAL = "form"


class FormErrors(dict):
    """Messages by field, and the HTTP status the refusal deserves."""

    def __init__(self, messages=(), *, status: int = 200):
        super().__init__(messages)
        self.status = status


def run_form(work: Callable[[Session], object], *, fields: Iterable[str] = ()):
    """Run ``work(session)`` in one transaction.  Returns ``(result, errors)``.

    On a service error nothing is committed, and the message is keyed by the
    field it names (when the form shows that field), so it lands next to it.
    """
    try:
        with runtime().unit_of_work() as session:
            return work(session), FormErrors()
    except KeywardError as exc:
        field = exc.field if exc.field in set(fields) else GENERAL
        return None, FormErrors({field: exc.message}, status=exc.status)


def text(name: str) -> str:
    return request.form.get(name, "").strip()


def chosen(name: str) -> list[str]:
    """The ticked boxes (or selected options) of a multi-value field."""
    return [value for value in request.form.getlist(name) if value]


def lines(name: str) -> list[str]:
    """One entry per line or comma, for address ranges typed into a text area."""
    raw = request.form.get(name, "").replace(",", "\n")
    return [line.strip() for line in raw.splitlines() if line.strip()]


def optional_int(name: str) -> int | str | None:
    """A whole number, or the raw text so the service can refuse it with its own message."""
    raw = text(name)
    if not raw:
        return None
    # isascii: str.isdigit() also accepts digits int() refuses ("²").
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 20 else raw


def limits() -> dict:
    """A form's rate limit and quotas (blank: none) for the services' ``apply_limits``."""
    return {name: optional_int(name) for name in LIMIT_FIELDS}


def posted(name: str, default=""):
    """For templates: what was just submitted (after a refusal), else the stored value."""
    if request.method == "POST" and name in request.form:
        return request.form.get(name)
    return "" if default is None else default


def expiry(name: str) -> str | None:
    """A ``datetime-local`` value read as UTC (the form says so), as ISO 8601 for the service."""
    raw = text(name)
    if not raw:
        return None
    has_zone = raw.endswith("Z") or "+" in raw[10:] or "-" in raw[10:]
    return raw if has_zone else f"{raw}+00:00"
