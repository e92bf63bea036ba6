"""Every error under the API is JSON: ``{"error", "reason", "message"}`` (+ ``field``)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DBAPIError, DisconnectionError, TimeoutError
from werkzeug.exceptions import HTTPException

from keystore.errors import KeywardError

log = logging.getLogger("keyward.web")


# How long a client should wait before trying again after an outage of ours.
RETRY_AFTER_SECONDS = 5


def error_response(status: int, error: str, reason: str, message: str, field: str | None = None):
    body = {"error": error, "reason": reason, "message": message}
    if field:
        body["field"] = field
    response = jsonify(body), status
    if status == 503:
        response[0].headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_unavailable(exc: Exception) -> bool:
    """An error that means "the database could not be reached", not "this statement is wrong"."""
    if isinstance(exc, DisconnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or type(exc.orig).__name__ in _UNREACHABLE
    )


# DBAPI errors of psycopg and sqlite3 that say the server (or file) is out of reach.
_UNREACHABLE = frozenset({"OperationalError", "InterfaceError", "ConnectionTimeout"})


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(KeywardError)
    def _keyward(exc: KeywardError):
        return error_response(exc.status, exc.error, exc.reason, exc.message, exc.field)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        name = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(exc.code or 500, name, name, exc.description or exc.name)
        for header in ("Allow", "Retry-After"):
            if exc.get_response().headers.get(header):
                response[0].headers[header] = exc.get_response().headers[header]
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if database_unavailable(exc):
            log.warning("database unavailable: %s", type(exc).__name__)
            return error_response(
                503, "unavailable", "database_unavailable", "the database is not reachable; retry"
            )
        # The message stays generic: exception text may contain input we must not echo.
        log.exception("unhandled error")
        return error_response(500, "internal", "internal", "internal error; see the server log")
