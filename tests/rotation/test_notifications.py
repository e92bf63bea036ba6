"""What the leak emails say, to whom, with real aiosmtpd: links people can follow, no token."""

import dataclasses
import re

import pytest
from sqlalchemy.orm import sessionmaker

from keystore.models import Incident
from keystore.services import admins, portal
from rotation.context import TaskContext
from rotation.intake import Report, record_reports
from tests.leak_steps import handle_incident
from tests.mailbox import body_text, mailbox
from tests.worlds import ACTOR, issue, world

__all__ = ["issue", "mailbox", "world"]
PUBLIC = "https://keyward.example.com"


@pytest.fixture
def ctx(connection, settings, mailbox):
    mail = dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_tls="none",
        public_url=PUBLIC,
    )
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return TaskContext(settings=mail, sessions=sessions, redis=None, usage=None)


@pytest.fixture
def ada(session):
    return admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")


def leak(session, settings, token, url="https://github.com/acme/app/blob/main/.env") -> int:
    reports = [Report(token=token, url=url, source="content")]
    intake = record_reports(session, settings, origin="github", reports=reports)
    session.flush()
    return intake.incident_ids[0]


def html_part(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


def test_admins_get_a_console_link_the_headers_and_never_the_token(
    ctx, session, settings, issue, mailbox, ada
):
    _, token = issue(environment="prod")
    incident_id = leak(session, settings, token)
    handle_incident(ctx, incident_id)
    (message,) = mailbox.to("ada@example.com")
    link = f"{PUBLIC}/console/incidents/{incident_id}"
    assert link in body_text(message)
    assert f'<a href="{link}"' in html_part(message)
    assert "/api/v1/incidents" not in message.as_string()
    assert message["Auto-Submitted"] == "auto-generated"
    assert re.fullmatch(
        rf"<incident-{incident_id}-[0-9a-f]{{32}}@keyward\.example\.com>", message["Message-ID"]
    )
    assert token not in message.as_string()
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert incident.replacement_sealed is not None  # still waiting: never emailed


def test_the_contact_gets_their_own_text_and_the_portal_link(
    ctx, session, settings, issue, mailbox, ada, world
):
    _, invitation = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="ops@acme.example"
    )
    portal.accept_invitation(
        session, settings, token=invitation, password="correct horse battery staple"
    )
    _, token = issue(environment="prod")
    incident_id = leak(session, settings, token)
    handle_incident(ctx, incident_id)
    (admin_mail,) = mailbox.to("ada@example.com")
    (contact_mail,) = mailbox.to("ops@acme.example")
    text = body_text(contact_mail)
    link = f"{PUBLIC}/portal/incidents/{incident_id}"
    assert link in text
    assert f'<a href="{link}"' in html_part(contact_mail)
    assert "/console/" not in contact_mail.as_string()
    assert "/api/v1" not in contact_mail.as_string()
    assert "pick up the new token once in the portal" in text
    assert body_text(admin_mail) != text
    assert "no portal account" not in body_text(admin_mail)
    assert token not in contact_mail.as_string()


def test_a_contact_without_a_portal_account_is_told_how_to_get_one(
    ctx, session, settings, issue, mailbox, ada, world
):
    _, token = issue(environment="prod")
    incident_id = leak(session, settings, token)
    handle_incident(ctx, incident_id)
    contact_text = body_text(mailbox.to("ops@acme.example")[0])
    assert "no portal account yet" in contact_text
    assert "invitation" in contact_text
    assert f"{PUBLIC}/portal/login" in contact_text
    admin_text = body_text(mailbox.to("ada@example.com")[0])
    assert "ops@acme.example has no portal account" in admin_text
    assert f"{PUBLIC}/console/clients/{world.client.id}" in admin_text


def test_reported_places_are_escaped_and_only_http_urls_become_links(
    ctx, session, settings, issue, mailbox, ada
):
    _, token = issue(environment="dev")
    hostile = 'https://evil.example/"><script>alert(1)</script>'
    incident_id = leak(session, settings, token, url=hostile)
    record_reports(
        session,
        settings,
        origin="public",
        reports=[Report(token=token, url="javascript:alert(document.cookie)")],
    )
    session.flush()
    handle_incident(ctx, incident_id)
    page = html_part(mailbox.to("ada@example.com")[0])
    assert "<script>" not in page
    assert "&lt;script&gt;" in page
    assert 'href="https://evil.example/&quot;&gt;&lt;script&gt;' in page
    assert 'href="javascript:' not in page
    assert "javascript:alert(document.cookie)" in page  # shown as text, not a link


def test_revoked_keys_tell_the_contact_to_get_a_new_key(ctx, session, settings, issue, mailbox):
    _, token = issue(environment="dev")  # dev: revoke
    handle_incident(ctx, leak(session, settings, token))
    text = body_text(mailbox.to("ops@acme.example")[0])
    assert "revoked" in text
    assert "pick up" not in text.lower()
