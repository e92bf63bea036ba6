"""The facts behind access decisions, kept in this process until something changes.

Every decision reads the same few things per credential: a token's key, client,
environment and grants (:func:`keystore.decision.load_facts`), a client's grants
(:mod:`keystore.client_auth`), a client's JWT keys, a trusted issuer, the
endpoint catalogue.  They change rarely and are read on every gateway request,
so each process keeps what it read, *including what was not found*, keyed by
what it was asked.

Correctness rests on three rules:

* **Any change empties the cache.**  A trigger on every table listed in
  :data:`WATCHED_TABLES` sends a PostgreSQL ``NOTIFY`` in the changing
  transaction (delivered at commit, whatever made the change: API, console,
  CLI, leak response, psql), or bumps an epoch row on SQLite; see
  :mod:`keystore.cache_freshness`.  In this process a write to those tables
  empties the cache at once and again when its session commits, so the worker
  that made a change refuses on its very next request.
* **No certainty, no cache.**  The freshness source answers ``None`` when it
  is not sure it would hear a change (listener disconnected, heartbeat late):
  the database decides every request until it has resynchronised, and the
  cache starts empty then.
* **A fill never outlives the change it raced.**  Each entry is stored under
  the generation read *before* its database read, and only entries of the
  current generation are ever read.

Only facts are cached, never verdicts: expiry, grace periods and JWT ``exp``
are judged against the clock on every request, and signatures and ``jti``
replay checks run every time.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Protocol, TypeVar

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

T = TypeVar("T")

# Every table whose rows feed a decision: a migration gives each a trigger.
WATCHED_TABLES = (
    "key_tokens",
    "api_keys",
    "clients",
    "roles",
    "role_endpoints",
    "endpoints",
    "environments",
    "projects",
    "client_environments",
    "client_projects",
    "client_jwt_keys",
    "trusted_issuers",
    "trusted_issuer_clients",
)
CHANNEL = "keyward_decisions"
_MISSING = object()


class Freshness(Protocol):
    """Says which generation of the database's decision facts the process can trust."""

    def generation(self, session: Session) -> int | None:
        """A number that changes whenever the facts may have; ``None``: do not cache."""


class DecisionCache:
    """Facts by question, for one process; bounded, oldest entries dropped first."""

    def __init__(self, freshness: Freshness, *, max_entries: int) -> None:
        self.freshness = freshness
        self._max_entries = max_entries
        self._lock = threading.Lock()
        self._local = 0  # bumped by this process's own writes
        # The generation the entries were read under, with them: replaced as one, so a
        # reader never pairs one generation with another's entries.
        self._table: tuple[tuple[int, int] | None, dict[Hashable, object]] = (None, {})
        _LIVE.add(self)

    def get(self, session: Session, key: Hashable, load: Callable[[], T]) -> T:
        """The cached answer to ``key``, or ``load()`` (which reads ``session``) kept for later."""
        source = self.freshness.generation(session)
        if source is None:
            return load()
        generation = (source, self._local)
        filled_under, entries = self._table
        if filled_under == generation:
            found = entries.get(key, _MISSING)
            if found is not _MISSING:
                return found
        value = load()
        self._store(key, value, generation)
        return value

    def invalidate(self) -> None:
        """Forget everything: this process has just changed (or is changing) the facts."""
        with self._lock:
            self._local += 1
            self._table = (None, {})

    def _store(self, key: Hashable, value: object, generation: tuple[int, int]) -> None:
        with self._lock:
            if generation[1] != self._local:
                return  # a change of ours started after the read: the value may be old
            filled_under, entries = self._table
            if filled_under != generation:
                # Entries of another generation are never read again: only this one's are.
                entries = {}
                self._table = (generation, entries)
            if len(entries) >= self._max_entries:
                del entries[next(iter(entries))]
            entries[key] = value

    def __len__(self) -> int:
        return len(self._table[1])


def cached(
    cache: DecisionCache | None, session: Session, key: Hashable, load: Callable[[], T]
) -> T:
    """``load()`` through the cache when there is one (``KEYWARD_DECISION_CACHE=off``: never)."""
    return load() if cache is None else cache.get(session, key, load)


# ---- this process's own writes ------------------------------------------------------------

_LIVE: weakref.WeakSet[DecisionCache] = weakref.WeakSet()
_WRITES = re.compile(r"\b(?:" + "|".join(WATCHED_TABLES) + r")\b")
_pending = threading.local()


def _invalidate_all() -> None:
    for cache in list(_LIVE):
        cache.invalidate()


@event.listens_for(Engine, "after_cursor_execute")
def _after_execute(_conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    # Within its own transaction a writer must see its change at once (and so must tests
    # that never commit); after the commit other threads must too, see below.
    if statement.lstrip()[:6].upper() != "SELECT" and _WRITES.search(statement):
        _pending.dirty = True
        _invalidate_all()


@event.listens_for(Session, "after_commit")
def _after_commit(_session) -> None:
    # A request of another thread may have refilled the cache from the rows as they were
    # before this commit: empty it again now that the change is visible to everyone.
    if getattr(_pending, "dirty", False):
        _pending.dirty = False
        _invalidate_all()


@event.listens_for(Session, "after_rollback")
def _after_rollback(_session) -> None:
    _pending.dirty = False
