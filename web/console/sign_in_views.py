"""Console sign-in and sign-out."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.services import admins
from web import browser_session
from web.console import console
from web.forms import text
from web.runtime import runtime


@console.route("/login", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return render_template("console/sign_in.html", errors={}, email="")
    email = text("email")
    browser_session.throttle_sign_in(surface="console", email=email)
    with runtime().unit_of_work() as session:
        admin = admins.authenticate(session, email=email, password=request.form.get("password", ""))
        admin_id = admin.id if admin else None
    if admin_id is None:
        errors = {"password": "wrong email or password"}
        return render_template("console/sign_in.html", errors=errors, email=email), 401
    browser_session.start(kind="admin", person_id=admin_id)
    return redirect(_safe_next(request.args.get("next")))


@console.post("/logout")
def sign_out():
    browser_session.end()
    return redirect(url_for("console.sign_in"))


@console.get("/")
def home():
    return redirect(url_for("console.clients"))


def _safe_next(target: str | None) -> str:
    # Only paths inside the console: never an open redirect to another site.
    if target and target.startswith("/console/") and not target.startswith("//"):
        return target
    return url_for("console.clients")
