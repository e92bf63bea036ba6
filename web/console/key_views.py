"""A client's keys: issue, regenerate, deactivate/reactivate, revoke.  Tokens are shown once."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.services import clients, keys
from keystore.services.keys import MAX_KEYS_PER_CLIENT
from web.console import actor, caller, console
from web.console.permissions import needs
from web.console.usage_views import flush_usage, key_chart
from web.forms import FormErrors, run_form
from web.key_actions import KEY_FIELDS, change_state, issue_from_form, regenerate_from_form
from web.runtime import runtime
from web.token_page import token_page


@console.route("/clients/<int:client_id>/keys/new", methods=["GET", "POST"])
@needs("operator")
def key_new(client_id: int):
    errors = FormErrors()
    if request.method == "POST":

        def work(session):
            return issue_from_form(session, actor=actor(), caller=caller(), client_id=client_id)

        issued, errors = run_form(work, fields=KEY_FIELDS)
        if not errors:
            back = url_for("console.client_show", client_id=client_id)
            return token_page("console/token.html", issued=issued, back=back)
    with runtime().unit_of_work() as session:
        client = clients.get_client(session, client_id)
        live = [key for key in client.keys if key.state != "revoked"]
        return render_template(
            "console/key_form.html",
            client=client,
            full=len(live) >= MAX_KEYS_PER_CLIENT,
            max_keys=MAX_KEYS_PER_CLIENT,
            errors=errors,
        ), errors.status


@console.post("/keys/<int:key_id>/regenerate")
@needs("operator")
def key_regenerate(key_id: int):
    issued, errors = run_form(
        lambda s: regenerate_from_form(s, actor=actor(), caller=caller(), key_id=key_id)
    )
    if errors:
        return _key_page(key_id, errors=errors)
    back = url_for("console.client_show", client_id=issued["client_id"])
    return token_page("console/token.html", issued=issued, back=back)


@console.post("/keys/<int:key_id>/<any(deactivate, reactivate, revoke):change>")
@needs("operator")
def key_state(key_id: int, change: str):
    def work(session):
        return change_state(session, actor=actor(), caller=caller(), key_id=key_id, change=change)

    _, errors = run_form(work)
    if errors:
        return _key_page(key_id, errors=errors)
    return redirect(url_for("console.key_show", key_id=key_id))


@console.get("/keys/<int:key_id>")
@needs("viewer")
def key_show(key_id: int):
    return _key_page(key_id, errors=FormErrors())


def _key_page(key_id: int, *, errors: FormErrors):
    flush_usage()
    with runtime().unit_of_work() as session:
        key = keys.get_key(session, key_id)
        chart = key_chart(session, key_id=key.id)
        page = render_template("console/key.html", key=key, chart=chart, errors=errors)
        return page, errors.status
