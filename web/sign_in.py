"""The sign-in form shared by the console and the portal: throttled, same answer for any mistake.

Throttling is :mod:`keystore.services.sign_in_throttle` (per account and address,
with backoff, in the database, so it works without Redis).  An unknown account,
a wrong password and an unusable input (NUL bytes, lone surrogates, absurd
lengths) all cost one password hash and get the same answer.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import redirect, render_template, request

from keystore import passwords
from keystore.services import admins, sign_in_throttle
from web import browser_session
from web.addresses import client_address
from web.landing import first_steps
from web.runtime import runtime

WRONG = "wrong email or password"
MAX_EMAIL_LENGTH = 254


def sign_in_page(*, surface: str, kind: str, authenticate: Callable, success: Callable[[], str]):
    """GET shows the form; POST signs in as ``kind`` and redirects to ``success()``."""
    template = f"{surface}/sign_in.html"
    if request.method == "GET":
        return render_template(template, errors={}, email="", first_steps=_first_steps(surface))
    email = _field("email", MAX_EMAIL_LENGTH).strip()
    password = _field("password", passwords.MAX_LENGTH)
    rt = runtime()
    attempt = {"surface": surface, "account": email, "address": client_address(rt.settings)}
    with rt.unit_of_work() as db:
        admission = sign_in_throttle.admit(db, rt.settings, **attempt)
    if not admission.allowed:
        wait = admission.retry_after
        message = f"too many sign-in attempts; try again in {wait} seconds"
        page = render_template(template, errors={"password": message}, email=email)
        return page, 429, {"Retry-After": str(wait)}
    with rt.unit_of_work() as db:
        person = authenticate(db, email=email, password=password)
        if person is not None:
            sign_in_throttle.succeeded(db, rt.settings, **attempt)
            browser_session.start(db, kind=kind, person=person)
    if person is None:
        return render_template(template, errors={"password": WRONG}, email=email), 401
    return redirect(success())


def _first_steps(surface: str) -> list[str]:
    """On the console's sign-in page of a fresh install: how to make the first admin.

    It tells a stranger only that nobody can sign in yet, which a fresh install is anyway.
    """
    if surface != "console":
        return []
    with runtime().unit_of_work() as db:
        if admins.anyone_can_sign_in(db):
            return []
    return first_steps(request.base_url)


def _field(name: str, limit: int) -> str:
    """The submitted text, or "" when no account could have it: still hashed, still refused."""
    value = request.form.get(name, "")
    if len(value) > limit or "\x00" in value or not _encodable(value):
        return ""
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def signed_in(*, kind: str):
    """The person this browser signed in as ``kind``, while that session is alive."""
    return browser_session.person(kind=kind)
