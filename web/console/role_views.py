"""Client roles: tick endpoints from the catalogue, grouped by section."""

from __future__ import annotations

from itertools import groupby

from flask import redirect, render_template, request, url_for

from keystore.services import catalogue, roles
from web.console import actor, caller, console
from web.console.permissions import needs
from web.forms import FormErrors, chosen, optional_int, run_form, text
from web.runtime import runtime

FIELDS = ("name", "description", "endpoints", "max_key_age_days")


@console.get("/roles")
@needs("viewer")
def roles_list():
    with runtime().unit_of_work() as session:
        return render_template("console/roles.html", roles=roles.list_roles(session))


@console.route("/roles/new", methods=["GET", "POST"])
@needs("admin")
def role_new():
    return _role_form(role_id=None)


@console.route("/roles/<int:role_id>", methods=["GET", "POST"])
@needs(get="viewer", post="admin")
def role_edit(role_id: int):
    return _role_form(role_id=role_id)


@console.route("/roles/<int:role_id>/delete", methods=["GET", "POST"])
@needs("admin")
def role_delete(role_id: int):
    if request.method == "POST":
        with runtime().unit_of_work() as session:
            roles.delete_role(session, actor=actor(), caller=caller(), ref=role_id)
        return redirect(url_for("console.roles_list"))
    with runtime().unit_of_work() as session:
        return render_template(
            "console/role_delete.html",
            role=roles.get_role(session, role_id),
            clients=roles.clients_using(session, role_id),
        )


def _role_form(*, role_id: int | None):
    errors = FormErrors()
    if request.method == "POST":
        _, errors = run_form(lambda session: _save(session, role_id=role_id), fields=FIELDS)
        if not errors:
            return redirect(url_for("console.roles_list"))
    with runtime().unit_of_work() as session:
        role = roles.get_role(session, role_id) if role_id else None
        return render_template(
            "console/role_form.html",
            role=role,
            sections=_sections(catalogue.list_endpoints(session)),
            ticked=_ticked(role, posted=request.method == "POST"),
            errors=errors,
        ), errors.status


def _save(session, *, role_id: int | None):
    values = {
        "name": text("name"),
        "description": text("description"),
        "endpoints": chosen("endpoints"),
        # Empty: the environment's maximum key age applies.
        "max_key_age_days": optional_int("max_key_age_days"),
    }
    if role_id is None:
        return roles.create_role(session, actor=actor(), caller=caller(), **values)
    return roles.update_role(session, actor=actor(), caller=caller(), ref=role_id, **values)


def _sections(endpoints) -> list[tuple[str, list]]:
    ordered = sorted(endpoints, key=lambda ep: (ep.section or "Other", ep.name))
    return [
        (name, list(group))
        for name, group in groupby(ordered, key=lambda ep: ep.section or "Other")
    ]


def _ticked(role, *, posted: bool) -> set[str]:
    # After a refused submission, show what the admin ticked, not what is stored.
    if posted:
        return set(chosen("endpoints"))
    return {ep.name for ep in role.endpoints} if role else set()
