"""``POST /oauth/token``: the OAuth 2.0 client credentials grant (RFC 6749 §4.4).

The view only reads the form and the Basic credentials, throttles, and hands
over to :mod:`keystore.oauth`; errors follow §5.2 (``error`` and
``error_description``), with Keyward's ``reason`` and ``message`` alongside.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from flask import Blueprint, jsonify, request

from keystore.decision import Limits
from keystore.errors import KeywardError
from keystore.oauth import GRANT_TYPE, OAuthError, client_credentials, parse_key_id
from keystore.ratelimit import LimitScope
from web.addresses import client_address
from web.errors import error_response
from web.openapi import operation
from web.runtime import runtime

oauth = Blueprint("oauth", __name__, url_prefix="/oauth")

# Attempts per minute, counted like sign-ins: per address, and per key id named.
ATTEMPTS_PER_ADDRESS = 60
ATTEMPTS_PER_KEY = 30
WINDOW_SECONDS = 60
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_FIELDS = ("grant_type", "client_id", "client_secret", "scope")


@oauth.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError):
    body = {
        "error": exc.error,
        "error_description": exc.message,
        "reason": exc.reason,
        "message": exc.message,
    }
    headers = dict(NO_STORE)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="keyward", charset="UTF-8"'
    if exc.status == 429:
        headers["Retry-After"] = str(WINDOW_SECONDS)
    return jsonify(body), exc.status, headers


@oauth.errorhandler(KeywardError)
def _request_refused(exc: KeywardError):
    """What the request-wide guards refuse (NUL in a field, an oversized header) is an
    RFC 6749 ``invalid_request`` here too, so OAuth clients can read it."""
    if exc.status >= 500:
        return error_response(exc.status, exc.error, exc.reason, exc.message)
    return _oauth_error(OAuthError("invalid_request", exc.message))


@oauth.post("/token")
@operation(
    "OAuth 2.0 client credentials: client_id = a key's id, client_secret = its token",
    body="OAuthTokenInput",
    responses={200: "OAuthToken", 400: "OAuthError", 401: "OAuthError", 429: "OAuthError"},
    tag="oauth",
    media="application/x-www-form-urlencoded",
)
def token():
    form = _form()
    client_id, client_secret = _client_credentials(form)
    _throttle(client_id)
    if form.get("grant_type") is None:
        raise OAuthError("invalid_request", "grant_type is required")
    if form["grant_type"] != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"only {GRANT_TYPE} is supported")
    rt = runtime()
    with rt.unit_of_work() as session:
        answer = client_credentials(
            session,
            rt.settings,
            client_id=client_id,
            client_secret=client_secret,
            scope=form.get("scope"),
            address=client_address(rt.settings),
        )
    return jsonify(answer.as_response()), 200, NO_STORE


def _form() -> dict[str, str]:
    """The form's known fields; each at most once, and an empty one counts as omitted."""
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "send application/x-www-form-urlencoded")
    fields = {}
    for name in _FIELDS:
        values = request.form.getlist(name)
        if len(values) > 1:
            raise OAuthError("invalid_request", f"{name} must be sent once")
        if values and values[0] != "":
            fields[name] = values[0]
    return fields


def _client_credentials(form: dict[str, str]) -> tuple[str | None, str | None]:
    basic = _basic()
    if basic is not None and ("client_id" in form or "client_secret" in form):
        raise OAuthError("invalid_request", "use one client authentication method, not two")
    client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
    if client_id is None or client_secret is None:
        raise OAuthError("invalid_client", "client authentication is required", status=401)
    return client_id, client_secret


def _basic() -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        raise OAuthError(
            "invalid_client", "the Basic credentials are malformed", status=401
        ) from None
    user, colon, password = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "the Basic credentials are malformed", status=401)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before Basic encoding.
    return unquote(user.replace("+", " ")), unquote(password.replace("+", " "))


def _malformed_basic() -> OAuthError:
    return OAuthError("invalid_client", "the Basic credentials are malformed", status=401)


def _throttle(client_id: str | None) -> None:
    rt = runtime()
    address = client_address(rt.settings) or "unknown"
    key_id = parse_key_id(client_id)
    scopes = [_scope(f"oauth:address:{address}", ATTEMPTS_PER_ADDRESS)]
    if key_id is not None:
        scopes.append(_scope(f"oauth:key:{key_id}", ATTEMPTS_PER_KEY))
    if not rt.limiter.hit(scopes).allowed:
        raise OAuthError("slow_down", "too many attempts; try again in a minute", status=429)


def _scope(name: str, limit: int) -> LimitScope:
    return LimitScope(
        name=name, limits=Limits(rate_limit=limit, rate_window_seconds=WINDOW_SECONDS)
    )
