"""Read sessions that keep their writes, as production's AUTOCOMMIT read sessions do.

The web fixtures make every session a savepoint of the test's transaction, and a
read session is closed without commit, so a write made during a decision (a
client JWT's ``jti``) would vanish; production's read sessions autocommit it.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker


class _KeepingSession(Session):
    def __exit__(self, kind, value, traceback):
        if kind is None:
            self.commit()  # releases the savepoint into the test's transaction
        return super().__exit__(kind, value, traceback)


@pytest.fixture
def autocommit_reads(app, connection):
    app.extensions["keyward"].read_sessions = sessionmaker(
        bind=connection,
        class_=_KeepingSession,
        join_transaction_mode="create_savepoint",
        expire_on_commit=False,
    )
