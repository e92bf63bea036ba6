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
@operation(
    "Readiness: can this instance answer verification correctly?",
    responses={200: "Health", 503: "Health"},
    tag="ops",
)
def health():
    """503 only when verification cannot be answered correctly (the database is out of reach).

    Without Redis, keys without limits are still verified (limited ones are refused, usage
    goes uncounted): the instance is ``degraded``, still worth sending traffic to.  The body
    names states only, never an address, a DSN or a version.
    """
    rt = runtime()
    database = _probe(lambda: _ping_database(rt))
    redis = "not configured" if rt.redis is None else _probe(rt.redis.ping)
    if database != "ok":
        status, verification = "unavailable", "none"
    elif redis == "unavailable":
        status, verification = "degraded", "unlimited keys only"
    else:
        status, verification = "ok", "full"
    report = {"status": status, "verification": verification, "database": database, "redis": redis}
    if status != "unavailable":
        return jsonify(report)
    return jsonify(report), 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


@ops.get("/livez")
@operation(
    "Liveness: the process answers (no dependency checked; restart it only if this fails)",
    responses={200: "Live"},
    tag="ops",
)
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
