"""Usage figures per client and key: counts by outcome per UTC hour, and last use.

Nothing is written to the database per request.  ``record()`` buffers in Redis
(:class:`RedisUsageRecorder`) or in memory (:class:`MemoryUsageRecorder`, the
embedded mode); ``flush(session)`` moves the buffer into ``usage_counts`` with
one upsert per (client, key, hour, outcome) and advances ``api_keys.last_used_at``
and ``last_used_ip`` only when the buffered use is newer.  Like every service,
``flush`` leaves the commit to its caller, and it finishes its work when that
commit happens: see :class:`RedisUsageRecorder` for the guarantees.  The
database side (upserts, :func:`usage_report`) is in :mod:`keystore.usage_store`.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session

from keystore.decision import REASONS
from keystore.errors import ValidationError
from keystore.models import utcnow
from keystore.redis_calls import redis_calls
from keystore.usage_store import Counts, LastUse, apply, usage_report

__all__ = [
    "OUTCOMES",
    "MemoryUsageRecorder",
    "RedisUsageRecorder",
    "UsageRecorder",
    "apply",
    "usage_report",
]

log = logging.getLogger(__name__)

OUTCOMES = frozenset((*REASONS, "rate_limited", "quota_exceeded"))
# api_keys.last_used_ip is a String(45): the longest IPv6 text form.
MAX_ADDRESS_LENGTH = 45


def check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValidationError(f"unknown usage outcome {outcome!r}", reason="unknown_outcome")


def epoch(at: datetime | None) -> float:
    """Seconds since the epoch of ``at`` (default now); refuses naive datetimes."""
    at = at or utcnow()
    if at.tzinfo is None:
        raise ValidationError("naive datetimes are ambiguous; use timezone-aware UTC")
    return at.timestamp()


def keep_newest(last_use: dict, *, key_id: int, ts: float, address: str | None) -> None:
    """Record a use of the key unless a newer one is already known."""
    if key_id not in last_use or last_use[key_id][0] < ts:
        last_use[key_id] = (ts, address)


def when_transaction_ends(
    session: Session, *, on_commit: Callable[[], None], on_rollback: Callable[[], None]
) -> None:
    """Call one of the two when the session's current (outermost) transaction ends."""
    root = session.get_transaction()
    state = {"committed": False, "done": False}

    def committed(_session):
        state["committed"] = True

    def ended(_session, transaction):
        # Listeners cannot be removed while they run, so later calls are no-ops.
        if transaction is not root or state["done"]:
            return
        state["done"] = True
        try:
            (on_commit if state["committed"] else on_rollback)()
        except Exception:
            # The database transaction is over either way: raising here would make a
            # successful commit look failed.  What is left in Redis is retried later.
            log.exception("usage flush: could not finish after the transaction ended")

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)


