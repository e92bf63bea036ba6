"""A portal account belongs to one client; invitations never move it to another."""

import pytest
from sqlalchemy import select

from keystore.errors import ConflictError
from keystore.models import PortalUser
from keystore.services import clients, portal
from tests.worlds import ACTOR, world

__all__ = ["world"]
PASSWORD = "correct horse battery staple 42"


def test_an_invitation_cannot_take_another_clients_portal_user(session, settings, world):
    other = clients.create_client(session, actor=ACTOR, name="other", role=None, environments=[])
    _, token = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="dev@acme.example"
    )
    user = portal.accept_invitation(session, settings, token=token, password=PASSWORD)
    with pytest.raises(ConflictError) as refused:
        portal.invite(session, settings, actor=ACTOR, client_id=other.id, email="DEV@acme.example")
    assert refused.value.reason == "portal_user_of_other_client"
    # Re-inviting to the same client (a password reset) still works.
    _, again = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="dev@acme.example"
    )
    assert portal.accept_invitation(session, settings, token=again, password=PASSWORD).id == (
        user.id
    )


def test_an_invitation_sent_before_the_account_existed_is_refused_too(session, settings, world):
    other = clients.create_client(session, actor=ACTOR, name="other", role=None, environments=[])
    _, for_other = portal.invite(
        session, settings, actor=ACTOR, client_id=other.id, email="dev@acme.example"
    )
    _, for_acme = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="dev@acme.example"
    )
    portal.accept_invitation(session, settings, token=for_acme, password=PASSWORD)
    with pytest.raises(ConflictError):
        portal.accept_invitation(session, settings, token=for_other, password=PASSWORD)
    owner = session.scalar(
        select(PortalUser.client_id).where(PortalUser.email == "dev@acme.example")
    )
    assert owner == world.client.id
