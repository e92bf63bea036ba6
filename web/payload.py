"""Reading request input.  Every problem becomes a 4xx with a reason, before anything changes."""

from __future__ import annotations

from datetime import datetime

from flask import request

from keystore.errors import KeywardError, ValidationError


class BadRequest(KeywardError):
    status = 400
    error = "bad_request"


class UnsupportedMediaType(KeywardError):
    status = 415
    error = "unsupported_media_type"


def json_object() -> dict:
    """The body as a JSON object, or a clear 400/415."""
    if not request.is_json:
        raise UnsupportedMediaType("send Content-Type: application/json", reason="not_json")
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # json's scanner recurses; the body size bounds the work before it
        raise BadRequest("the body is nested too deeply", reason="too_deep") from None
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", reason="malformed_json")
    return data


def only(data: dict, allowed: set[str]) -> dict:
    """Refuse unknown fields: a typo must not be silently ignored."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}", field=unknown[0], reason="unknown_field"
        )
    return data


def required(data: dict, field: str, kind: type | tuple = str):
    if field not in data:
        raise ValidationError(f"{field} is required", field=field, reason="missing_field")
    return typed(data, field, kind)


def typed(data: dict, field: str, kind: type | tuple, default=None):
    value = data.get(field)
    if value is None:
        return default
    if (isinstance(value, bool) and kind is int) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise ValidationError(f"{field} must be {names}", field=field)
    return value


def query_int(name: str, *, default: int | None = None, low: int = 1, high: int = 10**12):
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ValidationError(f"{name} must be a whole number from {low} to {high}", field=name)
    return int(raw)


def query_datetime(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name} must be an ISO 8601 date-time", field=name) from None
    if value.tzinfo is None:
        raise ValidationError(f"{name} needs a time zone (e.g. Z)", field=name)
    return value
