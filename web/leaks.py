"""Leak intake over HTTP: the partner webhooks and public revocation.  A thin door.

Partner alerts: the raw body and headers go to :func:`rotation.alerts.receive_alert`
(verify, read record by record, store and refuse in one committed transaction,
enqueue after the commit); the view answers with its feedback.

Public revocation: the body is checked against ``RevokeRequest``; the submission's
digests are stored (the same work whatever it holds), the answer is 202, and the
matching against our keys happens afterwards (:func:`rotation.intake.receive_public`).
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from keystore.decision import Limits
from keystore.errors import KeywardError
from keystore.ratelimit import LimitScope
from rotation import intake
from rotation.alerts import receive_alert
from rotation.partners import PARTNERS, Partner
from web.addresses import client_address
from web.openapi import operation
from web.payload import json_object
from web.runtime import runtime

leaks = Blueprint("leaks", __name__, url_prefix="/v1")


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
    answer = receive_alert(
        rt.partners,
        rt.sessions,
        rt.settings,
        partner,
        headers=request.headers,
        raw=request.get_data(cache=True),
    )
    if not rt.settings.partner_feedback:
        return "", 204
    return jsonify(answer)


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
    # The RevokeRequest schema bounds the list (1-1000 strings of sane length).
    intake.receive_public(rt.sessions, rt.settings, json_object()["credentials"])
    return jsonify(
        {"message": "Thank you. Valid Keyward tokens among these are being revoked."}
    ), 202
