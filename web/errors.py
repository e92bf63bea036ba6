"""Every error under the API is JSON: ``{"error", "reason", "message"}`` (+ ``field``)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from keystore.errors import KeywardError

log = logging.getLogger("keyward.web")


def error_response(status: int, error: str, reason: str, message: str, field: str | None = None):
    body = {"error": error, "reason": reason, "message": message}
    if field:
        body["field"] = field
    return jsonify(body), status


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
        # The message stays generic: exception text may contain input we must not echo.
        log.exception("unhandled error")
        return error_response(500, "internal", "internal", "internal error; see the server log")
