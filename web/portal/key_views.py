"""The signed-in portal user's own client: environments, projects and keys.

Every key is fetched through :func:`keystore.services.portal.client_key`, which
only finds keys of the user's own client; the keystore services then act on it.
"""

from __future__ import annotations

from flask import g, redirect, render_template, url_for

from keystore.privileges import caller_for_client
from keystore.services import portal as portal_service
from keystore.services.keys import MAX_KEYS_PER_CLIENT
from web.forms import FormErrors, run_form
from web.key_actions import KEY_FIELDS, change_state, issue_from_form, regenerate_from_form
from web.portal import actor, portal
from web.runtime import runtime
from web.token_page import see_once, show_once


@portal.get("/")
def home():
    return _home_page(errors=FormErrors())


@portal.post("/keys")
def key_new():
    def work(session):
        client_id = _user(session).client_id
        issued = issue_from_form(
            session, actor=actor(), caller=_caller(session), client_id=client_id
        )
        return show_once(session, "portal/token.html", issued=issued, back=url_for("portal.home"))

    address, errors = run_form(work, fields=KEY_FIELDS)
    if errors:
        return _home_page(errors=errors)
    return see_once(address)


@portal.post("/keys/<int:key_id>/regenerate")
def key_regenerate(key_id: int):
    def work(session):
        owned = portal_service.client_key(session, user=_user(session), key_id=key_id)
        issued = regenerate_from_form(
            session, actor=actor(), caller=_caller(session), key_id=owned.id
        )
        return show_once(session, "portal/token.html", issued=issued, back=url_for("portal.home"))

    address, errors = run_form(work)
    if errors:
        return _home_page(errors=errors)
    return see_once(address)


@portal.post("/keys/<int:key_id>/<any(deactivate, reactivate, revoke):change>")
def key_state(key_id: int, change: str):
    def work(session):
        owned = portal_service.client_key(session, user=_user(session), key_id=key_id)
        return change_state(
            session, actor=actor(), caller=_caller(session), key_id=owned.id, change=change
        )

    _, errors = run_form(work)
    if errors:
        return _home_page(errors=errors)
    return redirect(url_for("portal.home"))


def _home_page(*, errors: FormErrors):
    with runtime().unit_of_work() as session:
        user = _user(session)
        owned = portal_service.client_keys(session, user=user)
        live = [key for key in owned if key.state != "revoked"]
        return render_template(
            "portal/home.html",
            user=user,
            client=user.client,
            keys=owned,
            incidents=portal_service.client_incidents(session, user=user),
            full=len(live) >= MAX_KEYS_PER_CLIENT,
            max_keys=MAX_KEYS_PER_CLIENT,
            errors=errors,
        ), errors.status


def _user(session):
    return portal_service.get_user(session, g.portal_user_id)


def _caller(session):
    # A portal account acts for its own client, with exactly that client's privileges.
    return caller_for_client(session, _user(session).client_id)
