"""Environments in the console: each one's leak action and maximum key age (periodic refresh)."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from keystore.services import catalogue
from web.console import actor, caller, console
from web.console.permissions import needs
from web.forms import FormErrors, optional_int, run_form
from web.runtime import runtime


@console.get("/environments")
@needs("viewer")
def environments_list():
    return _page(errors=FormErrors())


@console.post("/environments/<tag>/max-key-age")
@needs("admin")
def environment_max_age(tag: str):
    _, errors = run_form(
        lambda session: catalogue.update_environment(
            session,
            actor=actor(),
            caller=caller(),
            tag=tag,
            max_key_age_days=optional_int("max_key_age_days"),
        ),
        fields=("max_key_age_days",),
    )
    if errors:
        return _page(errors=errors)
    return redirect(url_for("console.environments_list"))


def _page(*, errors: FormErrors):
    with runtime().unit_of_work() as session:
        return render_template(
            "console/environments.html",
            environments=catalogue.list_environments(session),
            errors=errors,
        ), errors.status
