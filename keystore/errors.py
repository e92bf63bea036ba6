"""Errors that carry a short ``reason`` code.

The web layer maps them to ``{"error", "reason", "message"}`` with ``status``;
the CLI to a one-line message and a non-zero exit.  Messages never contain a
token: they name keys by id and hint.
"""

from __future__ import annotations


class KeywardError(Exception):
    """Base class: ``reason`` is a stable machine code, ``message`` is for people."""

    status = 400
    error = "bad_request"

    def __init__(self, message: str, *, reason: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.reason = reason or self.error
        self.field = field


class ConfigError(KeywardError):
    error = "configuration"
    status = 500


class ValidationError(KeywardError):
    error = "invalid"
    status = 422


class ForbiddenError(KeywardError):
    """The caller is known but may not do this (e.g. grant more than it holds)."""

    error = "forbidden"
    status = 403


class NotFoundError(KeywardError):
    error = "not_found"
    status = 404


class ConflictError(KeywardError):
    error = "conflict"
    status = 409


class LimitError(KeywardError):
    error = "limit_reached"
    status = 409


class StateError(KeywardError):
    """The object is in a state that forbids the operation (e.g. a revoked key)."""

    error = "invalid_state"
    status = 409


class UnavailableError(KeywardError):
    """A service Keyward depends on (Redis) did not answer; the request may be retried."""

    error = "unavailable"
    status = 503
