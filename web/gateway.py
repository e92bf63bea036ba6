"""Verification for the operator's gateway: ``POST /v1/verify`` and nginx-style ``GET /v1/auth``."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from keystore.decision import Request
from keystore.errors import ValidationError
from keystore.services.catalogue import match_endpoint
from web.access import Outcome, check
from web.addresses import client_address
from web.auth import bearer_credential
from web.exposure import Unauthenticated, gateway_needs_token, secret_matches
from web.inputs import text
from web.openapi import operation
from web.payload import json_object
from web.runtime import runtime

gateway = Blueprint("gateway", __name__, url_prefix="/v1")


@gateway.before_request
def _gateway_token():
    """Only gateways that know KEYWARD_GATEWAY_TOKEN may ask (in production, always)."""
    settings = runtime().settings
    if not gateway_needs_token(settings):
        return
    given = request.headers.get("X-Keyward-Gateway-Token")
    # No token configured where one is needed: closed, never open by accident.
    if settings.gateway_token is None or not secret_matches(given, settings.gateway_token):
        raise Unauthenticated(
            "send the gateway token in X-Keyward-Gateway-Token", reason="gateway_unauthenticated"
        )


@gateway.post("/verify")
@operation(
    "Decide on a token for one request of the operator's API",
    body="VerifyInput",
    responses={
        200: "Verdict",
        400: "Error",
        401: "Error",
        415: "Error",
        422: "Error",
        503: "Error",
    },
    tag="gateway",
)
def verify():
    data = json_object()
    credential = data["token"]
    verdict = Request(
        endpoint=data["endpoint"],
        environment=data.get("environment"),
        project=data.get("project"),
        address=data.get("address"),
    )
    outcome = check(runtime(), surface="verify", credential=credential, request=verdict)
    g.outcome = outcome
    return jsonify(_verdict(outcome))


# X-Keyward-Endpoint names the endpoint; without it, X-Original-URI (and -Method) are matched
# against the catalogue's paths.
AUTH_HEADERS = {
    "X-Keyward-Endpoint": {"required": True, "schema": {**text(200), "minLength": 1}},
    "X-Original-URI": {"required": False, "schema": text(2048)},
    "X-Original-Method": {"required": False, "schema": text(16)},
    "X-Keyward-Environment": {"required": False, "schema": text(100)},
    "X-Keyward-Project": {"required": False, "schema": text(100)},
}


@gateway.get("/auth")
@operation(
    "nginx auth_request: 200 allowed, 401/403/429 denied; X-Keyward-Client-Id on 200",
    responses={200: None, 401: None, 403: None, 429: None, 422: "Error", 503: "Error"},
    headers=AUTH_HEADERS,
    tag="gateway",
)
def auth():
    rt = runtime()
    endpoint = request.headers.get("X-Keyward-Endpoint") or _endpoint_from_original_request(rt)
    outcome = check(
        rt,
        surface="auth",
        credential=bearer_credential(),
        request=Request(
            endpoint=endpoint or "",
            environment=request.headers.get("X-Keyward-Environment"),
            project=request.headers.get("X-Keyward-Project"),
            address=client_address(rt.settings),
        ),
    )
    g.outcome = outcome
    response = Response(status=outcome.status)
    response.headers["X-Keyward-Reason"] = outcome.reason
    if outcome.allowed:
        response.headers["X-Keyward-Client-Id"] = str(outcome.decision.client_id)
        response.headers["X-Keyward-Key-Id"] = str(outcome.decision.key_id)
    return response


def _endpoint_from_original_request(rt) -> str | None:
    uri = request.headers.get("X-Original-URI")
    if not uri:
        raise ValidationError(
            "send X-Keyward-Endpoint, or X-Original-URI (and X-Original-Method)",
            field="X-Original-URI",
        )
    method = request.headers.get("X-Original-Method", "GET")
    with rt.read_sessions() as session:
        return match_endpoint(session, method=method, uri=uri, cache=rt.decision_cache)


def _verdict(outcome: Outcome) -> dict:
    # A stranger's credential names no client, key, hint or environment in the answer.
    decision, limit = outcome.decision.disclosed(), outcome.limit
    return {
        "allowed": outcome.allowed,
        "reason": outcome.reason,
        "credential": decision.credential,
        "client_id": decision.client_id,
        "key_id": decision.key_id,
        "key_hint": decision.key_hint,
        "environment": decision.environment,
        "rate_limit": None
        if limit is None
        else {
            "limit": limit.limit,
            "remaining": limit.remaining,
            "reset_seconds": limit.reset_seconds,
            "retry_after": limit.retry_after,
            "policy": limit.policy,
        },
    }
