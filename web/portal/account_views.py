"""Portal accounts: accept an invitation (set a password), sign in, sign out."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.errors import ValidationError
from keystore.services import portal as portal_service
from web import browser_session
from web.forms import FormErrors, run_form
from web.portal import portal
from web.runtime import runtime
from web.sign_in import sign_in_page
from web.token_page import no_store


@portal.route("/accept", methods=["GET", "POST"])
def accept():
    token = request.values.get("invitation", "")
    settings = runtime().settings
    errors = FormErrors()
    if request.method == "POST":
        user, errors = run_form(lambda s: _accept(s, token=token), fields=("password",))
        if not errors:
            with runtime().unit_of_work() as session:
                browser_session.start(session, kind="portal_user", person=user)
            return redirect(url_for("portal.home"))
    with runtime().unit_of_work() as session:
        invitation = portal_service.open_invitation(session, settings, token=token)
        page = render_template(
            "portal/accept.html", email=invitation.email, token=token, errors=errors
        )
    return no_store((page, errors.status))


@portal.route("/login", methods=["GET", "POST"])
def sign_in():
    return sign_in_page(
        surface="portal",
        kind="portal_user",
        authenticate=portal_service.authenticate,
        success=lambda: _safe_next(request.args.get("next")),
    )


@portal.post("/logout")
def sign_out():
    browser_session.end()
    return redirect(url_for("portal.sign_in"))


def _safe_next(target: str | None) -> str:
    # Only paths inside the portal: never an open redirect to another site.
    if target and target.startswith("/portal/") and "//" not in target and "\\" not in target:
        return target
    return url_for("portal.home")


def _accept(session, *, token: str):
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        raise ValidationError("the two passwords differ", field="password")
    settings = runtime().settings
    return portal_service.accept_invitation(session, settings, token=token, password=password)
