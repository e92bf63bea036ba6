"""Verification for the operator's gateway: ``POST /v1/verify`` and nginx-style ``GET /v1/auth``."""

from __future__ import annotations

from flask import Blueprint, Response, g, jsonify, request

from keystore.db import SessionOnDemand
from keystore.decision import Request
from keystore.errors import ValidationError
from keystore.services.catalogue import match_endpoint
from web.access import Outcome, check
from web.addresses import client_address
from web.exposure import Unauthenticated, gateway_needs_token, secret_matches
from web.gateway_request import OriginalRequest, gateway_credential, original_request
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


# X-Keyward-Endpoint names the endpoint; without it, the original request (nginx's
# X-Original-*, Traefik's X-Forwarded-*, or Envoy's path after /v1/auth) is matched against
# the catalogue's paths.
# Described as one alternative (the name) so generated requests are complete; the
# original-request headers are the other, read only without X-Keyward-Endpoint.
METHOD = text(16, "^[A-Za-z]{1,16}$")
OPTIONAL_HEADERS = {
    "X-Keyward-Environment": {"required": False, "schema": text(100)},
    "X-Keyward-Project": {"required": False, "schema": text(100)},
    "X-Keyward-Gateway": {"required": False, "schema": {"enum": ["nginx"]}},
}
AUTH_HEADERS = {
    "X-Keyward-Endpoint": {"required": True, "schema": {**text(200), "minLength": 1}},
    "X-Original-URI": {"required": False, "schema": text(2048)},
    "X-Original-Method": {"required": False, "schema": METHOD},
    "X-Forwarded-Uri": {"required": False, "schema": text(2048)},
    "X-Forwarded-Method": {"required": False, "schema": METHOD},
    **OPTIONAL_HEADERS,
}
# Envoy's path says what the request was; X-Keyward-Endpoint may still name the endpoint.
APPENDED_HEADERS = {
    "X-Keyward-Endpoint": {"required": False, "schema": {**text(200), "minLength": 1}},
    **OPTIONAL_HEADERS,
}
AUTH_RESPONSES = {
    200: None,
    400: "Error",
    401: None,
    403: None,
    429: None,
    422: "Error",
    503: "Error",
}
# Envoy ext_authz sends the original method: every one the operator's API may see.
ENVOY_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# nginx acts on 2xx, 401 and 403 only (any other status of the subrequest becomes a 500):
# for it a 429 travels as 403 with the true status in X-Keyward-Status.
NGINX_STATUSES = frozenset({200, 401, 403})


@gateway.get("/auth")
@operation(
    "Gateway subrequest (nginx auth_request, Traefik ForwardAuth): 200 allowed, "
    "401/403/429 denied; X-Keyward-Client-Id and -Key-Id on 200",
    responses=AUTH_RESPONSES,
    headers=AUTH_HEADERS,
    tag="gateway",
)
def auth():
    return _auth(suffix=None)


@gateway.route("/auth/<path:original>", methods=ENVOY_METHODS, provide_automatic_options=False)
@operation(
    "Envoy ext_authz (HTTP service): the original method and path appended to /v1/auth",
    responses=AUTH_RESPONSES,
    headers=APPENDED_HEADERS,
    tag="gateway",
)
def auth_appended(original: str):
    return _auth(suffix=original)


def _auth(*, suffix: str | None) -> Response:
    rt = runtime()
    nginx = _nginx_caller()
    credential = gateway_credential(rt.settings)
    endpoint = request.headers.get("X-Keyward-Endpoint") or _endpoint_from_original_request(
        rt, original_request(suffix)
    )
    outcome = check(
        rt,
        surface="auth",
        credential=credential,
        request=Request(
            endpoint=endpoint or "",
            environment=request.headers.get("X-Keyward-Environment"),
            project=request.headers.get("X-Keyward-Project"),
            address=client_address(rt.settings),
        ),
    )
    g.outcome = outcome
    status = outcome.status
    response = Response(status=status if not nginx or status in NGINX_STATUSES else 403)
    response.headers["X-Keyward-Status"] = str(status)
    response.headers["X-Keyward-Reason"] = outcome.reason
    if outcome.allowed:
        response.headers["X-Keyward-Client-Id"] = str(outcome.decision.client_id)
        response.headers["X-Keyward-Key-Id"] = str(outcome.decision.key_id)
    return response


def _nginx_caller() -> bool:
    kind = request.headers.get("X-Keyward-Gateway")
    if kind not in (None, "", "nginx"):
        raise ValidationError("X-Keyward-Gateway is 'nginx' or absent", field="X-Keyward-Gateway")
    return kind == "nginx"


def _endpoint_from_original_request(rt, original: OriginalRequest | None) -> str | None:
    if original is None:
        raise ValidationError(
            "send X-Keyward-Endpoint, or the original request: X-Original-URI (and "
            "X-Original-Method), X-Forwarded-Uri (and X-Forwarded-Method), or its path "
            "appended to /v1/auth",
            field="X-Original-URI",
        )
    with SessionOnDemand(rt.read_sessions) as session:
        return match_endpoint(
            session, method=original.method, uri=original.uri, cache=rt.decision_cache
        )


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
