"""Fixtures shared by the tests of several packages: a small operator's world."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from keystore import tokens
from keystore.models import Client, KeyToken, Role
from keystore.services import catalogue, clients, keys, roles

ACTOR = "test"


@dataclass
class World:
    role: Role
    client: Client


@pytest.fixture
def world(session) -> World:
    for name, dev_only in [("orders.list", False), ("orders.create", False), ("debug.dump", True)]:
        catalogue.declare_endpoint(
            session,
            actor=ACTOR,
            name=name,
            section="Orders",
            method="GET",
            path=f"/{name.replace('.', '/')}",
            dev_only=dev_only,
        )
    catalogue.create_project(session, actor=ACTOR, name="shop")
    catalogue.create_project(session, actor=ACTOR, name="billing")
    role = roles.create_role(
        session, actor=ACTOR, name="reader", endpoints=["orders.list", "debug.dump"]
    )
    client = clients.create_client(
        session,
        actor=ACTOR,
        name="acme",
        role="reader",
        environments=["dev", "prod"],
        projects=["shop"],
        contact_email="ops@acme.example",
    )
    return World(role=role, client=client)


@pytest.fixture
def issue(session, settings, world):
    """Issue a key for the world's client; returns (key, token)."""

    def _issue(**overrides):
        options = {"name": "main", "environment": "prod", **overrides}
        return keys.issue_key(session, settings, actor=ACTOR, client_ref=world.client.id, **options)

    return _issue


def find_token(session, settings, token: str) -> KeyToken | None:
    """The stored row of a token in any state, or None (tests look their tokens up by value)."""
    digest = tokens.digest(token, settings.pepper_bytes)
    return session.scalar(select(KeyToken).where(KeyToken.digest == digest))
