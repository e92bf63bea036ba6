"""Outgoing webhooks of leak notifications: add (the secret is shown once), list, test, remove."""

from flask import jsonify

from keystore import serialize
from keystore.services import webhooks
from rotation import hooks
from web.api import actor, api
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.webhooks.read", "keyward.webhooks.write"


@api.get("/webhooks")
@operation("Outgoing webhooks of leak notifications", responses={200: "Webhook[]"}, paged=True)
@requires(READ)
def list_webhooks():
    with runtime().unit_of_work() as session:
        found = webhooks.list_webhooks(session, page=page_request())
        return page_response(found, serialize.webhook)


@api.post("/webhooks")
@operation(
    "Add a receiver (Slack incoming webhook or signed JSON); the signing secret is shown once",
    body="WebhookInput",
    responses={201: "WebhookCreated", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def add_webhook():
    data = json_object()
    rt = runtime()
    webhooks.check_fields(name=data["name"], kind=data["kind"])
    url = webhooks.check_target(data["url"], rt.settings)
    with rt.unit_of_work() as session:
        hook, secret = webhooks.create_webhook(
            session, rt.settings, actor=actor(), name=data["name"], kind=data["kind"], url=url
        )
        body = {**serialize.webhook(hook), "secret": secret}
    return jsonify(body), 201, {"Cache-Control": "no-store"}


@api.get("/webhooks/<int:webhook_id>")
@operation(
    "One outgoing webhook (never its URL path or secret)", responses={200: "Webhook", 404: "Error"}
)
@requires(READ)
def show_webhook(webhook_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(serialize.webhook(webhooks.get_webhook(session, webhook_id)))


@api.delete("/webhooks/<int:webhook_id>")
@operation("Remove an outgoing webhook", responses={200: "Deleted", 404: "Error"})
@requires(WRITE)
def remove_webhook(webhook_id: int):
    with runtime().unit_of_work() as session:
        webhooks.delete_webhook(session, actor=actor(), webhook_id=webhook_id)
    return jsonify({"deleted": webhook_id})


@api.post("/webhooks/<int:webhook_id>/test")
@operation(
    "Send a test delivery now (signed like a real one)",
    responses={200: "WebhookTest", 404: "Error", 502: "Error"},
)
@requires(WRITE)
def test_webhook(webhook_id: int):
    rt = runtime()
    with rt.unit_of_work() as session:
        hook = webhooks.get_webhook(session, webhook_id)
        ping = {
            "webhook_id": hook.id,
            "kind": hook.kind,
            "name": hook.name,
            "url": webhooks.open_url(hook, rt.settings),
            "secret": webhooks.open_secret(hook, rt.settings),
        }
    hooks.ping(rt.settings, **ping)
    return jsonify({"delivered": True})
