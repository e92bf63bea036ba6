"""Prometheus metrics.  Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` so workers add up."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

DECISIONS = Counter(
    "keyward_decisions_total",
    "Access decisions by surface (verify, auth, admin) and outcome reason",
    ["surface", "reason"],
)
DECISION_SECONDS = Histogram(
    "keyward_decision_seconds",
    "Time to decide (decision, limits and usage buffering)",
    ["surface"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
RATE_LIMIT_HITS = Counter(
    "keyward_rate_limit_hits_total", "Requests refused by a rate limit or quota", ["kind"]
)
USAGE_LOST = Counter(
    "keyward_usage_records_lost_total", "Usage records dropped because Redis was unavailable"
)
HTTP_SECONDS = Histogram(
    "keyward_http_request_seconds", "HTTP request latency", ["method", "status"]
)


def exposition() -> tuple[bytes, str]:
    """The metrics text; aggregated over worker processes when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
