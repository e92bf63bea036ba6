"""The intake refuses a leaked token in its own transaction; the task finishes the job once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from keystore import tokens
from keystore.decision import Request, decide
from keystore.models import AuditEvent, Incident, KeyToken
from keystore.services import keys
from rotation import dispatch
from rotation.context import TaskContext
from rotation.intake import (
    Report,
    finish_public,
    public_entries,
    record_reports,
    store_public,
    unmatched_public,
)
from tests.leak_steps import handle_incident
from tests.mailbox import mailbox
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


def report(session, settings, token, origin="github"):
    intake = record_reports(session, settings, origin=origin, reports=[Report(token=token)])
    session.flush()
    return intake


def reason(session, settings, token) -> str:
    return decide(session, settings, credential=token, request=Request("orders.list")).reason


def audits(session, action: str) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


@pytest.mark.parametrize("origin", ["github", "gitlab", "scan", "manual"])
def test_a_regenerate_policy_refuses_the_token_in_the_intake_transaction(
    ctx, session, settings, issue, origin
):
    key, token = issue(environment="prod")
    intake = report(session, settings, token, origin=origin)
    assert intake.refused_ids == intake.incident_ids
    assert reason(session, settings, token) == "revoked"
    incident = session.get(Incident, intake.incident_ids[0])
    assert (incident.state, incident.action, key.state) == ("received", None, "active")
    # The task then regenerates, once, although the row is already closed.
    assert handle_incident(ctx, incident.id).done
    assert handle_incident(ctx, incident.id).done
    session.refresh(incident)
    assert incident.action == "regenerate"
    assert "refused when the report arrived" in incident.action_detail
    assert incident.replacement_sealed is not None
    assert audits(session, "incident.regenerate") == 1
    tokens_of_key = select(func.count()).select_from(KeyToken).where(KeyToken.key_id == key.id)
    assert session.scalar(tokens_of_key) == 2


def test_a_revoke_policy_refuses_then_the_task_revokes_the_key_once(ctx, session, settings, issue):
    key, token = issue(environment="dev")
    intake = report(session, settings, token)
    assert reason(session, settings, token) == "revoked"
    handle_incident(ctx, intake.incident_ids[0])
    session.refresh(key)
    assert key.state == "revoked"
    assert session.get(Incident, intake.incident_ids[0]).action == "revoke"
    assert audits(session, "key.revoke") == 1


def test_notify_only_leaves_the_token_working(ctx, session, settings, world, issue):
    world.role.leak_action = "notify_only"
    session.flush()
    _, token = issue(environment="prod")
    intake = report(session, settings, token)
    assert intake.refused_ids == []
    assert reason(session, settings, token) == "allowed"
    handle_incident(ctx, intake.incident_ids[0])
    assert reason(session, settings, token) == "allowed"
    assert session.get(Incident, intake.incident_ids[0]).action == "notify_only"


def test_a_token_in_its_grace_period_is_stopped_and_not_regenerated_again(
    ctx, session, settings, issue
):
    key, old = issue(environment="prod")
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id, grace_seconds=600)
    assert reason(session, settings, old) == "allowed"
    intake = report(session, settings, old)
    assert reason(session, settings, old) == "revoked"
    handle_incident(ctx, intake.incident_ids[0])
    incident = session.get(Incident, intake.incident_ids[0])
    assert incident.action == "regenerate"
    assert incident.replacement_sealed is None
    assert reason(session, settings, new) == "allowed"


def test_a_token_that_had_already_stopped_is_not_refused_again(ctx, session, settings, issue):
    key, old = issue(environment="prod")
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    closed_at = session.scalar(select(KeyToken.valid_until).where(KeyToken.hint != key.hint))
    intake = report(session, settings, old)
    assert intake.refused_ids == []
    assert session.get(Incident, intake.incident_ids[0]).refused_at is None
    assert session.scalar(select(KeyToken.valid_until).where(KeyToken.hint != key.hint)) == (
        closed_at
    )
    handle_incident(ctx, intake.incident_ids[0])
    assert session.get(Incident, intake.incident_ids[0]).action == "none"


def test_redeliveries_keep_the_first_refusal(session, settings, issue):
    _, token = issue(environment="prod")
    first = report(session, settings, token)
    refused_at = session.get(Incident, first.incident_ids[0]).refused_at
    again = report(session, settings, token)
    assert again.refused_ids == []
    assert session.get(Incident, first.incident_ids[0]).refused_at == refused_at


def test_an_incident_the_task_has_decided_is_not_refused_by_a_later_report(
    ctx, session, settings, world, issue
):
    world.role.leak_action = "notify_only"
    session.flush()
    _, token = issue(environment="prod")
    incident_id = report(session, settings, token).incident_ids[0]
    handle_incident(ctx, incident_id)
    world.role.leak_action = "regenerate"
    session.flush()
    # Refusing now would leave the client without a working token and without a replacement.
    assert report(session, settings, token).refused_ids == []
    assert reason(session, settings, token) == "allowed"


def test_a_public_submission_whose_task_was_lost_is_matched_by_the_sweep(
    ctx, session, settings, issue, monkeypatch
):
    enqueued = []
    monkeypatch.setattr(dispatch, "enqueue_incident", enqueued.append)
    _, token = issue(environment="dev")
    store_public(session, public_entries(settings, [token, tokens.generate("kw", "dev")]))
    session.flush()
    assert reason(session, settings, token) == "allowed"  # nothing matched before the answer
    assert unmatched_public(session, older_than=timedelta(0))
    assert not unmatched_public(session, older_than=timedelta(seconds=60))
    swept = dataclasses.replace(ctx, settings=dataclasses.replace(settings, sweep_after_seconds=0))
    assert finish_public(swept, None) == 1
    assert len(enqueued) == 1
    assert not unmatched_public(session, older_than=timedelta(0))
    assert reason(session, settings, token) == "revoked"
