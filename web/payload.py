"""Reading request input.  Every problem becomes a 4xx with a reason, before anything changes."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, request

from keystore.errors import KeywardError, ValidationError
from keystore.validate import MAX_ID
from web.validation import BadRequest, parse_json, validate_body

__all__ = ["BadRequest", "json_object", "only", "query_datetime", "query_int"]


class UnsupportedMediaType(KeywardError):
    status = 415
    error = "unsupported_media_type"


def _documented(part: str, name: str | None):
    """The current view's OpenAPI facts: its body schema name, or a query parameter's kind."""
    view = current_app.view_functions.get(request.endpoint)
    meta = getattr(view, "openapi", {})
    return meta.get(part) if name is None else meta.get(part, {}).get(name)


def json_object() -> dict:
    """The body as a JSON object, checked against the schema the view's operation names.

    A clear 400/413/415/422 otherwise, before anything changes.
    """
    if not request.is_json:
        raise UnsupportedMediaType("send Content-Type: application/json", reason="not_json")
    data = parse_json(request.get_data(cache=True))
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object", reason="malformed_json")
    schema = _documented("body", None)
    if schema:
        validate_body(data, schema)
    return data


def only(data: dict, allowed: set[str]) -> dict:
    """Refuse unknown fields: a typo must not be silently ignored."""
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}", field=unknown[0], reason="unknown_field"
        )
    return data


def query_int(name: str, *, default: int | None = None):
    """A whole number within the bounds the view's operation documents (else an id's)."""
    documented = _documented("query", name)
    bounds = documented if isinstance(documented, dict) else {}
    low, high = bounds.get("minimum", 1), bounds.get("maximum", MAX_ID)
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    # isascii: str.isdigit() also accepts digits int() refuses ("²").
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20 or not low <= int(raw) <= high:
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
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-23:59: past the last representable instant
        raise ValidationError(f"{name} is out of range", field=name) from None
