"""Outgoing webhooks against a real local receiver: once each, retried, signed, never a token."""

import dataclasses
import json
import socket
import time

import pytest
import requests
from sqlalchemy.orm import sessionmaker

from keystore import public_net
from keystore.errors import ValidationError
from keystore.models import Incident
from keystore.services import webhooks
from rotation import outbound
from rotation.context import TaskContext
from rotation.hooks import sign
from rotation.intake import Report, record_reports
from rotation.mail import MailError
from rotation.response import notify_incident
from tests.leak_steps import handle_incident
from tests.mailbox import mailbox
from tests.receiver import receiver, verify
from tests.worlds import ACTOR, issue, world

__all__ = ["issue", "mailbox", "receiver", "world"]


@pytest.fixture
def ctx(connection, settings, mailbox):
    local = dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_tls="none",
        notify_webhook_allow_loopback=True,
        notify_webhook_timeout_seconds=2,
    )
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return TaskContext(settings=local, sessions=sessions, redis=None, usage=None)


def add_hook(session, ctx, url, kind="json"):
    hook, secret = webhooks.create_webhook(
        session, ctx.settings, actor=ACTOR, name="ops", kind=kind, url=url
    )
    session.flush()
    return hook, secret


def leak(session, settings, token) -> int:
    reports = [Report(token=token, url="https://github.com/acme/app/blob/main/.env")]
    intake = record_reports(session, settings, origin="github", reports=reports)
    session.flush()
    return intake.incident_ids[0]


def states(session, incident_id):
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    return incident, {n.channel: n.state for n in incident.notifications}


def test_a_signed_json_delivery_arrives_once_and_names_the_key_by_hint(
    ctx, session, settings, issue, receiver, mailbox
):
    _, secret = add_hook(session, ctx, receiver.url)
    key, token = issue(environment="prod")
    incident_id = leak(session, settings, token)
    assert handle_incident(ctx, incident_id).done
    assert handle_incident(ctx, incident_id).done
    assert notify_incident(ctx, incident_id).done
    (headers, body, path) = receiver.requests[0]
    assert len(receiver.requests) == 1
    assert path == "/hooks/keyward"
    assert verify(secret, headers["x-keyward-signature"], body)
    assert not verify(secret, headers["x-keyward-signature"], body + b" ")
    assert not verify("whsec_wrong", headers["x-keyward-signature"], body)
    payload = json.loads(body)
    assert payload["incident"]["id"] == incident_id
    assert payload["incident"]["url"].endswith(f"/console/incidents/{incident_id}")
    assert payload["key"]["id"] == key.id
    assert headers["x-keyward-delivery"] == payload["delivery_id"]
    assert token not in body.decode()
    session.refresh(key)
    assert payload["incident"]["replacement_hint"] == key.hint  # prod: regenerated
    incident, by_channel = states(session, incident_id)
    assert incident.state == "notified"
    assert by_channel["webhook"] == "sent"
    assert len(mailbox.messages) == 1  # the contact's email, alongside


def test_an_old_or_replayed_signature_is_refused_by_the_documented_check():
    body = b'{"event":"ping"}'
    assert verify("s3cret", sign("s3cret", body, timestamp=int(time.time())), body)
    assert not verify("s3cret", sign("s3cret", body, timestamp=1_000_000_000), body)


def test_receiver_errors_are_retried_and_the_emails_are_not_sent_twice(
    ctx, session, settings, issue, receiver, mailbox
):
    add_hook(session, ctx, receiver.url)
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    receiver.answers = [500, 503]
    with pytest.raises(MailError):
        handle_incident(ctx, incident_id)
    incident, by_channel = states(session, incident_id)
    assert by_channel == {"client": "sent", "webhook": "pending"}
    assert "receiver answered 500" in incident.notifications[-1].last_error
    with pytest.raises(MailError):
        notify_incident(ctx, incident_id)
    assert notify_incident(ctx, incident_id).done
    assert notify_incident(ctx, incident_id).done
    assert len(receiver.requests) == 3
    assert len({r[0]["x-keyward-delivery"] for r in receiver.requests}) == 1
    assert len(mailbox.messages) == 1
    incident, by_channel = states(session, incident_id)
    assert incident.state == "notified"
    assert incident.notifications[-1].attempts == 3


def test_a_refusing_receiver_is_recorded_not_retried_forever(
    ctx, session, settings, issue, receiver
):
    add_hook(session, ctx, receiver.url)
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    receiver.answers = [404]
    assert handle_incident(ctx, incident_id).done
    incident, by_channel = states(session, incident_id)
    assert by_channel["webhook"] == "failed"
    assert incident.state == "notified"
    assert len(receiver.requests) == 1


