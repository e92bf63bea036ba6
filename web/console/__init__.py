"""The admin console: server-rendered pages for workspace admins, under ``/console``."""

from __future__ import annotations

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from keystore.errors import KeywardError
from keystore.privileges import OPERATOR, Caller
from web import browser_session
from web.console import permissions
from web.sign_in import signed_in

console = Blueprint("console", __name__, url_prefix="/console")


def actor() -> str:
    return f"admin:{g.admin.id}"


def caller() -> Caller:
    """A workspace admin holds everything; the last-admin rule still binds them."""
    return OPERATOR


@console.before_request
def _guard():
    """CSRF on every state change, sign-in on every page but the sign-in page, then the
    person's console role against the route's declared requirement."""
    browser_session.check_csrf()
    view = current_app.view_functions.get(request.endpoint)
    needed = permissions.requirement(view, request.method)
    if needed == permissions.PUBLIC:
        return None
    person = signed_in(kind="admin")
    if person is None:
        return redirect(url_for("console.sign_in", next=request.path))
    g.admin = person
    permissions.check(person.role, needed)
    return None


@console.app_template_global()
def console_may(needed: str) -> bool:
    """For templates: whether the signed-in person's role reaches ``needed`` (buttons)."""
    person = g.get("admin")
    return person is not None and permissions.may(person.role, needed)


console.after_request(browser_session.protect_page)


@console.errorhandler(KeywardError)
def _error_page(exc: KeywardError):
    return render_template("console/error.html", error=exc), exc.status


# The views register themselves on the blueprint.
from web.console import (  # noqa: E402,F401
    audit_views,
    auth_views,
    client_views,
    environment_views,
    incident_views,
    invitation_views,
    key_views,
    people_views,
    role_views,
    sign_in_views,
    usage_views,
    webhook_views,
)
