"""Server-side sessions for people in a browser (console and portal): cookie, CSRF, sign-in.

The ``keyward_session`` cookie carries only a random id.  Who signed in, and
since when, lives in the database (:mod:`keystore.services.browser_sessions`),
so signing out, a password change or a removed account ends a session at once,
wherever its cookie was copied.  The CSRF token is derived from the same id, so
it is bound to the session and nothing more has to be stored; a visitor who has
not signed in gets an id (for the sign-in form's token) that the database never
sees.  The cookie is HttpOnly, SameSite=Lax, and Secure unless
``KEYWARD_COOKIE_SECURE`` says otherwise (off by default in the embedded mode,
which usually runs on plain http://127.0.0.1).

Flask's ``session`` is this module's :class:`BrowserSession`: ``session["csrf"]``
is the token; ``session.sid`` the cookie's id.
"""

from __future__ import annotations

import hmac
import re

from flask import Flask, request, session
from flask.sessions import SessionInterface, SessionMixin

from keystore.config import Settings
from keystore.errors import KeywardError
from keystore.services import browser_sessions
from web.forms import posted
from web.runtime import runtime

COOKIE_NAME = "keyward_session"
CSRF_FIELD = "csrf_token"
# What browser_sessions.new_session_id makes: anything else in the cookie is ignored.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{43}")


class CsrfRefused(KeywardError):
    status = 400
    error = "csrf"


class BrowserSession(dict, SessionMixin):
    """The request's view of its browser session: the id and the CSRF token bound to it."""

    accessed = False

    def __init__(self, settings: Settings, sid: str | None):
        super().__init__()
        self.settings = settings
        self.from_cookie = sid is not None
        self.cookie_due = sid is None
        self.cookie_max_age: int | None = None
        self.ended = False
        # Made (and the CSRF token derived) only when asked for: API and gateway requests,
        # most of all, never look at their browser session.
        self._sid = sid

    @property
    def sid(self) -> str:
        self._ready()
        return self._sid

    def use(self, sid: str) -> None:
        self._sid = sid
        dict.__setitem__(self, "csrf", browser_sessions.csrf_token(self.settings, sid))

    def _ready(self) -> None:
        if not dict.__contains__(self, "csrf"):
            self.use(self._sid or browser_sessions.new_session_id())

    # Reading the token means a form will carry it: only then does a visitor get a cookie.
    def __getitem__(self, key):
        self.accessed = True
        self._ready()
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.accessed = True
        self._ready()
        return super().get(key, default)


class BrowserSessionInterface(SessionInterface):
    """Flask's hook: read the id from the cookie, set or delete the cookie on the way out."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def open_session(self, app: Flask, request) -> BrowserSession:
        # No database here: most requests (API, gateway) never look at the session.
        raw = request.cookies.get(COOKIE_NAME, "")
        return BrowserSession(self.settings, raw if SESSION_ID.fullmatch(raw) else None)

    def save_session(self, app: Flask, session: BrowserSession, response) -> None:
        if session.accessed:
            response.vary.add("Cookie")
        if session.cookie_due and (session.accessed or session.cookie_max_age):
            response.set_cookie(
                COOKIE_NAME,
                session.sid,
                max_age=session.cookie_max_age,
                httponly=True,
                samesite="Lax",
                secure=bool(self.settings.cookie_secure),
                path="/",
            )
        elif session.ended:
            response.delete_cookie(
                COOKIE_NAME, path="/", secure=bool(self.settings.cookie_secure), samesite="Lax"
            )


def configure(app: Flask, settings: Settings) -> None:
    """Server-side sessions for the app; ``csrf_token()`` for every template."""
    app.session_interface = BrowserSessionInterface(settings)
    app.jinja_env.globals.update(csrf_token=csrf_token, posted=posted)


# Pages only load their own CSS and JS; no framing, no inline script, no Referer leaks
# (the portal's invitation page carries its one-time token in the URL).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Signed-in pages are nobody's to keep: not the browser's back button, not a proxy.
    "Cache-Control": "no-store",
}


def protect_page(response):
    """``after_request`` hook of the console and the portal."""
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csrf_token() -> str:
    """This browser session's CSRF token (a visitor gets a cookie the first time)."""
    return session["csrf"]


def check_csrf() -> None:
    """Refuse a state-changing request whose form does not carry this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    given = request.form.get(CSRF_FIELD, "")
    expected = session["csrf"]
    if not hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode()):
        raise CsrfRefused(
            "the form has expired or did not come from this site; reload the page and try again",
            reason="csrf_refused",
        )


def start(db, *, kind: str, person) -> None:
    """A new session for a person who just signed in: a new id (no fixation), the old one ended."""
    settings = runtime().settings
    browser_sessions.end(db, settings, session_id=session.sid)
    session.use(browser_sessions.start(db, settings, kind=kind, person=person))
    session.cookie_due, session.ended = True, False
    session.cookie_max_age = settings.session_max_seconds


def end() -> None:
    """Sign out: the session's id stops working everywhere, and the browser forgets it."""
    with runtime().unit_of_work() as db:
        browser_sessions.end(db, runtime().settings, session_id=session.sid)
    session.use(browser_sessions.new_session_id())
    session.cookie_due, session.ended, session.cookie_max_age = False, True, None


def person(*, kind: str):
    """Who this browser is signed in as ``kind``, if that session is still alive."""
    if not session.from_cookie:
        return None
    with runtime().unit_of_work() as db:
        return browser_sessions.resolve(db, runtime().settings, kind=kind, session_id=session.sid)
