"""Handling an incident directly (no broker): idempotence, claims, the email's content."""

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from keystore.models import AuditEvent, Incident
from keystore.services import admins, keys
from rotation.context import TaskContext
from rotation.incidents import stuck_incidents
from rotation.intake import Report, record_reports
from rotation.mail import MailError
from rotation.notifications import claim_notifications
from tests.leak_steps import handle_incident
from tests.mailbox import body_text, mailbox
from tests.worlds import ACTOR, issue, world

__all__ = ["issue", "mailbox", "world"]


@pytest.fixture
def ctx(connection, settings, mailbox):
    mail = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_tls="none"
    )
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return TaskContext(settings=mail, sessions=sessions, redis=None, usage=None)


def leak(session, settings, token, origin="github") -> int:
    intake = record_reports(
        session,
        settings,
        origin=origin,
        reports=[Report(token=token, url="https://x/y", source="content")],
    )
    session.flush()
    return intake.incident_ids[0]


def test_handling_twice_acts_once_and_mails_once(ctx, session, settings, issue, mailbox):
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    assert handle_incident(ctx, incident_id).done
    assert handle_incident(ctx, incident_id).done
    revokes = session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "key.revoke")
    )
    assert revokes == 1
    assert sorted(m["To"] for m in mailbox.messages) == ["ada@example.com", "ops@acme.example"]
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert incident.received_at <= incident.owner_found_at <= incident.acted_at
    assert incident.acted_at <= incident.notified_at


def test_a_new_report_after_notification_does_not_reopen(ctx, session, settings, issue, mailbox):
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    handle_incident(ctx, incident_id)
    again = record_reports(session, settings, origin="public", reports=[Report(token=token)])
    assert again.incident_ids == []
    assert len(session.get(Incident, incident_id).occurrences) == 2
    assert len(mailbox.messages) == 1


def test_claims_keep_two_workers_from_sending_the_same_email(ctx, session, settings, issue):
    _, token = issue(environment="dev")
    incident = session.get(Incident, leak(session, settings, token))
    first, _ = claim_notifications(session, incident, lease=timedelta(seconds=60))
    second, wait = claim_notifications(session, incident, lease=timedelta(seconds=60))
    assert [n.recipient for n in first] == ["ops@acme.example"]
    assert second == []
    assert 0 < wait <= 60
    first[0].claimed_at = datetime.now(UTC) - timedelta(seconds=61)
    third, _ = claim_notifications(session, incident, lease=timedelta(seconds=60))
    assert [n.recipient for n in third] == ["ops@acme.example"]


def test_smtp_failure_releases_the_claim_and_raises(ctx, session, settings, issue, mailbox):
    mailbox.refuse = True
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    with pytest.raises(MailError):
        handle_incident(ctx, incident_id)
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert incident.state == "acted"
    assert [n.state for n in incident.notifications] == ["pending"]
    assert "451" in incident.notifications[0].last_error
    mailbox.refuse = False
    assert handle_incident(ctx, incident_id).done
    assert len(mailbox.messages) == 1


def test_without_smtp_emails_are_skipped_not_stuck(ctx, session, settings, issue):
    quiet = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, smtp_host=None))
    _, token = issue(environment="dev")
    incident_id = leak(session, settings, token)
    assert handle_incident(quiet, incident_id).done
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert [n.state for n in incident.notifications] == ["skipped"]


def test_an_old_token_that_already_stopped_needs_no_action(ctx, session, settings, issue, mailbox):
    key, old = issue(environment="prod")
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    incident_id = leak(session, settings, old)
    handle_incident(ctx, incident_id)
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert incident.action == "none"
    assert incident.replacement_sealed is None
    assert "already stopped" in body_text(mailbox.messages[0])


def test_a_token_in_its_grace_period_is_stopped_now(ctx, session, settings, issue):
    key, old = issue(environment="prod")
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id, grace_seconds=3600)
    incident_id = leak(session, settings, old)
    handle_incident(ctx, incident_id)
    from keystore.decision import Request, decide

    assert decide(session, settings, credential=old, request=Request("orders.list")).reason == (
        "revoked"
    )
    assert decide(session, settings, credential=new, request=Request("orders.list")).allowed


def test_the_email_names_the_key_by_hint_only(ctx, session, settings, issue, mailbox):
    key, token = issue(environment="prod")
    handle_incident(ctx, leak(session, settings, token))
    message = mailbox.messages[0]
    text = body_text(message)
    assert token not in message.as_string()
    assert key.hint.split("…")[0] in text  # the new hint: regenerated
    assert message.get_content_type() == "multipart/alternative"
    assert "pick up" in text.lower()


def test_the_sweeper_finds_incidents_nobody_finished(session, settings, issue):
    _, token = issue(environment="dev")
    incident = session.get(Incident, leak(session, settings, token))
    assert stuck_incidents(session, older_than=timedelta(seconds=60)) == []
    incident.updated_at = datetime.now(UTC) - timedelta(minutes=5)
    session.flush()
    assert stuck_incidents(session, older_than=timedelta(seconds=60)) == [incident.id]
