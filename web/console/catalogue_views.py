"""The catalogue in the console: environments, projects and the endpoints roles grant."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from keystore.services import catalogue
from web.console import actor, caller, console
from web.console.permissions import needs
from web.forms import FormErrors, run_form, text
from web.runtime import runtime

FIELDS = ("tag", "name", "leak_action", "description", "section", "method", "path")


@console.get("/catalogue")
@needs("viewer")
def catalogue_page():
    return _page(errors=FormErrors())


@console.post("/environments")
@needs("admin")
def environment_add():
    def work(session):
        return catalogue.create_environment(
            session,
            actor=actor(),
            tag=text("tag"),
            name=text("name"),
            allows_dev_only=_ticked("allows_dev_only"),
            leak_action=text("leak_action") or "revoke",
        )

    return _done(work, form="environment")


@console.post("/projects")
@needs("admin")
def project_add():
    def work(session):
        name, description = text("name"), text("description")
        return catalogue.create_project(session, actor=actor(), name=name, description=description)

    return _done(work, form="project")


@console.post("/projects/delete")
@needs("admin")
def project_delete():
    def work(session):
        catalogue.delete_project(session, actor=actor(), caller=caller(), name=text("name"))

    return _done(work, form="project")


@console.post("/endpoints")
@needs("admin")
def endpoint_add():
    def work(session):
        return catalogue.declare_endpoint(
            session,
            actor=actor(),
            name=text("name"),
            section=text("section"),
            description=text("description"),
            method=text("method") or None,
            path=text("path") or None,
            dev_only=_ticked("dev_only"),
        )

    return _done(work, form="endpoint")


@console.post("/endpoints/delete")
@needs("admin")
def endpoint_delete():
    def work(session):
        catalogue.delete_endpoint(session, actor=actor(), caller=caller(), name=text("name"))

    return _done(work, form="endpoint")


def _ticked(name: str) -> bool:
    return request.form.get(name) == "on"


def _done(work, *, form: str):
    """Run the change; a refusal shows the page again with the message by the right form."""
    _, errors = run_form(work, fields=FIELDS)
    if errors:
        return _page(errors=errors, refused=form)
    return redirect(url_for("console.catalogue_page", _anchor=form + "s"))


def _page(*, errors: FormErrors, refused: str | None = None):
    with runtime().unit_of_work() as session:
        return render_template(
            "console/catalogue.html",
            environments=catalogue.list_environments(session),
            projects=catalogue.list_projects(session),
            endpoints=catalogue.list_endpoints(session),
            errors=errors,
            refused=refused,
        ), errors.status
