"""Console sign-in and sign-out."""

from __future__ import annotations

from flask import redirect, request, url_for

from keystore.services import admins
from web import browser_session
from web.console import console
from web.console.permissions import PUBLIC, needs
from web.sign_in import sign_in_page


@console.route("/login", methods=["GET", "POST"])
@needs(PUBLIC)
def sign_in():
    return sign_in_page(
        surface="console",
        kind="admin",
        authenticate=admins.authenticate,
        success=lambda: _safe_next(request.args.get("next")),
    )


@console.post("/logout")
@needs("viewer")
def sign_out():
    browser_session.end()
    return redirect(url_for("console.sign_in"))


@console.get("/")
@needs("viewer")
def home():
    return redirect(url_for("console.clients"))


def _safe_next(target: str | None) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.clients")
