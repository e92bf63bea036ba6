"""How a process learns that decision facts changed: PostgreSQL ``LISTEN``, or SQLite's epoch.

PostgreSQL: the migration's triggers ``NOTIFY keyward_decisions`` in the
transaction that changes a watched table, so the notice is sent exactly when
the change commits, whatever made it (API, console, CLI, a Celery task, psql).
Each process keeps one listener thread with its own connection (started on
first use, so after gunicorn forks its workers, and never in the CLI, which
decides nothing).  Each notice bumps the generation the cache was filled
under.  The listener proves it still hears the server with a heartbeat query
every :data:`HEARTBEAT_SECONDS`; if the connection drops or a heartbeat is
late, :meth:`PostgresListener.generation` answers ``None`` and every decision
reads the database until the listener is back and has started a new
generation (so nothing read before the outage is served after it).

Redis pub/sub was the other candidate: it would need the notice to be sent
after commit by every writer (a psql session or a forgotten code path would
not), and a publish lost between commit and send is silent.  A trigger cannot
be forgotten and ``NOTIFY`` is transactional.

SQLite has no notifications: triggers bump ``decision_epoch.value`` in the
changing transaction and each decision reads that one row (a few
microseconds), which also covers another process (the CLI) writing the file.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import psycopg
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from keystore.decision_cache import CHANNEL, DecisionCache
from keystore.models import DecisionEpoch

log = logging.getLogger("keyward.keystore")

HEARTBEAT_SECONDS = 1.0
# Missing this many heartbeats' worth of time makes the cache untrusted.
STALE_AFTER_SECONDS = 3 * HEARTBEAT_SECONDS
CONNECT_TIMEOUT_SECONDS = 3
RECONNECT_SECONDS = (0.05, 0.2, 1.0, 2.0)
EPOCH = select(DecisionEpoch.value).where(DecisionEpoch.id == 1)


class SqliteEpoch:
    """The embedded mode's freshness: the epoch row the triggers bump."""

    def generation(self, session: Session) -> int | None:
        return session.execute(EPOCH).scalar()


class PostgresListener:
    """One ``LISTEN`` connection and thread per process and database (see the module doc)."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._generation = 0
        self._listening = False
        self._heard_at = 0.0
        self.reconnect_seconds = RECONNECT_SECONDS
        self.backend_pid: int | None = None

    @classmethod
    def shared(cls, database_url: str) -> PostgresListener:
        """This process's listener for the database (gunicorn workers each get their own)."""
        conninfo = make_url(database_url).set(drivername="postgresql")
        key = conninfo.render_as_string(hide_password=False)
        with _LISTENERS_LOCK:
            if key not in _LISTENERS:
                _LISTENERS[key] = cls(key)
            return _LISTENERS[key]

    def generation(self, session: Session | None = None) -> int | None:
        if self._thread is None:
            self._start()
        if not self._listening or time.monotonic() - self._heard_at > STALE_AFTER_SECONDS:
            return None
        return self._generation

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="keyward-decision-listener", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        failures = 0
        while True:
            try:
                self._listen()
            except (psycopg.Error, OSError) as exc:
                # A connection that was working is retried at once; a failing one less often
                # (and logged once a minute or so, not on every attempt).
                failures = 0 if self._listening else failures + 1
                self._listening = False
                if failures % 30 in (0, 1):
                    log.warning(
                        "decision cache: not listening (%s); deciding from the database", exc
                    )
            time.sleep(self.reconnect_seconds[min(failures, len(self.reconnect_seconds) - 1)])

    def _listen(self) -> None:
        with psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            # A silent network must fail the heartbeat rather than hang it.
            keepalives=1,
            keepalives_idle=5,
            tcp_user_timeout=int(STALE_AFTER_SECONDS * 1000),
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            self.backend_pid = connection.info.backend_pid
            # Listening from now on: whatever was cached before may have missed a change.
            self._heard(new_generation=True)
            self._listening = True
            log.info("decision cache: listening for changes")
            while True:
                for _notice in connection.notifies(timeout=HEARTBEAT_SECONDS):
                    self._heard(new_generation=True)
                connection.execute("SELECT 1")
                self._heard(new_generation=False)

    def _heard(self, *, new_generation: bool) -> None:
        if new_generation:
            self._generation += 1
        self._heard_at = time.monotonic()


_LISTENERS: dict[str, PostgresListener] = {}
_LISTENERS_LOCK = threading.Lock()


def _forget_after_fork() -> None:
    # A forked child shares no thread and must not share the parent's connection.
    global _LISTENERS_LOCK
    _LISTENERS.clear()
    _LISTENERS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)


def make_decision_cache(settings) -> DecisionCache | None:
    """The process's decision cache for these settings; None when KEYWARD_DECISION_CACHE=off."""
    if not settings.decision_cache:
        return None
    url = make_url(settings.database_url)
    if url.get_backend_name() == "postgresql":
        freshness = PostgresListener.shared(settings.database_url)
    else:
        freshness = SqliteEpoch()
    return DecisionCache(freshness, max_entries=settings.decision_cache_entries)
