from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from keystore.db import make_engine
from keystore.migrate import downgrade, pending, upgrade
from keystore.models import Base


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
