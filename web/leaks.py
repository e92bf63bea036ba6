"""Leak intake over HTTP: the partner webhooks and public revocation.  A thin door.

Partner alerts: verify the raw body (:mod:`rotation.partner_keys`), read it
record by record (:mod:`rotation.alert_body`), store every valid report, its
incident and the refusal of its token in one committed transaction
(:mod:`rotation.intake`), answer, and only then enqueue the incidents.

Public revocation: check the shape, store the submission's digests (the same
work whatever it holds), answer 202, and match it against our keys afterwards.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from keystore.decision import Limits
from keystore.errors import KeywardError, ValidationError
from keystore.ratelimit import LimitScope
from rotation import intake
from rotation.alert_body import MAX_TOKEN_CHARS, feedback, parse_alert
from rotation.metrics import ALERTS
from rotation.partner_keys import verify_alert
from rotation.partners import PARTNERS, Partner
from web.addresses import client_address
from web.openapi import operation
from web.payload import json_object, only
from web.runtime import runtime

leaks = Blueprint("leaks", __name__, url_prefix="/v1")
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


def _alert_route(partner: Partner) -> None:
    """One route per partner: ``POST /v1/secret-scanning/<partner>``."""

    def view():
        return _partner_alert(partner)

    view.__name__ = f"{partner.name}_alert"
    documented = operation(
        partner.title, body="PartnerAlert", responses=ALERT_RESPONSES, tag="leaks"
    )
    leaks.post(f"/secret-scanning/{partner.name}")(documented(view))


for _partner in PARTNERS:
    _alert_route(_partner)


def _partner_alert(partner: Partner):
    rt = runtime()
    request.max_content_length = rt.settings.webhook_max_bytes
    raw = request.get_data(cache=True)
    try:
        verify_alert(rt.partners, partner, headers=request.headers, payload=raw)
        alert = parse_alert(raw, origin=partner.name)
    except KeywardError as exc:
        ALERTS.labels(partner.name, exc.reason).inc()
        raise
    ALERTS.labels(partner.name, "verified").inc()
    owned = intake.receive(rt.sessions, rt.settings, origin=partner.name, reports=alert.reports)
    if not rt.settings.partner_feedback:
        return "", 204
    return jsonify(feedback(alert.reports, owned))


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
    intake.receive_public(rt.sessions, rt.settings, _credentials(json_object()))
    return jsonify(
        {"message": "Thank you. Valid Keyward tokens among these are being revoked."}
    ), 202


def _credentials(data: dict) -> list[str]:
    """A list of 1-1000 strings of sane length; what they are is looked at after the answer."""
    credentials = only(data, {"credentials"}).get("credentials")
    if not isinstance(credentials, list) or not all(isinstance(c, str) for c in credentials):
        raise ValidationError("credentials must be a list of strings", field="credentials")
    if not 1 <= len(credentials) <= MAX_PUBLIC_CREDENTIALS:
        raise ValidationError(
            f"send from 1 to {MAX_PUBLIC_CREDENTIALS} credentials", field="credentials"
        )
    if any(len(c) > MAX_TOKEN_CHARS for c in credentials):
        raise ValidationError(
            f"a credential is at most {MAX_TOKEN_CHARS} characters", field="credentials"
        )
    return credentials
