"""Leak intake over HTTP: GitHub and GitLab partner webhooks, and public revocation.

Order of work, every time: verify the raw body, validate every record, store
every occurrence and its incident in one committed transaction, answer, and
only then enqueue the incidents.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from keystore.decision import Limits
from keystore.errors import KeywardError, ValidationError
from keystore.ratelimit import LimitScope
from keystore.services.incidents import Report, record_reports
from keystore.tokens import github_token_hash
from rotation import dispatch
from rotation.metrics import ALERTS, REPORTS
from web.addresses import client_address
from web.openapi import operation
from web.payload import json_object, only
from web.runtime import runtime
from web.validation import parse_json

leaks = Blueprint("leaks", __name__, url_prefix="/v1")
PARTNER_HEADERS = {"github": "Github-Public-Key", "gitlab": "Gitlab-Public-Key"}
MAX_PUBLIC_CREDENTIALS = 1000


class TooManyRequests(KeywardError):
    status = 429
    error = "too_many_requests"


ALERT_RESPONSES = {
    200: "PartnerFeedback",
    204: None,
    400: "Error",
    401: "Error",
    413: "Error",
    422: "Error",
    503: "Error",
}


def _alert_route(partner: str, summary: str) -> None:
    """One route per partner: ``POST /v1/secret-scanning/<partner>``."""

    def view():
        return _partner_alert(partner)

    view.__name__ = f"{partner}_alert"
    documented = operation(summary, body="PartnerAlert", responses=ALERT_RESPONSES, tag="leaks")
    leaks.post(f"/secret-scanning/{partner}")(documented(view))


_alert_route("github", "GitHub secret-scanning partner alert (signed JSON batch)")
_alert_route("gitlab", "GitLab secret-detection partner alert (signed JSON batch)")


def _partner_alert(partner: str):
    rt = runtime()
    request.max_content_length = rt.settings.webhook_max_bytes
    raw = request.get_data(cache=True)
    prefix = PARTNER_HEADERS[partner]
    try:
        rt.partners[partner].verify(
            raw,
            request.headers.get(f"{prefix}-Identifier"),
            request.headers.get(f"{prefix}-Signature"),
        )
        reports = parse_alert(raw)
    except KeywardError as exc:
        ALERTS.labels(partner, exc.reason).inc()
        raise
    ALERTS.labels(partner, "verified").inc()
    owned = _intake(rt, partner, reports)
    if not rt.settings.partner_feedback:
        return "", 204
    return jsonify(
        [
            {
                "token_hash": github_token_hash(r.token),
                "token_type": r.token_type,
                "label": "true_positive" if mine else "false_positive",
            }
            for r, mine in zip(reports, owned, strict=True)
        ]
    )


def parse_alert(raw: bytes) -> list[Report]:
    """Validate the whole batch before anything is stored: one bad record rejects it all."""
    records = parse_json(raw)  # bounded depth, no NUL or lone surrogate
    if not isinstance(records, list) or not records:
        raise ValidationError(
            "the body must be a non-empty JSON array of records", reason="malformed_alert"
        )
    return [_record(index, record) for index, record in enumerate(records)]


def _record(index: int, record) -> Report:
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("token"), str)
        or not record["token"]
    ):
        raise ValidationError(
            f"record {index} needs a non-empty string 'token'",
            reason="malformed_alert",
            field=f"[{index}].token",
        )
    fields = {}
    for name in ("type", "url", "source"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise ValidationError(
                f"record {index}: {name} must be a string",
                reason="malformed_alert",
                field=f"[{index}].{name}",
            )
        fields[name] = value or ""
    # Sources are compared case-insensitively and unknown ones are kept as sent.
    return Report(
        token=record["token"],
        token_type=fields["type"],
        url=fields["url"],
        source=fields["source"].lower(),
    )


def _intake(rt, origin: str, reports: list[Report], *, keep_unknown: bool = True) -> list[bool]:
    with rt.unit_of_work() as session:
        intake = record_reports(
            session, rt.settings, origin=origin, reports=reports, keep_unknown=keep_unknown
        )
    for incident_id in intake.incident_ids:
        dispatch.enqueue_incident(incident_id)
    for mine in intake.owned:
        REPORTS.labels(origin, "true_positive" if mine else "false_positive").inc()
    return intake.owned


@leaks.post("/credentials/revoke")
@operation(
    "Report leaked Keyward tokens (anyone; always 202; reveals nothing)",
    body="RevokeRequest",
    responses={
        202: "Accepted",
        400: "Error",
        413: "Error",
        415: "Error",
        422: "Error",
        429: "Error",
    },
    tag="leaks",
)
def public_revoke():
    rt = runtime()
    address = client_address(rt.settings) or "unknown"
    limit = rt.limiter.hit(
        [
            LimitScope(
                name=f"revoke-ip:{address}",
                limits=Limits(
                    rate_limit=rt.settings.public_revoke_per_hour, rate_window_seconds=3600
                ),
            )
        ]
    )
    if not limit.allowed:
        raise TooManyRequests(
            "too many revocation requests from this address; retry later", reason="rate_limited"
        )
    credentials = _credentials(json_object())
    _intake(
        rt,
        "public",
        [Report(token=c, source="public_revocation") for c in credentials],
        keep_unknown=False,
    )
    return jsonify(
        {"message": "Thank you. Valid Keyward tokens among these are being revoked."}
    ), 202


def _credentials(data: dict) -> list[str]:
    credentials = only(data, {"credentials"}).get("credentials")
    if not isinstance(credentials, list) or not all(isinstance(c, str) for c in credentials):
        raise ValidationError("credentials must be a list of strings", field="credentials")
    if not 1 <= len(credentials) <= MAX_PUBLIC_CREDENTIALS:
        raise ValidationError(
            f"send from 1 to {MAX_PUBLIC_CREDENTIALS} credentials", field="credentials"
        )
    return list(dict.fromkeys(credentials))