def test_redirects_are_not_followed(ctx, session, settings, issue, receiver):
    add_hook(session, ctx, receiver.url)
    receiver.answers = [302]
    receiver.location = receiver.url.replace("/hooks/keyward", "/elsewhere")
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    handle_incident(ctx, incident_id)
    assert [path for _, _, path in receiver.requests] == ["/hooks/keyward"]
    incident, by_channel = states(session, incident_id)
    assert by_channel["webhook"] == "failed"
    assert "redirects are not followed" in incident.notifications[-1].last_error


def test_slack_gets_text_and_blocks_with_its_control_characters_escaped(
    ctx, session, settings, issue, receiver, world
):
    world.client.name = "<!channel> acme & co"
    session.flush()
    add_hook(session, ctx, receiver.url, kind="slack")
    _, token = issue(environment="prod")
    incident_id = leak(session, settings, token)
    handle_incident(ctx, incident_id)
    (headers, body, _) = receiver.requests[0]
    payload = json.loads(body)
    assert set(payload) == {"text", "blocks"}
    assert "x-keyward-signature" not in headers
    assert "<!channel>" not in body.decode()
    assert "&lt;!channel&gt; acme &amp; co" in payload["text"]
    assert f"/console/incidents/{incident_id}|" in json.dumps(payload["blocks"])
    assert token not in body.decode()


def test_a_removed_webhook_is_skipped(ctx, session, settings, issue, receiver):
    hook, _ = add_hook(session, ctx, receiver.url)
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    receiver.answers = [500]
    with pytest.raises(MailError):
        handle_incident(ctx, incident_id)
    webhooks.delete_webhook(session, actor=ACTOR, webhook_id=hook.id)
    session.flush()
    assert notify_incident(ctx, incident_id).done
    _, by_channel = states(session, incident_id)
    assert by_channel["webhook"] == "skipped"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "scheme_not_allowed"),
        ("file:///etc/passwd", "invalid_url"),
        ("gopher://hooks.example.com/", "scheme_not_allowed"),
        ("https://localhost/x", "target_not_public"),
        ("https://10.1.2.3/x", "target_not_public"),
        ("https://169.254.169.254/latest/meta-data", "target_not_public"),
        ("https://[::1]/x", "target_not_public"),
        ("https://[::ffff:127.0.0.1]/x", "target_not_public"),
        ("https://0.0.0.0/x", "target_not_public"),
        ("https://user:pw@hooks.example.com/x", "invalid_url"),
        ("https://hooks.example.com:99999/x", "invalid_url"),
        ("https://hooks.example.com/\x00", "invalid_url"),
        ("https://hooks.example.com/\ud800", "invalid_url"),
        ("https://" + "a" * 3000, "invalid_url"),
        (["https://hooks.example.com"], "invalid_url"),
        ("http://127.0.0.1:9/x", "scheme_not_allowed"),
    ],
)
def test_unsafe_urls_are_refused_by_default(settings, url, reason):
    with pytest.raises(ValidationError) as caught:
        webhooks.check_url(url, settings)
    assert caught.value.reason == reason
    assert caught.value.field == "url"


def test_names_resolving_to_private_addresses_are_refused(settings, monkeypatch):
    def private(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.168.1.20", port))]

    monkeypatch.setattr(socket, "getaddrinfo", private)
    with pytest.raises(ValidationError) as caught:
        webhooks.check_target("https://hooks.example.com/x", settings)
    assert caught.value.reason == "target_not_public"
    with pytest.raises(outbound.WebhookError) as at_delivery:
        outbound.resolve("https://hooks.example.com/x", settings)
    assert not at_delivery.value.transient


def test_deliveries_connect_to_the_address_that_was_checked(settings, monkeypatch):
    answers = iter(["93.184.215.14", "127.0.0.1"])  # a rebinding DNS server

    def rebinding(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    target = outbound.resolve("https://hooks.example.com/services/T1?x=1", settings)
    assert target.url == "https://93.184.215.14:443/services/T1?x=1"
    assert target.host_header == "hooks.example.com"
    assert target.server_name == "hooks.example.com"
    session = public_net.pinned_session()
    prepared = session.prepare_request(requests.Request("POST", target.url))
    prepared.keyward_server_name = target.server_name
    adapter = session.get_adapter(target.url)
    _, pool_kwargs = adapter.build_connection_pool_key_attributes(prepared, True)
    assert pool_kwargs["server_hostname"] == "hooks.example.com"
    assert pool_kwargs["assert_hostname"] == "hooks.example.com"
    assert session.trust_env is False


def test_a_receiver_down_for_good_is_given_up_after_the_retries(
    ctx, session, settings, issue, receiver
):
    short = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, task_max_retries=2))
    add_hook(session, ctx, receiver.url)
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    receiver.answers = [500] * 10
    with pytest.raises(MailError):
        handle_incident(short, incident_id)
    with pytest.raises(MailError):
        notify_incident(short, incident_id)
    assert notify_incident(short, incident_id).done
    incident, by_channel = states(session, incident_id)
    assert by_channel["webhook"] == "failed"
    assert incident.state == "notified"
    assert len(receiver.requests) == 3
