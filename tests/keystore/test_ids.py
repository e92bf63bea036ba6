"""Ids are never handed out twice, on either database.

SQLite without AUTOINCREMENT gives a new row max(id) + 1: deleting the newest client
and creating another gave the new one the old id, and with it the old one's usage,
audit trail and incidents.  Each kind of object is created, deleted and created
again; the second id must be greater.
"""

from __future__ import annotations

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError

from keystore import client_jwt, oidc
from keystore.db import make_engine, make_session_factory, transaction
from keystore.migrate import alembic_config, upgrade
from keystore.models import Environment
from keystore.services import admins, catalogue, clients, keys, repositories, roles, webhooks
from tests.fakedns import dns
from tests.worlds import ACTOR, world

__all__ = ["dns", "world"]
PUBLIC = "https://93.184.215.14"


def recreated_ids(create, delete) -> tuple[int, int]:
    first = create(1)
    first_id = first.id
    delete(first)
    return first_id, create(2).id


def kinds(session, settings, world):
    """(kind, create(n), delete(row)) for every object the operator can delete."""
    client_id = world.client.id
    return [
        (
            "client",
            lambda n: clients.create_client(
                session, actor=ACTOR, name=f"c{n}", role=world.role.id, environments=["prod"]
            ),
            lambda row: clients.delete_client(session, actor=ACTOR, ref=row.id),
        ),
        (
            "key",
            lambda n: keys.issue_key(
                session,
                settings,
                actor=ACTOR,
                client_ref=client_id,
                name=f"k{n}",
                environment="prod",
            )[0],
            lambda row: keys.delete_key(session, actor=ACTOR, key_id=row.id),
        ),
        (
            "role",
            lambda n: roles.create_role(session, actor=ACTOR, name=f"r{n}"),
            lambda row: roles.delete_role(session, actor=ACTOR, ref=row.id),
        ),
        (
            "environment",
            lambda n: catalogue.create_environment(session, actor=ACTOR, tag=f"e{n}", name=f"e{n}"),
            lambda row: (session.delete(session.get(Environment, row.id)), session.flush()),
        ),
        (
            "project",
            lambda n: catalogue.create_project(session, actor=ACTOR, name=f"p{n}"),
            lambda row: catalogue.delete_project(session, actor=ACTOR, name=row.name),
        ),
        (
            "endpoint",
            lambda n: catalogue.declare_endpoint(
                session, actor=ACTOR, name=f"x.e{n}", section="X", method="GET", path=f"/e{n}"
            ),
            lambda row: catalogue.delete_endpoint(session, actor=ACTOR, name=row.name),
        ),
        (
            "admin",
            lambda n: admins.create_admin(
                session, actor=ACTOR, name=f"a{n}", email=f"a{n}@example.com", role="viewer"
            ),
            lambda row: admins.delete_admin(session, actor=ACTOR, email=row.email),
        ),
        (
            "repository",
            lambda n: repositories.add_repository(
                session, settings, actor=ACTOR, url=f"https://github.com/acme/r{n}"
            ),
            lambda row: repositories.remove_repository(session, actor=ACTOR, repo_id=row.id),
        ),
        (
            "webhook",
            lambda n: webhooks.create_webhook(
                session, settings, actor=ACTOR, name=f"w{n}", kind="json", url=f"{PUBLIC}/w{n}"
            )[0],
            lambda row: webhooks.delete_webhook(session, actor=ACTOR, webhook_id=row.id),
        ),
        (
            "jwt key",
            lambda n: client_jwt.add_key(
                session, settings, actor=ACTOR, client_ref=client_id, algorithm="HS256"
            )[0],
            lambda row: client_jwt.delete_key(
                session, actor=ACTOR, client_ref=client_id, key_id=row.id
            ),
        ),
        (
            "issuer",
            lambda n: oidc.add_issuer(
                session,
                settings,
                actor=ACTOR,
                name=f"i{n}",
                issuer=f"{PUBLIC}/i{n}",
                jwks_url=f"{PUBLIC}/i{n}/jwks",
                audience="keyward",
                clients=[client_id],
            ),
            lambda row: oidc.delete_issuer(session, actor=ACTOR, issuer_id=row.id),
        ),
    ]


KINDS = [
    "client",
    "key",
    "role",
    "environment",
    "project",
    "endpoint",
    "admin",
    "repository",
    "webhook",
    "jwt key",
    "issuer",
]


