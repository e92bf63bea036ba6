"""Usage figures per client and key: counts by outcome per UTC hour, and last use.

Nothing is written to the database per request.  ``record()`` buffers in Redis
(:class:`RedisUsageRecorder`) or in memory (:class:`MemoryUsageRecorder`, the
embedded mode); ``flush(session)`` moves the buffer into ``usage_counts`` with
one upsert per (client, key, hour, outcome) and advances ``api_keys.last_used_at``
and ``last_used_ip`` only when the buffered use is newer.  Like every service,
``flush`` leaves the commit to its caller, and it finishes its work when that
commit happens: see :mod:`keystore.usage_redis` for the Redis guarantees.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import bindparam, event, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keystore.decision import REASONS
from keystore.errors import ValidationError
from keystore.models import ApiKey, UsageCount, utcnow

OUTCOMES = frozenset((*REASONS, "rate_limited", "quota_exceeded"))
GRANULARITIES = ("hour", "day")
# api_keys.last_used_ip is a String(45): the longest IPv6 text form.
MAX_ADDRESS_LENGTH = 45

# (client_id, key_id, hour since the epoch, outcome) -> count
Counts = Mapping[tuple[int, int, int, str], int]
# key_id -> (epoch seconds, address)
LastUse = Mapping[int, tuple[float, str | None]]


class UsageRecorder(Protocol):
    def record(
        self,
        *,
        client_id: int,
        key_id: int,
        outcome: str,
        address: str | None,
        at: datetime | None = None,
    ) -> None: ...

    def flush(self, session: Session) -> int: ...


def check_outcome(outcome: str) -> None:
    if outcome not in OUTCOMES:
        raise ValidationError(f"unknown usage outcome {outcome!r}", reason="unknown_outcome")


def epoch(at: datetime | None) -> float:
    """Seconds since the epoch of ``at`` (default now); refuses naive datetimes."""
    at = at or utcnow()
    if at.tzinfo is None:
        raise ValidationError("naive datetimes are ambiguous; use timezone-aware UTC")
    return at.timestamp()


def apply(session: Session, *, counts: Counts, last_use: LastUse) -> int:
    """Add buffered counts and last uses to the database; return the rows offered."""
    if counts:
        _upsert_counts(session, counts=counts)
    if last_use:
        _advance_last_use(session, last_use=last_use)
    return len(counts) + len(last_use)


def _upsert_counts(session: Session, *, counts: Counts) -> None:
    table = UsageCount.__table__
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=["client_id", "key_id", "bucket", "outcome"],
        set_={"count": table.c["count"] + statement.excluded["count"]},
    )
    # Sorted, so concurrent flushers would lock rows in the same order.
    rows = [
        {"client_id": c, "key_id": k, "bucket": hour_start(h), "outcome": o, "count": n}
        for (c, k, h, o), n in sorted(counts.items())
    ]
    session.execute(statement, rows)


def _advance_last_use(session: Session, *, last_use: LastUse) -> None:
    keys = ApiKey.__table__
    statement = (
        update(keys)
        .where(
            keys.c.id == bindparam("key"),
            or_(keys.c.last_used_at.is_(None), keys.c.last_used_at < bindparam("at")),
        )
        # Use is not an edit: keep updated_at (its onupdate would otherwise bump it).
        .values(last_used_at=bindparam("at"), last_used_ip=bindparam("ip"))
        .values(updated_at=keys.c.updated_at)
    )
    rows = [
        {"key": key_id, "at": datetime.fromtimestamp(ts, UTC), "ip": address}
        for key_id, (ts, address) in sorted(last_use.items())
    ]
    session.execute(statement, rows)


def keep_newest(last_use: dict, *, key_id: int, ts: float, address: str | None) -> None:
    """Record a use of the key unless a newer one is already known."""
    if key_id not in last_use or last_use[key_id][0] < ts:
        last_use[key_id] = (ts, address and address[:MAX_ADDRESS_LENGTH])


def hour_start(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


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
        (on_commit if state["committed"] else on_rollback)()

    event.listen(session, "after_commit", committed)
    event.listen(session, "after_transaction_end", ended)


class MemoryUsageRecorder:
    """The embedded mode's buffer: one process; lost if the process dies before a flush."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, int, int, str]] = Counter()
        self._last: dict[int, tuple[float, str | None]] = {}

    def record(self, *, client_id, key_id, outcome, address, at=None) -> None:
        """Count one request; keep the newest use of each key."""
        check_outcome(outcome)
        ts = epoch(at)
        with self._lock:
            self._counts[(client_id, key_id, int(ts // 3600), outcome)] += 1
            keep_newest(self._last, key_id=key_id, ts=ts, address=address)

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


class RedisUsageRecorder:
    """Buffers in Redis, shared by every process; flushes move batches to the database.

    ``record`` is one pipelined round trip: ``HINCRBY`` on the pending hash and
    ``ZADD GT`` of ``key_id|address`` scored by time (so Redis keeps the newest
    use without a read).  ``flush`` takes a lock, atomically renames the pending
    buffers to a batch (new records go to fresh buffers meanwhile), applies every
    batch not yet committed (leftovers of crashed or rolled-back flushes first),
    and deletes them only after the caller's commit.  A crash before that commit
    loses nothing: the batch stays and the next flush applies it once.  Remaining
    window (at-least-once): a crash between the database commit and the ``DEL``
    (a few milliseconds), or a commit later than the lock's 60 s, counts that
    batch twice.
    """

    def __init__(self, redis_client, *, namespace: str = "keyward"):
        self._redis = redis_client
        self._prefix = f"{namespace}:usage"
        self._claim = redis_client.register_script(_CLAIM_LUA)
        self._unlock = redis_client.register_script(_UNLOCK_LUA)

    def record(self, *, client_id, key_id, outcome, address, at=None) -> None:
        """Count one request and offer its time and address as the key's last use."""
        check_outcome(outcome)
        ts = epoch(at)
        member = f"{key_id}|{(address or '')[:MAX_ADDRESS_LENGTH]}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.hincrby(f"{self._prefix}:pending", f"{client_id}:{key_id}:{int(ts // 3600)}:{outcome}")
        pipe.zadd(f"{self._prefix}:pending-last", {member: ts}, gt=True)
        pipe.execute()

    def flush(self, session: Session) -> int:
        """Apply every buffered batch to the session; 0 if another flush is running."""
        token = uuid.uuid4().hex
        lock = f"{self._prefix}:flush-lock"
        if not self._redis.set(lock, token, nx=True, px=FLUSH_LOCK_MS):
            return 0
        try:
            batches = self._claim_batches(batch=token)
            touched = apply(session, **self._read(batches)) if batches else 0
        except Exception:
            self._unlock(keys=[lock], args=[token])
            raise
        if not batches:
            self._unlock(keys=[lock], args=[token])
            return 0
        when_transaction_ends(
            session,
            on_commit=lambda: self._finish(batches, lock=lock, token=token),
            on_rollback=lambda: self._unlock(keys=[lock], args=[token]),
        )
        return touched

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
        pipe = self._redis.pipeline(transaction=True)
        for batch in batches:
            pipe.delete(f"{self._prefix}:batch:{batch}", f"{self._prefix}:batch-last:{batch}")
        pipe.srem(f"{self._prefix}:batches", *batches)
        pipe.execute()
        self._unlock(keys=[lock], args=[token])


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else value


def usage_report(
    session: Session,
    *,
    client_id: int | None = None,
    key_id: int | None = None,
    granularity: str = "hour",
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict]:
    """Counts per bucket and outcome for hours starting in ``[since, until)``.

    ``granularity="day"`` adds up the hours of each UTC day.  Sorted by bucket
    (ISO 8601: ``2026-11-23T19:00:00+00:00`` or ``2026-11-23``), then outcome.
    """
    if granularity not in GRANULARITIES:
        raise ValidationError(
            "granularity must be hour or day", reason="invalid_granularity", field="granularity"
        )
    query = _report_query(client_id=client_id, key_id=key_id, since=since, until=until)
    totals: Counter[tuple[str, str]] = Counter()
    for bucket, outcome, count in session.execute(query):
        label = bucket.date().isoformat() if granularity == "day" else bucket.isoformat()
        totals[(label, outcome)] += int(count)
    return [{"bucket": b, "outcome": o, "count": n} for (b, o), n in sorted(totals.items())]


def _report_query(*, client_id, key_id, since, until):
    t = UsageCount
    query = select(t.bucket, t.outcome, func.sum(t.count)).group_by(t.bucket, t.outcome)
    if client_id is not None:
        query = query.where(t.client_id == client_id)
    if key_id is not None:
        query = query.where(t.key_id == key_id)
    if since is not None:
        query = query.where(t.bucket >= since)
    if until is not None:
        query = query.where(t.bucket < until)
    return query
