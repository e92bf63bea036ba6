"""The sign-in form shared by the console and the portal: throttled, same answer for any mistake."""

from __future__ import annotations

from collections.abc import Callable

from flask import redirect, render_template, request, session

from web import browser_session
from web.forms import text
from web.runtime import runtime

WRONG = "wrong email or password"


def sign_in_page(*, surface: str, kind: str, authenticate: Callable, success: Callable[[], str]):
    """GET shows the form; POST signs in as ``kind`` and redirects to ``success()``."""
    template = f"{surface}/sign_in.html"
    if request.method == "GET":
        return render_template(template, errors={}, email="")
    email = text("email")
    browser_session.throttle_sign_in(surface=surface, email=email)
    with runtime().unit_of_work() as db:
        person = authenticate(db, email=email, password=request.form.get("password", ""))
    if person is None:
        return render_template(template, errors={"password": WRONG}, email=email), 401
    browser_session.start(kind=kind, person=person)
    return redirect(success())


def signed_in(*, kind: str, model):
    """The person this session signed in as ``kind``, if they exist and kept their password."""
    person_id = session.get(kind)
    if person_id is None:
        return None
    with runtime().unit_of_work() as db:
        person = db.get(model, person_id)
    if person is None or not browser_session.still_valid(kind=kind, person=person):
        return None
    return person
