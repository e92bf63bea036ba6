"""The access log, and the request id every line logged while serving a request carries."""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, g, request

from keystore.redaction import scrub
from keystore.structured_logs import bind, unbind
from web.metrics import HTTP_SECONDS

_REQUEST_ID_RE = re.compile(r"\A[A-Za-z0-9._-]{1,64}\Z")


def install_request_logging(app: Flask) -> None:
    log = logging.getLogger("keyward.access")

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()
        # Every line logged while serving it (the unhandled-error traceback too) names it.
        g.log_context = bind(request_id=g.request_id)

    @app.teardown_request
    def _unbind(_exc):
        token = g.pop("log_context", None)
        if token is not None:
            unbind(token)

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