class UsageRecorder(Protocol):
    """What the web layer calls.  The recorders below subclass it for ``record``,
    which validates and buckets, and implement ``_buffer`` and ``flush``."""

    def record(
        self,
        *,
        client_id: int,
        key_id: int,
        outcome: str,
        address: str | None,
        at: datetime | None = None,
    ) -> None:
        """Count one request and offer its time and address as the key's last use."""
        check_outcome(outcome)
        ts = epoch(at)
        field = (client_id, key_id, int(ts // 3600), outcome)
        self._buffer(field=field, ts=ts, address=(address or "")[:MAX_ADDRESS_LENGTH])

    def _buffer(self, *, field: tuple[int, int, int, str], ts: float, address: str) -> None:
        """Add one to the (client, key, hour, outcome) count; offer the use (``""``: none)."""
        raise NotImplementedError

    def flush(self, session: Session) -> int:
        """Move buffered figures into the session (the caller commits); rows touched."""
        raise NotImplementedError


class MemoryUsageRecorder(UsageRecorder):
    """The embedded mode's buffer: one process; lost if the process dies before a flush."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, int, int, str]] = Counter()
        self._last: dict[int, tuple[float, str | None]] = {}

    def _buffer(self, *, field: tuple[int, int, int, str], ts: float, address: str) -> None:
        with self._lock:
            self._counts[field] += 1
            keep_newest(self._last, key_id=field[1], ts=ts, address=address or None)

    def flush(self, session: Session) -> int:
        """Move the buffer into the session; put it back if the transaction rolls back."""
        with self._lock:
            counts, last_use = self._counts, self._last
            self._counts, self._last = Counter(), {}
        if not counts and not last_use:
            return 0
        try:
            touched = apply(session, counts=counts, last_use=last_use)
        except Exception:
            self._restore(counts, last_use)
            raise
        when_transaction_ends(
            session, on_commit=lambda: None, on_rollback=lambda: self._restore(counts, last_use)
        )
        return touched

    def _restore(self, counts: Counts, last_use: LastUse) -> None:
        with self._lock:
            self._counts.update(counts)
            for key_id, (ts, address) in last_use.items():
                keep_newest(self._last, key_id=key_id, ts=ts, address=address)


# Renames the pending buffers to a batch and lists every batch not yet committed.
# KEYS: pending, pending-last, batches, batch, batch-last; ARGV: batch id
_CLAIM_LUA = """
local claimed = 0
for i = 1, 2 do
  if redis.call("EXISTS", KEYS[i]) == 1 then
    redis.call("RENAME", KEYS[i], KEYS[i + 3])
    claimed = 1
  end
end
if claimed == 1 then redis.call("SADD", KEYS[3], ARGV[1]) end
return redis.call("SMEMBERS", KEYS[3])
"""
# Deletes the lock only if this flush still holds it.
_UNLOCK_LUA = """
if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end
return 0
"""
FLUSH_LOCK_MS = 60_000


class RedisUsageRecorder(UsageRecorder):
    """Buffers in Redis, shared by every process; flushes move batches to the database.

    ``record`` is one pipelined round trip: ``HINCRBY`` on the pending hash and
    ``ZADD GT`` of ``key_id|address`` scored by time (so Redis keeps the newest
    use without a read).  ``flush`` takes a lock, atomically renames the pending
    buffers to a batch (new records go to fresh buffers meanwhile), applies every
    batch not yet committed (leftovers of crashed or rolled-back flushes first),
    and deletes them only after the caller's commit.  A crash before that commit
    loses nothing: the batch stays and the next flush applies it once.  Remaining
    window (at-least-once): a crash between the database commit and the ``DEL``
    (a few milliseconds), Redis failing at that moment, or a commit later than
    the lock's 60 s, counts that batch twice.  Never lost, rarely doubled.
    """

    def __init__(self, redis_client, *, namespace: str = "keyward"):
        self._redis = redis_client
        self._prefix = f"{namespace}:usage"
        self._claim = redis_client.register_script(_CLAIM_LUA)
        self._unlock = redis_client.register_script(_UNLOCK_LUA)

    def _buffer(self, *, field: tuple[int, int, int, str], ts: float, address: str) -> None:
        self.add(counts={field: 1}, last_use={field[1]: (ts, address)})

    def add(self, *, counts: Counts, last_use: LastUse) -> None:
        """Add figures (one request's, or a process's batch) to the buffer in one round trip."""
        pipe = self._redis.pipeline(transaction=False)
        for field, count in counts.items():
            pipe.hincrby(f"{self._prefix}:pending", ":".join(map(str, field)), count)
        if last_use:
            # ZADD GT keeps the newest time of each (key, address) without a read.
            uses = {f"{key_id}|{address or ''}": ts for key_id, (ts, address) in last_use.items()}
            pipe.zadd(f"{self._prefix}:pending-last", uses, gt=True)
        with redis_calls("recording usage"):
            pipe.execute()

    def flush(self, session: Session) -> int:
        """Apply every buffered batch to the session; 0 if another flush is running."""
        token = uuid.uuid4().hex
        lock = f"{self._prefix}:flush-lock"
        with redis_calls("flushing usage"):
            if self._nothing_buffered() or not self._redis.set(
                lock, token, nx=True, px=FLUSH_LOCK_MS
            ):
                return 0
            try:
                batches = self._claim_batches(batch=token)
                touched = apply(session, **self._read(batches)) if batches else 0
            except Exception:
                self._unlock(keys=[lock], args=[token])
                raise
            if not touched:
                # Nothing reached the session, so no transaction will tell us when to finish.
                self._finish(batches, lock=lock, token=token)
                return 0
        when_transaction_ends(
            session,
            on_commit=lambda: self._finish(batches, lock=lock, token=token),
            on_rollback=lambda: self._unlock(keys=[lock], args=[token]),
        )
        return touched

    def _nothing_buffered(self) -> bool:
        # One read-only round trip, so an idle flush costs neither a lock nor a script.
        pipe = self._redis.pipeline(transaction=False)
        pipe.exists(f"{self._prefix}:pending", f"{self._prefix}:pending-last")
        pipe.scard(f"{self._prefix}:batches")
        return not any(pipe.execute())

    def _claim_batches(self, *, batch: str) -> list[str]:
        p = self._prefix
        keys = [f"{p}:pending", f"{p}:pending-last", f"{p}:batches"]
        keys += [f"{p}:batch:{batch}", f"{p}:batch-last:{batch}"]
        return sorted(_text(b) for b in self._claim(keys=keys, args=[batch]))

    def _read(self, batches: list[str]) -> dict:
        pipe = self._redis.pipeline(transaction=False)
        for batch in batches:
            pipe.hgetall(f"{self._prefix}:batch:{batch}")
            pipe.zrange(f"{self._prefix}:batch-last:{batch}", 0, -1, withscores=True)
        replies = pipe.execute()
        counts: Counter[tuple[int, int, int, str]] = Counter()
        last_use: dict[int, tuple[float, str | None]] = {}
        for fields, members in zip(replies[::2], replies[1::2], strict=True):
            for field, count in fields.items():
                client_id, key_id, hour, outcome = _text(field).split(":")
                counts[(int(client_id), int(key_id), int(hour), outcome)] += int(count)
            for member, ts in members:
                key_id, address = _text(member).split("|", 1)
                keep_newest(last_use, key_id=int(key_id), ts=ts, address=address or None)
        return {"counts": counts, "last_use": last_use}

    def _finish(self, batches: list[str], *, lock: str, token: str) -> None:
        if not batches:
            self._unlock(keys=[lock], args=[token])
            return
        pipe = self._redis.pipeline(transaction=True)
        for batch in batches:
            pipe.delete(f"{self._prefix}:batch:{batch}", f"{self._prefix}:batch-last:{batch}")
        pipe.srem(f"{self._prefix}:batches", *batches)
        pipe.execute()
        self._unlock(keys=[lock], args=[token])


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value
