"""A partner alert, from the raw body to the partner's feedback: the intake's front door.

verify the signature against the partner's published keys (before the body is read),
read the body record by record, record the valid reports with their incidents and the
refusal of the tokens the policy stops in one committed transaction, enqueue one task
per incident after that commit, and answer with the feedback for the valid records.
The web view only hands over the raw body and the headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session, sessionmaker

from keystore.config import Settings
from keystore.errors import KeywardError
from rotation import intake
from rotation.alert_body import feedback, parse_alert
from rotation.metrics import ALERTS
from rotation.partner_keys import PartnerKeySource, verify_alert
from rotation.partners import Partner


def receive_alert(
    sources: Mapping[str, PartnerKeySource],
    sessions: sessionmaker[Session],
    settings: Settings,
    partner: Partner,
    *,
    headers: Mapping[str, str],
    raw: bytes,
) -> list[dict]:
    """Verify, read and record one alert; returns the feedback for its valid records.

    Raises a :class:`~keystore.errors.KeywardError` (401/503 for the signature, 400/422
    for the body) before anything is stored.
    """
    try:
        verify_alert(sources, partner, headers=headers, payload=raw)
        alert = parse_alert(raw, origin=partner.name)
    except KeywardError as exc:
        ALERTS.labels(partner.name, exc.reason).inc()
        raise
    ALERTS.labels(partner.name, "verified").inc()
    owned = intake.receive(sessions, settings, origin=partner.name, reports=alert.reports)
    return feedback(alert.reports, owned)
