"""The pages the leak notifications link to: the console incident, the portal pick-up, webhooks."""

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import select

from keystore.decision import Request, decide
from keystore.models import AuditEvent, Incident, Webhook
from keystore.services import keys
from rotation import notifications, policy
from rotation.intake import Report, record_reports
from tests.receiver import receiver, verify
from tests.worlds import ACTOR

__all__ = ["receiver"]


@pytest.fixture
def settings(settings):
    """The test-only allowance for a receiver on http://127.0.0.1."""
    return dataclasses.replace(settings, notify_webhook_allow_loopback=True)


def leaked_incident(session, settings, client_id: int) -> Incident:
    """A prod key of the client leaked and regenerated: its replacement waits, sealed."""
    _, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref=client_id, name="leaky", environment="prod"
    )
    intake = record_reports(
        session,
        settings,
        origin="github",
        reports=[Report(token=token, url="https://github.com/acme/app/blob/main/.env")],
    )
    incident = session.get(Incident, intake.incident_ids[0])
    policy.act(session, settings, incident)
    session.flush()
    return incident


def test_the_contact_picks_the_replacement_up_once_in_the_portal(
    browser, session, settings, world, acme_user
):
    incident = leaked_incident(session, settings, world.client.id)
    assert browser.sign_in("portal", "dev@acme.example").status_code == 302
    assert f"/portal/incidents/{incident.id}" in browser.get("/portal/").text
    page = browser.get(f"/portal/incidents/{incident.id}")
    assert page.status_code == 200
    assert incident.replacement_hint in page.text
    assert "https://github.com/acme/app/blob/main/.env" in page.text
    picked = browser.post(f"/portal/incidents/{incident.id}/replacement")
    assert picked.status_code == 200
    assert picked.headers["Cache-Control"] == "no-store"
    token = picked.text.split('id="new-token">')[1].split("<")[0]
    assert decide(session, settings, credential=token, request=Request("orders.list")).allowed
    again = browser.post(f"/portal/incidents/{incident.id}/replacement")
    assert again.status_code == 409
    assert token not in again.text
    assert token not in browser.get(f"/portal/incidents/{incident.id}").text
    actors = session.scalars(
        select(AuditEvent.actor).where(AuditEvent.action == "incident.pickup")
    ).all()
    assert actors == [f"portal:{acme_user.id}"]


def test_another_clients_incident_is_not_found_in_the_portal(
    browser, session, settings, rival, acme_user
):
    incident = leaked_incident(session, settings, rival.id)
    assert browser.sign_in("portal", "dev@acme.example").status_code == 302
    assert f"/portal/incidents/{incident.id}" not in browser.get("/portal/").text
    assert browser.get(f"/portal/incidents/{incident.id}").status_code == 404
    assert browser.post(f"/portal/incidents/{incident.id}/replacement").status_code == 404
    assert browser.get("/portal/incidents/99999999999999999999").status_code == 404
    session.refresh(incident)
    assert incident.replacement_sealed is not None


def test_the_email_link_survives_signing_in(browser, session, settings, world, acme_user):
    incident = leaked_incident(session, settings, world.client.id)
    path = f"/portal/incidents/{incident.id}"
    bounced = browser.get(path)
    assert bounced.status_code == 302
    assert bounced.headers["Location"].endswith(f"/portal/login?next={path}")
    browser.get(f"/portal/login?next={path}")
    signed = browser.post(
        f"/portal/login?next={path}",
        {"email": "dev@acme.example", "password": "correct horse battery staple"},
    )
    assert signed.headers["Location"].endswith(path)


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/portal/\\evil"])
def test_sign_in_never_redirects_off_the_portal(browser, acme_user, target):
    browser.get("/portal/login")
    signed = browser.post(
        "/portal/login",
        {"email": "dev@acme.example", "password": "correct horse battery staple"},
        query_string={"next": target},
    )
    assert signed.headers["Location"].endswith("/portal/")


def test_the_console_incident_page_shows_what_an_admin_needs(console, session, settings, world):
    incident = leaked_incident(session, settings, world.client.id)
    notifications.claim_notifications(session, incident, lease=timedelta(seconds=60))
    session.flush()
    page = console.get(f"/console/incidents/{incident.id}")
    assert page.status_code == 200
    assert "ops@acme.example" in page.text
    assert "no portal account" in page.text
    assert 'id="notifications"' in page.text
    assert f"/console/keys/{incident.key_id}/revoke" in page.text
    assert "Pick up the replacement token" in page.text


def test_webhooks_are_added_tested_and_removed_in_the_console(console, session, receiver):
    added = console.post(
        "/console/webhooks", {"name": "pager", "kind": "json", "url": receiver.url}
    )
    assert added.status_code == 200
    assert added.headers["Cache-Control"] == "no-store"
    secret = added.text.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("whsec_")
    listing = console.get("/console/webhooks")
    assert "pager" in listing.text
    assert secret not in listing.text
    assert "/hooks/keyward" not in listing.text
    hook_id = session.scalar(select(Webhook.id))
    tested = console.post(f"/console/webhooks/{hook_id}/test")
    assert "Test delivered" in tested.text
    headers, body, _ = receiver.requests[0]
    assert verify(secret, headers["x-keyward-signature"], body)
    assert console.post(f"/console/webhooks/{hook_id}/delete").status_code == 302
    assert session.scalar(select(Webhook.id)) is None


def test_a_bad_webhook_url_is_refused_next_to_its_field(console, session):
    refused = console.post(
        "/console/webhooks", {"name": "x", "kind": "slack", "url": "http://10.0.0.1/hook"}
    )
    assert refused.status_code == 422
    assert 'id="url-error"' in refused.text
    assert session.scalar(select(Webhook.id)) is None
