"""The embedded schedule: scans of watched repositories run under `keyward serve`, and it stops."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from keystore.limits_factory import make_usage_recorder
from keystore.models import KeyAgeReminder, ScanRun
from keystore.services import admins, catalogue, repositories
from rotation import dispatch
from rotation.celery_app import make_celery
from rotation.context import TaskContext
from tests.gitrepos import Repo, git_identity
from tests.worlds import ACTOR
from web.background import EmbeddedSchedule
from web.serve import KeywardServer

__all__ = ["git_identity"]


@pytest.fixture
def ctx(connection, settings, monkeypatch):
    monkeypatch.setattr(dispatch, "run_inline", True)
    sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    local = dataclasses.replace(settings, repo_allow_local=True, scan_timeout_seconds=10)
    context = TaskContext(
        settings=local, sessions=sessions, redis=None, usage=make_usage_recorder(None)
    )
    monkeypatch.setattr("rotation.context.current", lambda: context)
    return context


def test_a_tick_scans_the_repositories_that_are_due(ctx, session, tmp_path):
    origin = Repo(tmp_path / "origin")
    origin.commit("start", README="hi\n")
    repo = repositories.add_repository(
        session, ctx.settings, actor=ACTOR, url=f"file://{origin.path}"
    )
    session.flush()
    schedule = EmbeddedSchedule(interval_seconds=60, scan_interval_seconds=60)
    schedule.tick()
    runs = session.scalars(select(ScanRun).where(ScanRun.repository_id == repo.id)).all()
    assert [(r.trigger, r.status) for r in runs] == [("schedule", "succeeded")]
    schedule.tick()  # the next scan check waits for the scan interval
    assert len(session.scalars(select(ScanRun)).all()) == 1


def test_the_schedule_thread_runs_and_stops_cleanly(ctx):
    ticks, ticked = [], threading.Event()
    schedule = EmbeddedSchedule(interval_seconds=0.01, scan_interval_seconds=60)

    def tick():
        ticks.append(1)
        ticked.set()

    schedule.tick = tick
    schedule.start()
    try:
        assert ticked.wait(5)
    finally:
        assert schedule.stop(timeout=5)
    count = len(ticks)
    threading.Event().wait(0.05)
    assert len(ticks) == count


def test_keyward_serve_stops_its_schedule_when_its_worker_exits(settings):
    server = KeywardServer(settings, {"bind": "127.0.0.1:0", "workers": 1})
    server.schedule = EmbeddedSchedule(interval_seconds=60, scan_interval_seconds=60).start()
    server.cfg.worker_exit(None, None)
    assert not server.schedule._thread.is_alive()


def test_a_tick_sends_the_key_age_reminders_that_are_due(ctx, session, issue):
    catalogue.update_environment(session, actor=ACTOR, tag="prod", max_key_age_days=30)
    key, _ = issue()
    max(key.tokens, key=lambda row: row.id).created_at -= timedelta(days=25)
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    session.flush()
    EmbeddedSchedule(interval_seconds=60, scan_interval_seconds=60).tick()
    reminders = session.scalars(select(KeyAgeReminder)).all()
    # No SMTP server configured: recorded and skipped, once per recipient.
    assert sorted((r.recipient, r.state) for r in reminders) == [
        ("ada@example.com", "skipped"),
        ("ops@acme.example", "skipped"),
    ]


def test_beat_schedules_the_reminders_every_check_interval(settings):
    app = make_celery(dataclasses.replace(settings, key_refresh_check_seconds=600))
    entry = app.conf.beat_schedule["remind-key-refresh"]
    assert (entry["task"], entry["schedule"]) == ("keyward.remind_key_refresh", 600.0)
