from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from keystore.models import AuditEvent
from keystore.services import audit, clients
from tests.worlds import ACTOR


def test_every_change_is_audited_with_before_and_after(session, world):
    clients.update_client(session, actor="admin:7", ref="acme", description="changed")
    event = audit.list_events(session, action="client.update")[0]
    assert event.actor == "admin:7"
    assert event.before["description"] == ""
    assert event.after["description"] == "changed"
    assert event.object_id == str(world.client.id)


def test_filters_and_pagination(session, world):
    for i in range(5):
        clients.update_client(session, actor=ACTOR, ref="acme", description=str(i))
    page1 = audit.list_events(session, action="client.update", limit=2)
    page2 = audit.list_events(session, action="client.update", limit=2, before_id=page1[-1].id)
    assert [e.after["description"] for e in page1 + page2] == ["4", "3", "2", "1"]
    assert audit.list_events(session, object_type="role")[0].action == "role.create"
    future = datetime.now(UTC) + timedelta(minutes=1)
    assert audit.list_events(session, since=future) == []
    assert len(audit.list_events(session, until=future, actor=ACTOR, limit=500)) >= 5


@pytest.mark.parametrize(
    "statement",
    [update(AuditEvent).values(summary="rewritten"), delete(AuditEvent)],
)
def test_the_trail_is_append_only_in_the_database(session, world, statement):
    with pytest.raises(DatabaseError, match="append-only"), session.begin_nested():
        session.execute(statement)
