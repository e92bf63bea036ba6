"""The client portal, under ``/portal``: a client's contacts manage that client's keys only."""

from __future__ import annotations

from flask import Blueprint, g, redirect, render_template, request, session, url_for

from keystore.errors import KeywardError
from keystore.models import PortalUser
from web import browser_session
from web.runtime import runtime

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
    user_id = session.get("portal_user")
    user = None
    if user_id is not None:
        with runtime().unit_of_work() as db:
            user = db.get(PortalUser, user_id)
    if user is None:
        return redirect(url_for("portal.sign_in"))
    g.portal_user_id = user.id
    return None


portal.after_request(browser_session.protect_page)


@portal.errorhandler(KeywardError)
def _error_page(exc: KeywardError):
    return render_template("portal/error.html", error=exc), exc.status


from web.portal import account_views, key_views  # noqa: E402,F401
