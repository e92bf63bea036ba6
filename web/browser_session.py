"""Signed-cookie sessions for people in a browser (console and portal): cookies, CSRF, sign-in.

The session cookie is signed with a key derived from the pepper, so no new
secret has to be configured; it is HttpOnly, SameSite=Lax, and Secure unless
``KEYWARD_COOKIE_SECURE`` says otherwise (off by default in the embedded mode,
which usually runs on plain http://127.0.0.1).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import Flask, current_app, request, session

from keystore.config import Settings
from keystore.decision import Limits
from keystore.errors import KeywardError
from keystore.ratelimit import LimitScope
from web.addresses import client_address
from web.forms import posted
from web.runtime import runtime

SESSION_LIFETIME = timedelta(hours=12)
# Attempts per window, per address and per email: slow enough to stop guessing,
# generous enough for a person who mistypes a few times.
SIGNIN_WINDOW_SECONDS = 300
SIGNIN_PER_EMAIL = 5
SIGNIN_PER_ADDRESS = 20
CSRF_FIELD = "csrf_token"


class CsrfRefused(KeywardError):
    status = 400
    error = "csrf"


class SignInThrottled(KeywardError):
    status = 429
    error = "too_many_requests"


def configure(app: Flask, settings: Settings) -> None:
    """Cookie flags and the derived signing key; ``csrf_token()`` for every template."""
    app.config.update(
        SECRET_KEY=hmac.new(settings.pepper_bytes, b"keyward/session/v1", hashlib.sha256).digest(),
        SESSION_COOKIE_NAME="keyward_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(settings.cookie_secure),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
    )
    app.jinja_env.globals.update(csrf_token=csrf_token, posted=posted)


# Pages only load their own CSS and JS; no framing, no inline script, no Referer leaks
# (the portal's invitation page carries its one-time token in the URL).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def protect_page(response):
    """``after_request`` hook of the console and the portal."""
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a state-changing request whose form does not carry this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.form.get(CSRF_FIELD, "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise CsrfRefused(
            "the form has expired or did not come from this site; reload the page and try again",
            reason="csrf_refused",
        )


def start(*, kind: str, person) -> None:
    """A fresh session for a person who just signed in (no fixation: everything is new)."""
    session.clear()
    session.permanent = True
    session[kind] = person.id
    session[f"{kind}_password"] = password_stamp(person)
    session["csrf"] = secrets.token_urlsafe(32)


def password_stamp(person) -> str:
    """Changes whenever the password does, so a new password ends every older session."""
    key = current_app.config["SECRET_KEY"]
    stored = (person.password_hash or "").encode()
    return hmac.new(key, stored, hashlib.sha256).hexdigest()[:32]


def still_valid(*, kind: str, person) -> bool:
    """Whether this session was started with the person's current password."""
    given = session.get(f"{kind}_password", "")
    return hmac.compare_digest(given.encode(), password_stamp(person).encode())


def end() -> None:
    session.clear()


def throttle_sign_in(*, surface: str, email: str) -> None:
    """Count a sign-in attempt per address and per email; refuse beyond the limit."""
    rt = runtime()
    address = client_address(rt.settings) or "unknown"
    scopes = [
        _scope(f"signin:{surface}:address:{address}", SIGNIN_PER_ADDRESS),
        _scope(f"signin:{surface}:email:{email.strip().lower()}", SIGNIN_PER_EMAIL),
    ]
    result = rt.limiter.hit(scopes)
    if not result.allowed:
        raise SignInThrottled(
            f"too many sign-in attempts; try again in {result.retry_after} seconds",
            reason="signin_throttled",
        )


def _scope(name: str, limit: int) -> LimitScope:
    return LimitScope(
        name=name, limits=Limits(rate_limit=limit, rate_window_seconds=SIGNIN_WINDOW_SECONDS)
    )
