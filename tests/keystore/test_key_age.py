"""Periodic refresh in the decision: a key older than its maximum age is refused as expired."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from keystore import key_age, privileges, serialize
from keystore.decision import Request, decide, judge, load_facts
from keystore.errors import ConflictError, ValidationError
from keystore.jwt_access import issue_jwt
from keystore.models import AuditEvent, KeyToken
from keystore.services import catalogue, keys, roles
from keystore.services.bootstrap import bootstrap_admin
from tests.worlds import ACTOR

LIST = Request(endpoint="orders.list", environment="prod")


def check(session, settings, credential):
    return decide(session, settings, credential=credential, request=LIST)


def backdate(session, key, days: float) -> datetime:
    """Time passes for the key: its current token was issued ``days`` ago."""
    current = max(key.tokens, key=lambda row: row.id)
    current.created_at = datetime.now(UTC) - timedelta(days=days)
    session.flush()
    return current.created_at


def set_env_max(session, days):
    catalogue.update_environment(session, actor=ACTOR, tag="prod", max_key_age_days=days)


def test_a_key_expires_exactly_at_its_maximum_age(session, settings, issue):
    set_env_max(session, 30)
    key, _token = issue()
    row = session.scalar(select(KeyToken).where(KeyToken.key_id == key.id))
    facts = load_facts(session, LIST, token_id=row.id)
    limit = row.created_at + timedelta(days=30)
    assert judge(
        facts, LIST, None, credential_kind="token", now=limit - timedelta(microseconds=1)
    ).allowed
    at_limit = judge(facts, LIST, None, credential_kind="token", now=limit)
    assert (at_limit.allowed, at_limit.reason) == (False, "expired")


def test_an_old_key_is_refused_on_the_next_request_and_a_younger_one_is_not(
    session, settings, issue
):
    key, token = issue()
    backdate(session, key, 40)
    assert check(session, settings, token).allowed  # no maximum yet
    set_env_max(session, 30)
    decision = check(session, settings, token)
    assert (decision.allowed, decision.reason) == (False, "expired")
    assert decision.disclosed().key_id is None  # a "who are you" answer: names nothing
    set_env_max(session, 60)
    assert check(session, settings, token).allowed


def test_the_role_overrides_the_environment(session, settings, issue, world):
    set_env_max(session, 90)
    key, token = issue()
    backdate(session, key, 20)
    assert check(session, settings, token).allowed
    roles.update_role(session, actor=ACTOR, ref=world.role.id, max_key_age_days=14)
    assert check(session, settings, token).reason == "expired"
    # A role may also be more generous than its environment.
    set_env_max(session, 10)
    roles.update_role(session, actor=ACTOR, ref=world.role.id, max_key_age_days=30)
    assert check(session, settings, token).allowed
    roles.update_role(session, actor=ACTOR, ref=world.role.id, max_key_age_days=None)
    assert check(session, settings, token).reason == "expired"  # back to the environment's 10


def test_a_regeneration_restarts_the_clock(session, settings, issue):
    set_env_max(session, 30)
    key, old = issue()
    backdate(session, key, 31)
    assert check(session, settings, old).reason == "expired"
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    assert check(session, settings, new).allowed
    assert check(session, settings, old).reason == "revoked"
    age = key_age.of_key(key)
    assert age.age_days() < 0.01
    assert age.expires_at == age.issued_at + timedelta(days=30)


def test_a_jwt_of_an_old_key_is_refused_too(session, settings, issue):
    set_env_max(session, 30)
    key, _ = issue()
    jwt, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id, ttl_seconds=600)
    assert check(session, settings, jwt).allowed
    backdate(session, key, 30)
    assert check(session, settings, jwt).reason == "expired"


def test_the_key_shows_its_age_and_when_it_expires_by_age(session, settings, issue):
    key, _ = issue()
    assert serialize.key(key)["expires_by_age_at"] is None
    set_env_max(session, 30)
    issued = backdate(session, key, 3)
    shown = serialize.key(key)
    assert shown["max_key_age_days"] == 30
    assert shown["token_issued_at"] == serialize.iso(issued)
    assert shown["expires_by_age_at"] == serialize.iso(issued + timedelta(days=30))
    assert 2.99 < shown["age_days"] < 3.01


@pytest.mark.parametrize("bad", [0, -1, 3651, "30", 1.5, True])
def test_a_maximum_age_is_whole_days_from_1_to_3650(session, bad, world):
    with pytest.raises(ValidationError) as refused:
        set_env_max(session, bad)
    assert refused.value.field == "max_key_age_days"
    with pytest.raises(ValidationError):
        roles.update_role(session, actor=ACTOR, ref=world.role.id, max_key_age_days=bad)


def test_setting_changes_are_audited(session, world):
    set_env_max(session, 30)
    roles.update_role(session, actor=ACTOR, ref=world.role.id, max_key_age_days=7)
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.action.in_(["environment.update", "role.update"]))
    ).all()
    changes = {
        (e.action, e.before["max_key_age_days"], e.after["max_key_age_days"]) for e in events
    }
    assert ("environment.update", None, 30) in changes
    assert ("role.update", None, 7) in changes


def test_a_maximum_age_never_expires_the_last_working_full_admin(session, settings):
    key, _ = bootstrap_admin(session, settings, actor=ACTOR, client_name="root", environment="prod")
    session.flush()
    backdate(session, key, 40)
    assert privileges.working_full_admins(session) == 1
    with pytest.raises(ConflictError) as refused:
        set_env_max(session, 30)
    assert refused.value.reason == "last_admin"
    session.expire_all()
    assert catalogue.get_environment(session, "prod").max_key_age_days is None
    with pytest.raises(ConflictError):
        roles.update_role(session, actor=ACTOR, ref=key.client.role_id, max_key_age_days=30)
    # Forced (the CLI's --force-last-admin), the admin's aged key stops counting as working.
    catalogue.update_environment(
        session,
        actor=ACTOR,
        tag="prod",
        max_key_age_days=30,
        caller=privileges.operator(force=True),
    )
    assert privileges.working_full_admins(session) == 0
    set_env_max(session, 60)  # from none working, any change is allowed
    assert privileges.working_full_admins(session) == 1
