"""The embedded mode's in-process queues: scans on their own thread; drain waits for chains."""

from __future__ import annotations

import threading

import pytest

from rotation import dispatch
from rotation.celery_app import LEAKS_QUEUE, SCANS_QUEUE, make_celery, queue_of
from tests.conftest import TEST_PEPPER


class FakeTask:
    """What dispatch needs of a Celery task: a name and ``apply``."""

    def __init__(self, name: str, body) -> None:
        self.name, self.body = name, body

    def apply(self, args=(), throw=True):
        self.body(*args)


@pytest.fixture
def embedded(monkeypatch):
    monkeypatch.setattr(dispatch, "run_inline", False)
    monkeypatch.setattr(dispatch, "use_broker", lambda: False)
    yield
    dispatch.drain(timeout=10)


def test_scans_have_their_own_queue_and_everything_else_is_the_leak_response():
    assert queue_of("keyward.scan_repository") == SCANS_QUEUE
    for name in ("keyward.handle_incident", "keyward.notify_incident", "keyward.schedule_scans"):
        assert queue_of(name) == LEAKS_QUEUE
    from keystore.config import Settings

    conf = make_celery(Settings.from_env({}, pepper=TEST_PEPPER, redis_url="redis://x")).conf
    assert conf.task_default_queue == LEAKS_QUEUE
    assert conf.task_routes["keyward.scan_repository"] == {"queue": SCANS_QUEUE}


def test_a_scan_that_hangs_in_process_does_not_delay_a_leak(embedded):
    release, leak_done = threading.Event(), threading.Event()
    scan = FakeTask("keyward.scan_repository", lambda: release.wait(10))
    leak = FakeTask("keyward.handle_incident", lambda: leak_done.set())
    dispatch.enqueue(scan)
    dispatch.enqueue(scan)
    dispatch.enqueue(leak)
    try:
        assert leak_done.wait(5), "the leak task waited behind the scans"
    finally:
        release.set()


def test_drain_waits_for_the_tasks_that_tasks_enqueue(embedded):
    done: list[str] = []
    notify = FakeTask("keyward.notify_incident", lambda: done.append("emails"))

    def handle():
        done.append("revoked")
        dispatch.enqueue(notify)

    dispatch.enqueue(FakeTask("keyward.handle_incident", handle))
    dispatch.drain(timeout=10)
    assert done == ["revoked", "emails"]
