"""Structured logs with a request id; every line passes the token scrubber."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

from keystore.redaction import ScrubbingFormatter, install_scrubbing, scrub
from web.metrics import HTTP_SECONDS

_REQUEST_ID_RE = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return scrub(json.dumps(entry, default=str))


def configure_logging(level: str, fmt: str) -> None:
    install_scrubbing()
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else ScrubbingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger("keyward")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def install_request_logging(app: Flask) -> None:
    log = logging.getLogger("keyward.access")

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def _finish(response):
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        HTTP_SECONDS.labels(request.method, str(response.status_code)).observe(elapsed)
        response.headers["X-Request-Id"] = g.get("request_id", "")
        # The path only, never the query string: a token could have been put there.
        log.info(
            "request",
            extra={
                "fields": {
                    "request_id": g.get("request_id"),
                    "method": request.method,
                    "path": scrub(request.path),
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                    **_outcome_fields(g.get("outcome")),
                }
            },
        )
        return response


def _outcome_fields(outcome) -> dict:
    if outcome is None:
        return {}
    decision = outcome.decision
    return {"reason": outcome.reason, "client_id": decision.client_id, "key_id": decision.key_id}
