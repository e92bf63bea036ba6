"""Input checks shared by the services.  Each raises :class:`ValidationError` naming the field."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from keystore.errors import ValidationError

_EMAIL_RE = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_ENDPOINT_NAME_RE = re.compile(r"\A[A-Za-z][A-Za-z0-9_.:/-]{0,119}\Z")
# Ids are 32-bit columns on PostgreSQL: a larger number names nothing.
MAX_ID = 2**31 - 1
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*")


def name(value, *, field: str = "name", max_length: int = 100) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} is required", field=field)
    value = value.strip()
    if len(value) > max_length or any(ord(c) < 32 for c in value):
        raise ValidationError(
            f"{field} must be at most {max_length} printable characters", field=field
        )
    return value


def text(value, *, field: str = "description", max_length: int = 2000) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise ValidationError(
            f"{field} must be text of at most {max_length} characters", field=field
        )
    return value.strip()


def email(value, *, field: str = "contact_email", required: bool = False) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or len(value) > 254 or not _EMAIL_RE.match(value.strip()):
        raise ValidationError(f"{field} must be an email address", field=field)
    return value.strip()


def endpoint_name(value) -> str:
    if not isinstance(value, str) or not _ENDPOINT_NAME_RE.match(value):
        raise ValidationError(
            "endpoint name must start with a letter and use letters, digits and _ . : / -",
            field="name",
        )
    return value


def positive_int(value, *, field: str, maximum: int = 10**9) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationError(f"{field} must be a whole number from 1 to {maximum}", field=field)
    return value


def choice(value, options, *, field: str, optional: bool = False):
    if value is None and optional:
        return None
    if value not in options:
        raise ValidationError(f"{field} must be one of {', '.join(options)}", field=field)
    return value


def future_datetime(value, *, field: str = "expires_at") -> datetime | None:
    """Accept an aware datetime or an ISO 8601 string; it must lie in the future."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{field} must be an ISO 8601 date-time", field=field) from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{field} must be a date-time with a time zone", field=field)
    try:
        if value <= datetime.now(UTC):
            raise ValidationError(f"{field} must lie in the future", field=field)
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-23:59 lies past the last representable instant
        raise ValidationError(f"{field} is out of range", field=field) from None
