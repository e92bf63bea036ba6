"""Outgoing webhooks in the console: list, add (the signing secret shown once), test, remove."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from keystore.errors import KeywardError
from keystore.services import webhooks
from rotation import hooks, outbound
from web.console import actor, console
from web.console.permissions import needs
from web.forms import FormErrors, run_form, text
from web.runtime import runtime
from web.token_page import no_store

FIELDS = ("name", "kind", "url")


@console.get("/webhooks")
@needs("viewer")
def webhooks_list():
    return _page(errors=FormErrors())


@console.post("/webhooks")
@needs("admin")
def webhook_add():
    settings = runtime().settings
    try:
        # Resolved before the transaction: a slow DNS answer never holds the database.
        webhooks.check_fields(name=text("name"), kind=text("kind"))
        url = webhooks.check_target(text("url"), settings)
    except KeywardError as exc:
        field = exc.field if exc.field in FIELDS else "form"
        return _page(errors=FormErrors({field: exc.message}, status=exc.status))

    def work(session):
        hook, secret = webhooks.create_webhook(
            session, settings, actor=actor(), name=text("name"), kind=text("kind"), url=url
        )
        return hook.name, secret

    result, errors = run_form(work, fields=FIELDS)
    if errors:
        return _page(errors=errors)
    name, secret = result
    if secret is None:
        return redirect(url_for("console.webhooks_list"))
    return no_store(render_template("console/webhook_secret.html", name=name, secret=secret))


@console.post("/webhooks/<int:webhook_id>/delete")
@needs("admin")
def webhook_delete(webhook_id: int):
    _, errors = run_form(
        lambda session: webhooks.delete_webhook(session, actor=actor(), webhook_id=webhook_id)
    )
    if errors:
        return _page(errors=errors)
    return redirect(url_for("console.webhooks_list"))


@console.post("/webhooks/<int:webhook_id>/test")
@needs("admin")
def webhook_test(webhook_id: int):
    settings = runtime().settings

    def ping_of(session) -> dict:
        hook = webhooks.get_webhook(session, webhook_id)
        return {
            "webhook_id": hook.id,
            "kind": hook.kind,
            "name": hook.name,
            "url": webhooks.open_url(hook, settings),
            "secret": webhooks.open_secret(hook, settings),
        }

    ping, errors = run_form(ping_of)
    if errors:
        return _page(errors=errors)
    try:
        hooks.ping(settings, **ping)
    except outbound.WebhookError as exc:
        return _page(errors=FormErrors({"form": f"Test failed: {exc.message}"}, status=502))
    return _page(errors=FormErrors(), notice=f"Test delivered to {ping['name']}.")


def _page(*, errors: FormErrors, notice: str | None = None):
    with runtime().unit_of_work() as session:
        return render_template(
            "console/webhooks.html",
            hooks=webhooks.list_webhooks(session),
            errors=errors,
            notice=notice,
        ), errors.status
