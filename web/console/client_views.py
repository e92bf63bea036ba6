"""API clients: list with search, create, edit, enable/disable, delete, invite to the portal."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.services import catalogue, keys, roles
from keystore.services import clients as clients_service
from keystore.services.keys import MAX_KEYS_PER_CLIENT
from web.console import actor, caller, console
from web.console.permissions import needs
from web.forms import FormErrors, chosen, run_form, text
from web.runtime import runtime

FIELDS = ("name", "description", "contact_email", "role", "environments", "projects")


@console.get("/clients")
@needs("viewer")
def clients():
    search = request.args.get("q", "").strip()
    with runtime().unit_of_work() as session:
        found = clients_service.list_clients(session, search=search or None)
        return render_template("console/clients.html", clients=found, search=search)


@console.route("/clients/new", methods=["GET", "POST"])
@needs("operator")
def client_new():
    return _client_form(client_id=None)


@console.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
@needs("operator")
def client_edit(client_id: int):
    return _client_form(client_id=client_id)


@console.get("/clients/<int:client_id>")
@needs("viewer")
def client_show(client_id: int):
    with runtime().unit_of_work() as session:
        client = clients_service.get_client(session, client_id)
        return render_template(
            "console/client.html",
            client=client,
            keys=keys.list_keys(session, client_ref=client_id),
            max_keys=MAX_KEYS_PER_CLIENT,
            invitation_link=None,
            notice=None,
            errors={},
        )


@console.post("/clients/<int:client_id>/enable")
@needs("operator")
def client_enable(client_id: int):
    return _set_enabled(client_id, enabled=True)


@console.post("/clients/<int:client_id>/disable")
@needs("operator")
def client_disable(client_id: int):
    return _set_enabled(client_id, enabled=False)


@console.route("/clients/<int:client_id>/delete", methods=["GET", "POST"])
@needs("operator")
def client_delete(client_id: int):
    if request.method == "POST":
        with runtime().unit_of_work() as session:
            clients_service.delete_client(session, actor=actor(), caller=caller(), ref=client_id)
        return redirect(url_for("console.clients"))
    with runtime().unit_of_work() as session:
        client = clients_service.get_client(session, client_id)
        return render_template("console/client_delete.html", client=client)


def _set_enabled(client_id: int, *, enabled: bool):
    with runtime().unit_of_work() as session:
        clients_service.set_enabled(
            session, actor=actor(), caller=caller(), ref=client_id, enabled=enabled
        )
    return redirect(url_for("console.client_show", client_id=client_id))


def _client_form(*, client_id: int | None):
    errors = FormErrors()
    if request.method == "POST":
        saved, errors = run_form(lambda s: _save(s, client_id=client_id).id, fields=FIELDS)
        if not errors:
            return redirect(url_for("console.client_show", client_id=saved))
    with runtime().unit_of_work() as session:
        client = clients_service.get_client(session, client_id) if client_id else None
        return render_template(
            "console/client_form.html",
            client=client,
            roles=roles.list_roles(session),
            environments=catalogue.list_environments(session),
            projects=catalogue.list_projects(session),
            ticked=_ticked(client),
            errors=errors,
        ), errors.status


def _save(session, *, client_id: int | None):
    values = {
        "name": text("name"),
        "description": text("description"),
        "contact_email": text("contact_email"),
        "role": text("role") or None,
        "environments": chosen("environments"),
        "projects": chosen("projects"),
    }
    if client_id is None:
        return clients_service.create_client(session, actor=actor(), caller=caller(), **values)
    return clients_service.update_client(
        session, actor=actor(), caller=caller(), ref=client_id, **values
    )


def _ticked(client) -> dict[str, set[str]]:
    # After a refused submission, show what the admin chose, not what is stored.
    if request.method == "POST":
        return {"environments": set(chosen("environments")), "projects": set(chosen("projects"))}
    if client is None:
        return {"environments": set(), "projects": set()}
    return {
        "environments": {env.tag for env in client.environments},
        "projects": {proj.name for proj in client.projects},
    }
