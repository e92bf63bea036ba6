"""Incident step leases: one pending task per incident, and the sweeper's view of them."""

from datetime import UTC, datetime, timedelta

from keystore.models import Incident
from rotation import steps
from rotation.incidents import stuck_incidents
from rotation.intake import Report, record_reports
from tests.worlds import issue, world

__all__ = ["issue", "world"]

TTL = timedelta(seconds=60)


def open_incident(session, settings, issue) -> Incident:
    _, token = issue(environment="dev")
    intake = record_reports(session, settings, origin="github", reports=[Report(token=token)])
    session.flush()
    return session.get(Incident, intake.incident_ids[0])


def test_a_lease_is_claimed_once_until_it_runs_out(session, settings, issue):
    incident = open_incident(session, settings, issue)
    now = datetime.now(UTC)
    first = steps.claim(session, incident.id, ttl=TTL, now=now)
    assert first is not None
    assert steps.claim(session, incident.id, ttl=TTL, now=now + timedelta(seconds=59)) is None
    later = steps.claim(session, incident.id, ttl=TTL, now=now + timedelta(seconds=61))
    assert later not in (None, first)


def test_a_notified_incident_is_never_claimed(session, settings, issue):
    incident = open_incident(session, settings, issue)
    incident.state = "notified"
    session.flush()
    assert steps.claim(session, incident.id, ttl=TTL) is None


def test_a_task_whose_lease_was_taken_over_stops(session, settings, issue):
    incident = open_incident(session, settings, issue)
    old = steps.claim(session, incident.id, ttl=TTL, now=datetime.now(UTC) - 2 * TTL)
    new = steps.claim(session, incident.id, ttl=TTL)
    session.refresh(incident)
    assert steps.hold(incident, old, ttl=TTL) is None
    assert steps.hold(incident, new, ttl=TTL) == new
    # A direct call (no lease) takes over; the previous holder then stops.
    taken = steps.hold(incident, None, ttl=TTL)
    assert taken not in (None, new)
    assert steps.hold(incident, new, ttl=TTL) is None


def test_the_sweeper_leaves_incidents_whose_task_is_pending(session, settings, issue):
    incident = open_incident(session, settings, issue)
    now = datetime.now(UTC)
    incident.updated_at = now - timedelta(minutes=5)
    session.flush()
    assert stuck_incidents(session, older_than=timedelta(seconds=60), now=now) == [incident.id]
    steps.claim(session, incident.id, ttl=TTL, now=now)
    session.refresh(incident)
    incident.updated_at = now - timedelta(minutes=5)
    session.flush()
    assert stuck_incidents(session, older_than=timedelta(seconds=60), now=now) == []
    later = now + TTL + timedelta(seconds=1)
    assert stuck_incidents(session, older_than=timedelta(seconds=60), now=later) == [incident.id]


def test_a_task_that_could_not_be_sent_is_due_at_the_next_sweep(session, settings, issue):
    incident = open_incident(session, settings, issue)
    lease = steps.claim(session, incident.id, ttl=TTL)
    steps.release(session, incident.id, "someone-else")
    assert stuck_incidents(session, older_than=TTL) == []
    steps.release(session, incident.id, lease)
    assert stuck_incidents(session, older_than=TTL) == [incident.id]


def test_retry_countdowns_stay_well_below_the_visibility_timeout(settings):
    import dataclasses

    tight = dataclasses.replace(settings, task_visibility_seconds=40)
    assert steps.retry_cap_seconds(tight) == 10
    assert steps.retry_cap_seconds(settings) == min(120, settings.task_visibility_seconds // 4)
    assert steps.lease_ttl(tight) == timedelta(seconds=50)
