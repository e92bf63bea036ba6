"""Operations: health and metrics."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from rotation.metrics import incident_states
from web.auth import bearer_credential
from web.errors import RETRY_AFTER_SECONDS
from web.exposure import Unauthenticated, secret_matches
from web.metrics import exposition
from web.openapi import operation
from web.runtime import runtime

ops = Blueprint("ops", __name__)
log = logging.getLogger("keyward.web")


@ops.get("/healthz")
@operation("Database and Redis reachable?", responses={200: "Health", 503: "Health"}, tag="ops")
def health():
    rt = runtime()
    report = {
        "database": _probe(lambda: _ping_database(rt)),
        "redis": "not configured" if rt.redis is None else _probe(rt.redis.ping),
    }
    healthy = all(value in ("ok", "not configured") for value in report.values())
    report["status"] = "ok" if healthy else "unavailable"
    if healthy:
        return jsonify(report)
    return jsonify(report), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


@ops.get("/livez")
@operation("The process answers (no dependency checked)", responses={200: "Live"}, tag="ops")
def live():
    return jsonify({"status": "ok"})


@ops.get("/metrics")
def metrics():
    rt = runtime()
    expected = rt.settings.metrics_token
    if expected is not None and not secret_matches(bearer_credential(), expected):
        raise Unauthenticated(
            "send the metrics token as 'Authorization: Bearer <token>'",
            reason="metrics_unauthenticated",
        )

    def read_states():
        with rt.read_sessions() as session:
            return incident_states(session)

    body, content_type = exposition(read_states)
    return Response(body, content_type=content_type)


def _ping_database(rt) -> None:
    # Autocommit: a ping needs no transaction (on SQLite it would queue behind writers).
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("SELECT 1"))


def _probe(check) -> str:
    try:
        check()
    except Exception as exc:  # any failure at all means unavailable
        log.warning("health probe failed: %s", type(exc).__name__)
        return "unavailable"
    return "ok"