@pytest.mark.parametrize("kind", KINDS)
def test_a_deleted_objects_id_is_never_given_again(session, settings, world, dns, kind):
    [(_, create, delete)] = [k for k in kinds(session, settings, world) if k[0] == kind]
    first, second = recreated_ids(create, delete)
    assert second > first


def sqlite_objects(connection) -> dict[str, str]:
    rows = connection.exec_driver_sql(
        "SELECT type || ' ' || name, sql FROM sqlite_master WHERE sql IS NOT NULL"
    )
    return dict(rows.all())


def test_every_numbered_sqlite_table_uses_autoincrement(tmp_path):
    """Tables added by later migrations too: each needs ``sqlite_autoincrement=True``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        numbered = [
            name
            for name in inspect(connection).get_table_names()
            if [
                c["type"].__class__.__name__
                for c in inspect(connection).get_columns(name)
                if c["primary_key"]
            ]
            == ["INTEGER"]
        ]
        schema = sqlite_objects(connection)
    engine.dispose()
    assert {"clients", "api_keys", "roles", "audit_events", "webhooks"} <= set(numbered)
    assert [name for name in numbered if "AUTOINCREMENT" not in schema[f"table {name}"]] == []


def populate(session, settings) -> int:
    """A small world with a deleted newest client; returns that client's id."""
    catalogue.declare_endpoint(session, actor=ACTOR, name="orders.list", section="Orders")
    roles.create_role(session, actor=ACTOR, name="reader", endpoints=["orders.list"])
    for name in ("acme", "beta", "gamma"):
        client = clients.create_client(
            session, actor=ACTOR, name=name, role="reader", environments=["prod", "dev"]
        )
        keys.issue_key(
            session, settings, actor=ACTOR, client_ref=client.id, name="main", environment="prod"
        )
    clients.delete_client(session, actor=ACTOR, ref="gamma")
    return client.id


def dump(connection) -> dict[str, list]:
    return {
        name: connection.exec_driver_sql(f'SELECT * FROM "{name}" ORDER BY 1').all()  # noqa: S608
        for name in inspect(connection).get_table_names()
        if name != "alembic_version"
    }


def test_an_old_sqlite_file_keeps_its_data_and_stops_reusing_ids(tmp_path, settings):
    before_revision = (
        ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("0017").down_revision
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, before_revision)
    with transaction(make_session_factory(engine)) as session:
        catalogue.ensure_builtin_endpoints(session)
        deleted = populate(session, settings)
    with engine.connect() as connection:
        old_rows, old_schema = dump(connection), sqlite_objects(connection)
    assert "AUTOINCREMENT" not in old_schema["table clients"]

    upgrade(engine, "0017")  # this migration alone: later ones may add tables of their own
    with engine.connect() as connection:
        assert dump(connection) == old_rows  # every row of every table, ids included
        schema = sqlite_objects(connection)
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    # Same indexes and triggers, word for word; the tables differ by AUTOINCREMENT only.
    assert {k: v for k, v in schema.items() if not k.startswith("table ")} == {
        k: v for k, v in old_schema.items() if not k.startswith("table ")
    }
    assert schema.keys() - {"table sqlite_sequence"} == old_schema.keys()
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        again = clients.create_client(
            session, actor=ACTOR, name="delta", role="reader", environments=["prod"]
        )
        assert again.id > deleted  # gamma's id stays gamma's, in the audit trail too
        key_ids = [k.id for k in keys.list_keys(session, client_ref="acme")]
        assert key_ids  # the keys survived the rebuild of the table they reference
    with engine.connect() as connection, pytest.raises(DBAPIError, match="append-only"):
        connection.exec_driver_sql("DELETE FROM audit_events")
    engine.dispose()


def test_the_counters_start_above_ids_only_the_audit_trail_remembers(tmp_path, settings):
    """An object deleted before the migration, at the top of its table, keeps its id."""
    before_revision = (
        ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision("0017").down_revision
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, before_revision)
    with transaction(make_session_factory(engine)) as session:
        catalogue.ensure_builtin_endpoints(session)
        deleted = populate(session, settings)
        project = catalogue.create_project(session, actor=ACTOR, name="gone")
        catalogue.delete_project(session, actor=ACTOR, name="gone")
    upgrade(engine)
    with transaction(make_session_factory(engine)) as session:
        assert catalogue.create_project(session, actor=ACTOR, name="new").id > project.id
        client = clients.create_client(
            session, actor=ACTOR, name="delta", role="reader", environments=["prod"]
        )
        assert client.id > deleted
    engine.dispose()
