"""Prometheus metrics.  Under gunicorn set ``PROMETHEUS_MULTIPROC_DIR`` so workers add up."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

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


class IncidentStates:
    """``keyward_incidents{state}`` read from the database at scrape time: true for the fleet."""

    def __init__(self, read_states) -> None:
        self._read_states = read_states

    def collect(self):
        family = GaugeMetricFamily("keyward_incidents", "Leak incidents by state", labels=["state"])
        for state, count in self._read_states().items():
            family.add_metric([state], count)
        yield family


def exposition(read_incident_states) -> tuple[bytes, str]:
    """The metrics text; aggregated over worker processes when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    database = CollectorRegistry()
    database.register(IncidentStates(read_incident_states))
    return generate_latest(registry) + generate_latest(database), CONTENT_TYPE_LATEST
