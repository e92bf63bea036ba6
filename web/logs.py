"""Structured logs with a request id, and a last line of defence against tokens in logs."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, request

from keystore.tokens import candidate_regex
from web.metrics import HTTP_SECONDS

_REQUEST_ID_RE = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")
# Anything token-shaped (any prefix, checksum or not) and anything JWT-shaped.
_SECRET_RES = (
    re.compile(candidate_regex()),
    re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"),
)


def scrub(text: str) -> str:
    for pattern in _SECRET_RES:
        text = pattern.sub("[REDACTED]", text)
    return text


def _scrubbing_factory(original):
    def make_record(*args, **kwargs):
        record = original(*args, **kwargs)
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    make_record.keyward_scrubs = True
    return make_record


def install_scrubbing() -> None:
    """Redact token-shaped text from every log record of the process, whichever library logs it.

    Done at record creation, so no handler (ours, gunicorn's, a test's) ever sees the original.
    """
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "keyward_scrubs", False):
        logging.setLogRecordFactory(_scrubbing_factory(factory))


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
            entry["exception"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str, fmt: str) -> None:
    install_scrubbing()
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
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
                    "path": request.path,
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
