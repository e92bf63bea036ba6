"""Leak-response metrics.  Web and workers share them through ``PROMETHEUS_MULTIPROC_DIR``."""

from __future__ import annotations

from prometheus_client import Counter, Histogram
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keystore.models import INCIDENT_STATES, Incident

LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)

ALERTS = Counter(
    "keyward_alerts_total",
    "Partner alert requests by origin and outcome (verified, or the rejection reason)",
    ["origin", "outcome"],
)
REPORTS = Counter(
    "keyward_reported_tokens_total", "Reported tokens by origin and label", ["origin", "label"]
)
SKIPPED_RECORDS = Counter(
    "keyward_alert_records_skipped_total",
    "Records of verified alerts skipped as invalid, by origin and reason",
    ["origin", "reason"],
)
REFUSED = Counter(
    "keyward_tokens_refused_at_intake_total",
    "Leaked tokens stopped in the transaction that stored their report, by origin",
    ["origin"],
)
RECEIPT_TO_ACTION = Histogram(
    "keyward_leak_receipt_to_action_seconds",
    "From first report to revocation/regeneration",
    buckets=LATENCY_BUCKETS,
)
RECEIPT_TO_NOTIFIED = Histogram(
    "keyward_leak_receipt_to_notified_seconds",
    "From first report to the last email sent",
    buckets=LATENCY_BUCKETS,
)
TASK_RETRIES = Counter(
    "keyward_task_retries_total", "Task retries by task and cause", ["task", "cause"]
)
ENQUEUE_FAILURES = Counter(
    "keyward_enqueue_failures_total", "Incidents that could not be enqueued (the sweeper will)"
)


def incident_states(session: Session) -> dict[str, int]:
    """Incidents by state, read from the database at scrape time (true across processes)."""
    counts = dict(
        session.execute(select(Incident.state, func.count()).group_by(Incident.state)).all()
    )
    return {state: counts.get(state, 0) for state in INCIDENT_STATES}
