"""The containment rule itself (keystore.privileges), below any surface, on both databases."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from keystore import privileges
from keystore.db import make_engine, make_session_factory, transaction
from keystore.errors import ConflictError, ForbiddenError, ValidationError
from keystore.models import ApiKey, Client, Endpoint, Incident, Role
from keystore.privileges import EVERYTHING, OPERATOR, Caller, Grants
from keystore.services import admins, catalogue, clients, keys, roles
from keystore.services.bootstrap import ADMIN_ROLE, bootstrap_admin
from rotation import incidents, policy
from rotation.intake import Report, record_reports
from tests.databases import recreate_database
from tests.worlds import ACTOR


def grants(endpoints=(), environments=(), projects=()) -> Grants:
    return Grants(frozenset(endpoints), frozenset(environments), frozenset(projects))


@pytest.fixture
def root(session, settings):
    key, _ = bootstrap_admin(session, settings, actor=ACTOR, client_name="root", environment="prod")
    session.flush()
    return key.client


def test_grants_name_the_first_thing_they_lack():
    mine = grants(["a", "b"], ["prod"], ["shop"])
    assert mine.lacking(grants(["a"], ["prod"])) is None
    assert mine.lacking(grants(["a", "c", "z"])) == "endpoint 'c'"
    assert mine.lacking(grants(environments=["dev"])) == "environment 'dev'"
    assert mine.lacking(grants(projects=["billing"])) == "project 'billing'"
    assert mine.lacking(EVERYTHING) == "every privilege"
    assert EVERYTHING.lacking(grants(["anything"], ["any"], ["all"])) is None


def test_a_full_admin_client_holds_everything_and_others_their_own(session, root, world):
    assert privileges.caller_for_client(session, root.id).grants == EVERYTHING
    acme = privileges.caller_for_client(session, world.client.id)
    assert acme.grants == grants(["debug.dump", "orders.list"], ["dev", "prod"], ["shop"])
    assert (acme.client_id, acme.role_id) == (world.client.id, world.role.id)
    # One builtin short of the full set is not a full admin.
    roles.update_role(
        session,
        actor=ACTOR,
        ref=ADMIN_ROLE,
        endpoints=sorted(set(catalogue.BUILTIN_ENDPOINTS) - {"keyward.usage.read"}),
        caller=privileges.LEAK_RESPONSE,
    )
    assert not privileges.caller_for_client(session, root.id).grants.everything
    assert privileges.caller_for_client(session, 10**9).grants == Grants()


def test_working_full_admins_count_only_admins_that_can_still_act(session, root):
    assert privileges.working_full_admins(session) == 1
    key, role, environments = root.keys[0], root.role, list(root.environments)
    breakages = [
        ("enabled", root, False, True),
        ("state", key, "inactive", "active"),
        ("expires_at", key, datetime.now(UTC) - timedelta(seconds=1), None),
        ("environments", root, [e for e in environments if e.tag != "prod"], environments),
        ("role", root, None, role),
    ]
    for field, target, broken, repaired in breakages:
        setattr(target, field, broken)
        session.flush()
        assert privileges.working_full_admins(session) == 0, field
        setattr(target, field, repaired)
        session.flush()
        assert privileges.working_full_admins(session) == 1, field


def test_a_refused_demotion_leaves_the_session_as_it_was(session, root):
    with pytest.raises(ConflictError) as refused:
        clients.set_enabled(session, actor=ACTOR, ref=root.id, enabled=False)
    assert refused.value.reason == "last_admin"
    assert refused.value.status == 409
    # Undone in the savepoint, not merely left for the caller to roll back.
    session.expire_all()
    assert session.get(Client, root.id).enabled is True
    assert privileges.working_full_admins(session) == 1


def test_revoking_all_of_the_admins_keys_is_judged_once_for_the_batch(session, settings, root):
    keys.issue_key(session, settings, actor=ACTOR, client_ref=root.id, name="b", environment="dev")
    with pytest.raises(ConflictError):
        keys.revoke_client_keys(session, actor=ACTOR, client_ref=root.id)
    session.expire_all()
    assert [k.state for k in session.get(Client, root.id).keys] == ["active", "active"]
    # One key at a time: the first goes, the last stays.
    first, last = session.get(Client, root.id).keys
    keys.revoke_key(session, actor=ACTOR, key_id=first.id)
    with pytest.raises(ConflictError):
        keys.delete_key(session, actor=ACTOR, key_id=last.id)


def test_the_operator_may_force_and_the_leak_response_always_does(session, settings, root):
    key_id = root.keys[0].id
    forced = privileges.operator(force=True)
    keys.set_key_active(session, actor=ACTOR, key_id=key_id, active=False, caller=forced)
    assert privileges.working_full_admins(session) == 0
    keys.set_key_active(session, actor=ACTOR, key_id=key_id, active=True)
    # A leaked admin token is revoked even though it is the last one.
    roles.update_role(session, actor=ACTOR, ref=root.role_id, leak_action="revoke")
    token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref=root.id, name="leaked", environment="prod"
    )[1]
    keys.revoke_key(session, actor=ACTOR, key_id=key_id, caller=forced)
    intake = record_reports(session, settings, origin="manual", reports=[Report(token=token)])
    policy.act(session, settings, session.get(Incident, intake.incident_ids[0]))
    assert session.get(Incident, intake.incident_ids[0]).action == "revoke"
    assert privileges.working_full_admins(session) == 0


def test_a_client_caller_is_held_to_its_grants_everywhere(session, settings, root, world):
    acme = privileges.caller_for_client(session, world.client.id)
    with pytest.raises(ForbiddenError) as exc:
        roles.create_role(
            session, actor=ACTOR, name="x", endpoints=["keyward.audit.read"], caller=acme
        )
    assert exc.value.reason == "privilege_exceeded"
    with pytest.raises(ForbiddenError):
        keys.issue_key(
            session,
            settings,
            actor=ACTOR,
            client_ref=root.id,
            name="x",
            environment="prod",
            caller=acme,
        )
    with pytest.raises(ForbiddenError) as own:
        clients.update_client(session, actor=ACTOR, ref=world.client.id, projects=[], caller=acme)
    assert (own.value.reason, own.value.field) == ("own_privileges", "projects")
    key, _ = keys.issue_key(
        session, settings, actor=ACTOR, client_ref=world.client.id, name="m", environment="prod"
    )
    with pytest.raises(ForbiddenError) as own_limits:
        keys.update_key(session, actor=ACTOR, key_id=key.id, limits={"quota_daily": 5}, caller=acme)
    assert own_limits.value.field == "limits"
    keys.update_key(session, actor=ACTOR, key_id=key.id, name="renamed", caller=acme)
    with pytest.raises(ForbiddenError):
        admins.create_admin(session, actor=ACTOR, name="E", email="e@x.test", caller=acme)


def test_keyward_names_are_reserved_even_for_the_operator(session):
    with pytest.raises(ValidationError) as exc:
        catalogue.declare_endpoint(session, actor=ACTOR, name="Keyward.audit.write")
    assert exc.value.reason == "reserved_name"


def test_a_role_that_held_every_builtin_keeps_doing_so_after_an_upgrade(session, root, world):
    # Simulate a newer Keyward adding a builtin: remove one, as if it had never existed.
    session.delete(session.scalar(select(Endpoint).where(Endpoint.name == "keyward.usage.read")))
    session.flush()
    assert catalogue.ensure_builtin_endpoints(session) == 1
    session.expire_all()
    held = {ep.name for ep in session.scalar(select(Role).where(Role.name == ADMIN_ROLE)).endpoints}
    assert held == set(catalogue.BUILTIN_ENDPOINTS)
    assert "keyward.usage.read" not in {ep.name for ep in world.role.endpoints}
    assert privileges.working_full_admins(session) == 1


def test_people_and_the_operator_hold_everything():
    assert OPERATOR.grants.everything
    assert not OPERATOR.force
    assert privileges.LEAK_RESPONSE.force
    assert Caller(EVERYTHING).client_id is None


def test_a_replacement_token_goes_only_to_a_caller_holding_its_client(session, settings, world):
    key, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref=world.client.id, name="m", environment="prod"
    )
    roles.update_role(session, actor=ACTOR, ref=world.role.id, leak_action="regenerate")
    intake = record_reports(session, settings, origin="manual", reports=[Report(token=token)])
    incident = session.get(Incident, intake.incident_ids[0])
    policy.act(session, settings, incident)
    stranger = Caller(Grants(), client_id=10**9)
    with pytest.raises(ForbiddenError):
        incidents.pick_up_replacement(
            session, settings, actor=ACTOR, incident_id=incident.id, caller=stranger
        )
    # Once the client is gone, only someone holding everything may still pick it up.
    clients.delete_client(session, actor=ACTOR, ref=world.client.id)
    assert session.get(ApiKey, key.id) is None
    with pytest.raises(ForbiddenError):
        incidents.pick_up_replacement(
            session, settings, actor=ACTOR, incident_id=incident.id, caller=stranger
        )
    _, replacement = incidents.pick_up_replacement(
        session, settings, actor=ACTOR, incident_id=incident.id
    )
    assert replacement.startswith("kw_prod_")


def test_only_keyward_s_full_admins_may_name_a_role_keyward_admin(session, world):
    """`keyward bootstrap` completes that role with every builtin, promoting its clients."""
    acme = privileges.caller_for_client(session, world.client.id)
    with pytest.raises(ForbiddenError):
        roles.create_role(
            session, actor=ACTOR, name=ADMIN_ROLE, endpoints=["orders.list"], caller=acme
        )
    with pytest.raises(ForbiddenError):
        roles.update_role(session, actor=ACTOR, ref="reader", name=ADMIN_ROLE, caller=acme)
    assert roles.create_role(session, actor=ACTOR, name=ADMIN_ROLE).name == ADMIN_ROLE


def test_two_concurrent_demotions_cannot_both_pass(postgres_url, settings):
    """Each of two transactions revokes one of the only admin's two keys: one must be refused."""
    url = recreate_database(postgres_url, "privileges_race")
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) as session:
            first, _ = bootstrap_admin(
                session, settings, actor=ACTOR, client_name="root", environment="prod"
            )
            second, _ = bootstrap_admin(
                session, settings, actor=ACTOR, client_name="root", environment="prod", new_key=True
            )
            ids = (first.id, second.id)
        outcome = _race(engine, factory, ids)
        assert outcome == ["revoked", "last_admin"]
        with factory() as session:
            states = session.scalars(select(ApiKey.state).order_by(ApiKey.id)).all()
        assert sorted(states) == ["active", "revoked"]
    finally:
        engine.dispose()


def _race(engine, factory, ids) -> list[str]:
    """The first revocation holds its transaction open until the second waits on the rule."""
    results: list[str] = []
    holding = threading.Event()

    def revoke(key_id: int, *, hold: bool) -> None:
        try:
            with transaction(factory) as session:
                keys.revoke_key(session, actor=ACTOR, key_id=key_id)
                if hold:
                    holding.set()
                    _wait_for_a_blocked_advisory_lock(engine)
            results.append("revoked")
        except ConflictError as exc:
            results.append(exc.reason)

    first = threading.Thread(target=revoke, args=(ids[0],), kwargs={"hold": True})
    first.start()
    assert holding.wait(timeout=10)
    second = threading.Thread(target=revoke, args=(ids[1],), kwargs={"hold": False})
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)
    return results


def _wait_for_a_blocked_advisory_lock(engine, *, limit: float = 10.0) -> None:
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    deadline = time.monotonic() + limit
    with engine.connect() as connection:
        while connection.execute(query).scalar() == 0:
            assert time.monotonic() < deadline, "the second change never waited for the first"
            time.sleep(0.02)
            connection.rollback()
