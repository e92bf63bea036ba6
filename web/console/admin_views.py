"""Workspace admins (the console's people): add, leak emails on or off, remove."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.services import admins
from web.console import actor, caller, console
from web.forms import FormErrors, run_form, text
from web.runtime import runtime

FIELDS = ("name", "email")


@console.get("/admins")
def admins_list():
    return _page(errors=FormErrors())


@console.post("/admins")
def admin_add():
    def work(session):
        return admins.create_admin(
            session,
            actor=actor(),
            caller=caller(),
            name=text("name"),
            email=text("email"),
            notify_leaks=request.form.get("notify_leaks") == "on",
        )

    return _done(work)


@console.post("/admins/notifications")
def admin_notifications():
    def work(session):
        notify = request.form.get("notify_leaks") == "on"
        email = text("email")
        return admins.set_notifications(
            session, actor=actor(), caller=caller(), email=email, notify_leaks=notify
        )

    return _done(work)


@console.post("/admins/delete")
def admin_delete():
    def work(session):
        admins.delete_admin(session, actor=actor(), caller=caller(), email=text("email"))

    return _done(work)


def _done(work):
    _, errors = run_form(work, fields=FIELDS)
    if errors:
        return _page(errors=errors)
    return redirect(url_for("console.admins_list"))


def _page(*, errors: FormErrors):
    with runtime().unit_of_work() as session:
        people = admins.list_admins(session)
        return render_template("console/admins.html", admins=people, errors=errors), errors.status
