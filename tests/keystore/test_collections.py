"""API collections: roles grant them, the decision sees every change, the privilege rule holds."""

import pytest
from sqlalchemy import select

from keystore import privileges
from keystore.decision import Request, decide
from keystore.errors import ConflictError, ForbiddenError, ValidationError
from keystore.models import AuditEvent
from keystore.services import catalogue, clients, collections, roles
from keystore.services.bootstrap import bootstrap_admin
from tests.worlds import ACTOR

CREATE = Request(endpoint="orders.create", environment="prod", project="shop")


def reason(session, settings, token, request=CREATE):
    return decide(session, settings, credential=token, request=request).reason


def test_a_role_grants_the_endpoints_of_its_collections_from_the_next_request(
    session, settings, issue, world
):
    _, token = issue()
    assert reason(session, settings, token) == "endpoint_denied"
    writers = collections.create_collection(
        session, actor=ACTOR, name="writers", endpoints=["orders.create"]
    )
    roles.update_role(session, actor=ACTOR, ref="reader", collections=["writers"])
    session.flush()
    assert reason(session, settings, token) == "allowed"
    collections.update_collection(session, actor=ACTOR, ref=writers.id, remove=["orders.create"])
    session.flush()
    assert reason(session, settings, token) == "endpoint_denied"
    collections.update_collection(session, actor=ACTOR, ref="writers", add=["orders.create"])
    session.flush()
    assert reason(session, settings, token) == "allowed"
    roles.update_role(session, actor=ACTOR, ref="reader", collections=[])
    session.flush()
    assert reason(session, settings, token) == "endpoint_denied"
    assert privileges.grants_of(world.client).endpoints == {"orders.list", "debug.dump"}


def test_a_collection_a_role_grants_is_not_deleted_and_an_unused_one_is(session, world):
    collections.create_collection(session, actor=ACTOR, name="writers", endpoints=["orders.create"])
    roles.update_role(session, actor=ACTOR, ref="reader", collections=["writers"])
    with pytest.raises(ConflictError, match="'reader'") as info:
        collections.delete_collection(session, actor=ACTOR, ref="writers")
    assert info.value.reason == "collection_in_use"
    assert collections.get_collection(session, "writers").endpoints
    roles.update_role(session, actor=ACTOR, ref="reader", collections=[])
    collections.delete_collection(session, actor=ACTOR, ref="writers")
    session.flush()
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "collection")
    ).all()
    assert actions == ["collection.create", "collection.delete"]


def test_deleting_an_endpoint_takes_it_out_of_collections_and_says_so(session, world):
    collections.create_collection(
        session, actor=ACTOR, name="writers", endpoints=["orders.create", "orders.list"]
    )
    catalogue.delete_endpoint(session, actor=ACTOR, name="orders.create")
    session.expire_all()
    assert [ep.name for ep in collections.get_collection(session, "writers").endpoints] == [
        "orders.list"
    ]
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "endpoint.delete")).one()
    assert "removed from collections writers" in event.summary
    assert event.before["collections"] == ["writers"]


def test_unknown_names_are_refused_and_change_nothing(session, world):
    with pytest.raises(ValidationError) as info:
        collections.create_collection(session, actor=ACTOR, name="x", endpoints=["nope"])
    assert info.value.field == "endpoints"
    with pytest.raises(ValidationError) as info:
        roles.update_role(session, actor=ACTOR, ref="reader", collections=["nope"])
    assert info.value.reason == "unknown_collection"
    collections.create_collection(session, actor=ACTOR, name="x")
    with pytest.raises(ConflictError):
        collections.create_collection(session, actor=ACTOR, name="x")


def test_a_caller_never_grants_through_a_collection_what_it_does_not_hold(session, world):
    acme = privileges.caller_for_client(session, world.client.id)  # orders.list, debug.dump
    with pytest.raises(ForbiddenError, match=r"orders\.create"):
        collections.create_collection(
            session, actor=ACTOR, name="mine", endpoints=["orders.create"], caller=acme
        )
    collections.create_collection(session, actor=ACTOR, name="writers", endpoints=["orders.create"])
    with pytest.raises(ForbiddenError) as info:
        roles.create_role(session, actor=ACTOR, name="sneaky", collections=["writers"], caller=acme)
    assert info.value.reason == "privilege_exceeded"
    readers = collections.create_collection(
        session, actor=ACTOR, name="readers", endpoints=["orders.list"], caller=acme
    )
    roles.create_role(session, actor=ACTOR, name="other", collections=["readers"], caller=acme)
    with pytest.raises(ForbiddenError, match=r"orders\.create"):
        collections.update_collection(
            session, actor=ACTOR, ref=readers.id, add=["orders.create"], caller=acme
        )
    assert [ep.name for ep in readers.endpoints] == ["orders.list"]


def test_a_client_never_changes_a_collection_its_own_role_grants(session, world):
    collections.create_collection(session, actor=ACTOR, name="readers", endpoints=["orders.list"])
    roles.update_role(session, actor=ACTOR, ref="reader", collections=["readers"])
    acme = privileges.caller_for_client(session, world.client.id)
    with pytest.raises(ForbiddenError) as info:
        collections.update_collection(session, actor=ACTOR, ref="readers", remove=[], caller=acme)
    assert info.value.reason == "own_privileges"


def test_editing_a_collection_a_more_powerful_role_grants_is_refused(session, world):
    # "shared" is granted by a role whose client holds orders.create too: a caller holding
    # only orders.list may not change what that client can do, even within orders.list.
    collections.create_collection(session, actor=ACTOR, name="shared", endpoints=["orders.list"])
    roles.create_role(
        session, actor=ACTOR, name="writer", endpoints=["orders.create"], collections=["shared"]
    )
    clients.create_client(session, actor=ACTOR, name="big", role="writer", environments=["prod"])
    lesser = privileges.Caller(
        privileges.Grants(endpoints=frozenset({"orders.list"}), environments=frozenset({"prod"}))
    )
    with pytest.raises(ForbiddenError, match=r"orders\.create"):
        collections.update_collection(
            session, actor=ACTOR, ref="shared", endpoints=[], caller=lesser
        )
    collections.create_collection(session, actor=ACTOR, name="w", endpoints=["orders.create"])
    with pytest.raises(ForbiddenError):
        collections.delete_collection(session, actor=ACTOR, ref="w", caller=lesser)


def test_builtins_held_through_a_collection_make_a_full_admin_kept_by_the_last_admin_rule(
    session, settings
):
    bootstrap_admin(session, settings, actor=ACTOR, client_name="root", environment="prod")
    builtin = sorted(catalogue.BUILTIN_ENDPOINTS)
    collections.create_collection(session, actor=ACTOR, name="admin-api", endpoints=builtin)
    roles.update_role(
        session, actor=ACTOR, ref="keyward-admin", endpoints=[], collections=["admin-api"]
    )
    session.flush()
    root = clients.get_client(session, "root")
    assert privileges.caller_for_client(session, root.id).grants.everything
    assert privileges.working_full_admins(session) == 1
    with pytest.raises(ConflictError) as info:
        collections.update_collection(
            session, actor=ACTOR, ref="admin-api", remove=["keyward.keys.write"]
        )
    assert info.value.reason == "last_admin"
    session.expire_all()
    assert "keyward.keys.write" in {
        ep.name for ep in collections.get_collection(session, "admin-api").endpoints
    }
