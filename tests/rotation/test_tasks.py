"""The task layer on a real broker: one pending task per incident, bounded sends, outages."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import time
from datetime import UTC, datetime, timedelta

import pytest
from celery import current_app
from sqlalchemy.orm import sessionmaker

from keystore.models import Incident
from rotation import context, dispatch, response, steps
from rotation.celery_app import LEAKS_QUEUE, LEASED_TASKS, make_celery
from rotation.incidents import stuck_incidents
from rotation.intake import Report, record_reports
from rotation.mail import MailError
from tests.conftest import REDIS_URL
from tests.mailbox import mailbox
from tests.worlds import issue, world

__all__ = ["issue", "mailbox", "world"]
QUEUE = LEAKS_QUEUE


def use(monkeypatch, connection, settings):
    """Install a task context on the test's connection and a Celery app for ``settings``."""
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    ctx = context.TaskContext(settings=settings, sessions=sessions, redis=None, usage=None)
    monkeypatch.setitem(context._installed, os.getpid(), ctx)
    previous = current_app._get_current_object()
    app = make_celery(settings)
    app.set_default()
    return app, previous


@pytest.fixture
def on_broker(monkeypatch, connection, settings, redis_client):
    live = dataclasses.replace(settings, redis_url=REDIS_URL, mode="production")
    app, previous = use(monkeypatch, connection, live)
    yield app
    app.close()
    previous.set_default()


@pytest.fixture
def unreachable(monkeypatch, connection, settings):
    down = dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0", mode="production")
    app, previous = use(monkeypatch, connection, down)
    yield app
    app.close()
    previous.set_default()


def open_incident(session, settings, issue) -> int:
    _, token = issue(environment="dev")
    intake = record_reports(session, settings, origin="github", reports=[Report(token=token)])
    session.flush()
    return intake.incident_ids[0]


def queued(client) -> list[tuple[str, list]]:
    """(task name, args) of every message waiting in the queue, oldest first (LPUSH/BRPOP)."""
    found = []
    for raw in reversed(client.lrange(QUEUE, 0, -1)):
        message = json.loads(raw)
        args = json.loads(base64.b64decode(message["body"]))[0]
        found.append((message["headers"]["task"], args))
    return found


def test_duplicate_reports_send_one_task(on_broker, redis_client, session, settings, issue):
    incident_id = open_incident(session, settings, issue)
    for _ in range(5):
        dispatch.enqueue_incident(incident_id)
    sent = queued(redis_client)
    assert [name for name, _ in sent] == ["keyward.handle_incident"]
    lease = sent[0][1][1]
    assert session.get(Incident, incident_id).lease_id == lease


def test_the_sweeper_sends_only_what_no_task_holds(
    on_broker, redis_client, session, settings, issue
):
    incident_id = open_incident(session, settings, issue)
    dispatch.enqueue_incident(incident_id)
    assert dispatch.sweep(context.current()) == 0
    incident = session.get(Incident, incident_id)
    incident.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)  # the task was lost
    session.flush()
    assert dispatch.sweep(context.current()) == 1
    assert dispatch.sweep(context.current()) == 0
    leases = [args[1] for _, args in queued(redis_client)]
    assert len(leases) == 2
    assert leases[0] != leases[1]
    session.refresh(incident)
    assert incident.lease_id == leases[1]


def test_an_unreachable_broker_neither_raises_nor_holds_the_caller(
    unreachable, session, settings, issue
):
    incident_id = open_incident(session, settings, issue)
    started = time.monotonic()
    dispatch.enqueue_incident(incident_id)
    elapsed = time.monotonic() - started
    # Unbounded, redis-py and kombu retried for 6 s; bounded, a refused connect is immediate.
    assert elapsed < 2.0, elapsed
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert incident.lease_id is not None
    assert incident.next_attempt_at <= datetime.now(UTC)  # due at the next sweep


def test_retries_are_celerys_and_bounded_by_the_settings(settings):
    live = dataclasses.replace(settings, redis_url=REDIS_URL, mode="production", task_max_retries=7)
    app = make_celery(live)
    try:
        for name in LEASED_TASKS:
            task = app.tasks[name]
            assert task.max_retries == 7
            assert task.retry_backoff_max == steps.retry_cap_seconds(live)
            assert task.retry_backoff_max * 4 <= live.task_visibility_seconds
            assert task.autoretry_for
            assert task.retry_jitter
        options = app.conf.broker_transport_options
        assert options["visibility_timeout"] == live.task_visibility_seconds
        assert options["socket_connect_timeout"] == live.broker_timeout_seconds
        assert app.conf.broker_connection_max_retries is None
        embedded = make_celery(settings)
        assert embedded.tasks[LEASED_TASKS[0]].max_retries == 0
        embedded.close()
    finally:
        app.close()


@pytest.fixture
def mail_ctx(connection, settings, mailbox):
    mail = dataclasses.replace(
        settings, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_tls="none"
    )
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return context.TaskContext(settings=mail, sessions=sessions, redis=None, usage=None)


def test_a_task_whose_lease_was_taken_over_does_nothing(
    mail_ctx, session, settings, issue, mailbox
):
    incident_id = open_incident(session, settings, issue)
    ttl = steps.lease_ttl(settings)
    stale = steps.claim(session, incident_id, ttl=ttl, now=datetime.now(UTC) - 2 * ttl)
    current = steps.claim(session, incident_id, ttl=ttl)
    assert response.act_on_incident(mail_ctx, incident_id, lease=stale) is None
    incident = session.get(Incident, incident_id)
    session.refresh(incident)
    assert incident.state == "received"
    assert response.act_on_incident(mail_ctx, incident_id, lease=current) == current
    assert response.notify_incident(mail_ctx, incident_id, lease=stale).done
    assert mailbox.messages == []
    assert response.notify_incident(mail_ctx, incident_id, lease=current).done
    assert [m["To"] for m in mailbox.messages] == ["ops@acme.example"]
    session.refresh(incident)
    assert (incident.state, incident.lease_id, incident.next_attempt_at) == ("notified", None, None)


def test_a_failed_send_keeps_the_lease_for_the_retry(mail_ctx, session, settings, issue, mailbox):
    mailbox.refuse = True
    incident_id = open_incident(session, settings, issue)
    lease = response.act_on_incident(mail_ctx, incident_id)
    with pytest.raises(MailError):
        response.notify_incident(mail_ctx, incident_id, lease=lease)
    # Celery's retry carries the same lease; the sweeper leaves the incident alone meanwhile.
    assert dispatch.sweep(mail_ctx) == 0
    mailbox.refuse = False
    assert response.notify_incident(mail_ctx, incident_id, lease=lease).done
    assert len(mailbox.messages) == 1


def test_a_task_out_of_retries_hands_the_incident_back_one_cap_later(
    mail_ctx, session, settings, issue
):
    incident_id = open_incident(session, settings, issue)
    lease = response.act_on_incident(mail_ctx, incident_id)
    now = datetime.now(UTC)
    cap = timedelta(seconds=steps.retry_cap_seconds(settings))
    dispatch.defer(mail_ctx, incident_id=incident_id, lease="not-the-holder")
    assert stuck_incidents(session, older_than=cap, now=now + 2 * cap) == []
    dispatch.defer(mail_ctx, incident_id=incident_id, lease=lease)
    assert stuck_incidents(session, older_than=cap, now=now) == []
    assert stuck_incidents(session, older_than=cap, now=now + 2 * cap) == [incident_id]
