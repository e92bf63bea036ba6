"""The client portal, under ``/portal``: a client's contacts manage that client's keys only."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, url_for

from keystore.errors import KeywardError
from web import browser_session
from web.sign_in import signed_in
from web.token_page import add_one_time_view

portal = Blueprint("portal", __name__, url_prefix="/portal")
PUBLIC_ENDPOINTS = {"portal.sign_in", "portal.accept"}


def actor() -> str:
    return f"portal:{g.portal_user_id}"


@portal.before_request
def _guard():
    """CSRF on every state change, then sign-in on every page but sign-in and invitations."""
    browser_session.check_csrf()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    person = signed_in(kind="portal_user")
    if person is None:
        # Back to the page asked for after signing in (a leak email links to its incident).
        return redirect(url_for("portal.sign_in", next=request.path))
    g.portal_user_id = person.id
    return None


portal.after_request(browser_session.protect_page)
add_one_time_view(portal, gone_template="portal/token_gone.html")


@portal.errorhandler(KeywardError)
def _error_page(exc: KeywardError):
    return render_template("portal/error.html", error=exc), exc.status


from web.portal import account_views, incident_views, key_views  # noqa: E402,F401
