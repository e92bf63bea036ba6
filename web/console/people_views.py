"""The console's people: who signs in, with which console role.  Only admins manage them."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.models import CONSOLE_ROLES
from keystore.services import admins
from web.console import actor, caller, console
from web.console.permissions import needs
from web.forms import FormErrors, run_form, text
from web.runtime import runtime

FIELDS = ("name", "email", "role")


@console.get("/people")
@needs("admin")
def people_list():
    return _page(errors=FormErrors())


@console.post("/people")
@needs("admin")
def person_add():
    _, errors = run_form(
        lambda session: admins.create_admin(
            session,
            actor=actor(),
            caller=caller(),
            name=text("name"),
            email=text("email"),
            role=text("role"),
            notify_leaks=request.form.get("notify_leaks") == "on",
        ),
        fields=FIELDS,
    )
    if errors:
        return _page(errors=errors)
    return redirect(url_for("console.people_list"))


@console.post("/people/<int:admin_id>/role")
@needs("admin")
def person_role(admin_id: int):
    def work(session):
        person = admins.get_admin_by_id(session, admin_id)
        admins.update_admin(
            session, actor=actor(), caller=caller(), email=person.email, role=text("role")
        )

    _, errors = run_form(work)
    if errors:
        return _page(errors=errors)
    return redirect(url_for("console.people_list"))


@console.post("/people/<int:admin_id>/delete")
@needs("admin")
def person_delete(admin_id: int):
    def work(session):
        person = admins.get_admin_by_id(session, admin_id)
        admins.delete_admin(session, actor=actor(), caller=caller(), email=person.email)

    _, errors = run_form(work)
    if errors:
        return _page(errors=errors)
    return redirect(url_for("console.people_list"))


def _page(*, errors: FormErrors):
    with runtime().unit_of_work() as session:
        return render_template(
            "console/people.html",
            people=admins.list_admins(session),
            roles=CONSOLE_ROLES,
            errors=errors,
        ), errors.status
