import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from keystore.db import make_engine
from keystore.migrate import downgrade, pending, upgrade
from keystore.models import Base
from tests.databases import recreate_database


def test_migrations_build_exactly_the_models(db_engine):
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert not pending(db_engine)


def test_migrate_is_idempotent_and_reversible(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    assert pending(engine)
    upgrade(engine)
    upgrade(engine)
    assert not pending(engine)
    assert "key_tokens" in inspect(engine).get_table_names()
    downgrade(engine, "base")
    assert "key_tokens" not in inspect(engine).get_table_names()
    engine.dispose()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_existing_console_people_become_admins(tmp_path, request, dialect):
    """0016 gives every person who could already do everything in the console the admin role."""
    if dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'people.db'}"
    else:
        url = recreate_database(
            request.getfixturevalue("postgres_url"), "keyward_people", migrate=False
        )
    engine = make_engine(url)
    upgrade(engine, "0012")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO admins (name, email, notify_leaks, created_at) "
                "VALUES ('Ada', 'ada@example.com', true, '2026-01-01 00:00:00')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT role FROM admins")).scalar_one() == "admin"
    downgrade(engine, "0012")
    assert "role" not in {c["name"] for c in inspect(engine).get_columns("admins")}
    engine.dispose()
