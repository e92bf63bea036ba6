"""Key-age reminders against real aiosmtpd and a real local webhook receiver: once per clock,
to the contact, the admins and each webhook, never a token; bounded retries."""

import dataclasses
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from keystore.models import KeyAgeReminder
from keystore.services import admins, catalogue, keys, roles, webhooks
from rotation.context import TaskContext
from rotation.key_refresh import remind
from rotation.response import webhook_attempts
from tests.mailbox import body_text, mailbox
from tests.receiver import receiver, verify
from tests.worlds import ACTOR, issue, world

__all__ = ["issue", "mailbox", "receiver", "world"]
PUBLIC = "https://keyward.example.com"


@pytest.fixture
def ctx(connection, settings, mailbox):
    local = dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_tls="none",
        public_url=PUBLIC,
        notify_webhook_allow_loopback=True,
        notify_webhook_timeout_seconds=2,
        key_refresh_remind_days=7,
    )
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    return TaskContext(settings=local, sessions=sessions, redis=None, usage=None)


@pytest.fixture
def people(session):
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    admins.create_admin(
        session, actor=ACTOR, name="Quiet", email="quiet@example.com", notify_leaks=False
    )


@pytest.fixture
def hook(session, ctx, receiver):
    _row, secret = webhooks.create_webhook(
        session, ctx.settings, actor=ACTOR, name="ops", kind="json", url=receiver.url
    )
    session.flush()
    return secret


def issued_at(key):
    return max(key.tokens, key=lambda row: row.id).created_at


def rows(session, key_id):
    session.expire_all()
    return session.scalars(
        select(KeyAgeReminder).where(KeyAgeReminder.key_id == key_id).order_by(KeyAgeReminder.id)
    ).all()


def prod_max(session, days):
    catalogue.update_environment(session, actor=ACTOR, tag="prod", max_key_age_days=days)


def test_a_reminder_goes_once_to_the_contact_the_admins_and_the_webhook(
    ctx, session, issue, mailbox, receiver, people, hook
):
    prod_max(session, 30)
    key, token = issue()
    start = issued_at(key)
    # 30 days, reminded 7 before: nothing on day 22, the reminder on day 23.
    assert remind(ctx, now=start + timedelta(days=22, hours=23)) == 0
    assert mailbox.messages == []
    assert receiver.requests == []
    assert remind(ctx, now=start + timedelta(days=23, hours=1)) == 3
    (to_ada,) = mailbox.to("ada@example.com")
    (to_contact,) = mailbox.to("ops@acme.example")
    assert mailbox.to("quiet@example.com") == []  # takes no notifications
    assert f"{PUBLIC}/console/keys/{key.id}" in body_text(to_ada)
    assert key.hint in body_text(to_contact)
    expires = (start + timedelta(days=30)).strftime("%Y-%m-%d %H:%M UTC")
    assert expires in body_text(to_contact)
    (request,) = receiver.requests
    headers, body, _ = request
    assert verify(hook, headers["x-keyward-signature"], body)
    assert headers["x-keyward-event"] == "key.refresh_due"
    payload = json.loads(body)
    assert payload["key"]["id"] == key.id
    assert payload["key"]["max_key_age_days"] == 30
    for message in [to_ada.as_string(), to_contact.as_string(), body.decode()]:
        assert token not in message
    assert {(r.channel, r.state, r.attempts) for r in rows(session, key.id)} == {
        ("admin", "sent", 1),
        ("client", "sent", 1),
        ("webhook", "sent", 1),
    }
    # Later rounds, and rounds that overlap, send nothing again.
    assert remind(ctx, now=start + timedelta(days=24)) == 0
    assert remind(ctx, now=start + timedelta(days=29)) == 0
    assert len(mailbox.messages) == 2
    assert len(receiver.requests) == 1


def test_a_regeneration_starts_a_new_clock_with_its_own_reminder(
    ctx, session, settings, issue, mailbox, people
):
    prod_max(session, 30)
    key, _ = issue()
    assert remind(ctx, now=issued_at(key) + timedelta(days=25)) == 2
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    session.flush()
    fresh = issued_at(key)
    assert remind(ctx, now=fresh + timedelta(days=1)) == 0  # the new clock is young
    assert remind(ctx, now=fresh + timedelta(days=24)) == 2
    assert len(mailbox.to("ada@example.com")) == 2
    assert len({r.token_id for r in rows(session, key.id)}) == 2


def test_the_roles_maximum_age_decides_when_to_remind(ctx, session, issue, mailbox, people, world):
    prod_max(session, 90)
    roles.update_role(session, actor=ACTOR, ref=world.role.id, max_key_age_days=10)
    key, _ = issue()
    assert remind(ctx, now=issued_at(key) + timedelta(days=2)) == 0
    assert remind(ctx, now=issued_at(key) + timedelta(days=4)) == 2


def test_expired_revoked_and_unlimited_keys_get_no_reminder(ctx, session, issue, mailbox, people):
    key, _ = issue()
    assert remind(ctx, now=issued_at(key) + timedelta(days=400)) == 0  # no maximum age
    prod_max(session, 30)
    assert remind(ctx, now=issued_at(key) + timedelta(days=31)) == 0  # already expired
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    assert remind(ctx, now=issued_at(key) + timedelta(days=25)) == 0
    assert rows(session, key.id) == []


def test_a_failing_receiver_is_retried_by_later_rounds_and_then_given_up(
    ctx, session, issue, mailbox, receiver, hook
):
    prod_max(session, 30)
    key, _ = issue()
    start = issued_at(key) + timedelta(days=24)
    mailbox.refuse = True
    receiver.answers = [503] * 100
    assert remind(ctx, now=start) == 2
    states = {r.channel: (r.state, r.attempts) for r in rows(session, key.id)}
    assert states == {"client": ("pending", 1), "webhook": ("pending", 1)}
    mailbox.refuse = False
    tries = webhook_attempts(ctx.settings)
    for round_ in range(1, tries + 3):
        remind(ctx, now=start + timedelta(hours=round_))
    states = {r.channel: (r.state, r.attempts) for r in rows(session, key.id)}
    assert states == {"client": ("sent", 2), "webhook": ("failed", tries)}
    assert len(receiver.requests) == tries  # bounded: never tried again
    assert len(mailbox.to("ops@acme.example")) == 1


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_its_lease(ctx, session, issue, mailbox):
    prod_max(session, 30)
    key, _ = issue()
    now = issued_at(key) + timedelta(days=24)
    mailbox.refuse = True
    remind(ctx, now=now)
    (row,) = rows(session, key.id)
    row.state, row.claimed_at = "sending", now  # a worker died mid-send
    session.flush()
    mailbox.refuse = False
    lease = timedelta(seconds=ctx.settings.mail_lease_seconds)
    assert remind(ctx, now=now + lease / 2) == 0
    assert remind(ctx, now=now + lease) == 1
    assert [r.state for r in rows(session, key.id)] == ["sent"]
    assert len(mailbox.messages) == 1


def test_without_smtp_emails_are_recorded_as_skipped(ctx, session, issue, people):
    quiet = dataclasses.replace(ctx, settings=dataclasses.replace(ctx.settings, smtp_host=None))
    prod_max(session, 30)
    key, _ = issue()
    assert remind(quiet, now=issued_at(key) + timedelta(days=24)) == 2
    assert {r.state for r in rows(session, key.id)} == {"skipped"}
