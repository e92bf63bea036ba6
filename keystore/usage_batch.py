"""Usage counted in the process and pushed to the shared Redis buffer in batches.

Counting every request in Redis cost a round trip per request (``bench/usage_overhead.py``
measured it at about half the gateway's own work).  A web process counts in memory
instead and pushes its counts every ``KEYWARD_USAGE_PUSH_SECONDS`` (one pipelined round
trip for all of them), before any flush it runs itself, and when it exits.

What can be lost: a process killed without exiting (SIGKILL, OOM) loses at most one
interval of its counts; while Redis is down the counts wait in memory, up to
:data:`MAX_FIELDS` distinct (client, key, hour, outcome) figures, beyond which new ones
are dropped.  Every dropped request is counted in ``keyward_usage_records_lost_total``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable

from sqlalchemy.orm import Session

from keystore.errors import UnavailableError
from keystore.usage import RedisUsageRecorder, UsageRecorder, keep_newest

log = logging.getLogger(__name__)

MAX_FIELDS = 100_000


class BatchedUsageRecorder(UsageRecorder):
    """Counts in this process; :meth:`push` moves them to the Redis recorder's buffer."""

    def __init__(
        self,
        redis_recorder: RedisUsageRecorder,
        *,
        push_seconds: float,
        on_lost: Callable[[int], None] = lambda _count: None,
    ) -> None:
        self._redis = redis_recorder
        self._push_seconds = push_seconds
        self._on_lost = on_lost
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, int, int, str]] = Counter()
        self._last: dict[int, tuple[float, str]] = {}
        self._pusher_pid: int | None = None

    def _buffer(self, *, field: tuple[int, int, int, str], ts: float, address: str) -> None:
        if self._pusher_pid != os.getpid():
            self._start_pusher()
        with self._lock:
            if field not in self._counts and len(self._counts) >= MAX_FIELDS:
                lost = True
            else:
                lost = False
                self._counts[field] += 1
                keep_newest(self._last, key_id=field[1], ts=ts, address=address)
        if lost:
            self._on_lost(1)

    def push(self) -> None:
        """Move this process's counts to Redis in one round trip; kept for later if it fails."""
        with self._lock:
            counts, last_use = self._counts, self._last
            self._counts, self._last = Counter(), {}
        if not counts and not last_use:
            return
        try:
            self._redis.add(counts=counts, last_use=last_use)
        except UnavailableError:
            self._keep(counts, last_use)
            raise

    def flush(self, session: Session) -> int:
        """Push this process's counts, then move the shared buffer into the session."""
        self.push()
        return self._redis.flush(session)

    def _keep(self, counts, last_use) -> None:
        with self._lock:
            lost = 0
            for field, count in counts.items():
                if field in self._counts or len(self._counts) < MAX_FIELDS:
                    self._counts[field] += count
                else:
                    lost += count
            for key_id, (ts, address) in last_use.items():
                keep_newest(self._last, key_id=key_id, ts=ts, address=address)
        if lost:
            self._on_lost(lost)

    def _start_pusher(self) -> None:
        with self._lock:
            if self._pusher_pid == os.getpid():
                return
            if self._pusher_pid is not None:
                # Forked: the parent's counts are the parent's to push.
                self._counts, self._last = Counter(), {}
            self._pusher_pid = os.getpid()
        threading.Thread(target=self._push_forever, name="keyward-usage-push", daemon=True).start()
        atexit.register(self._push_quietly)

    def _push_forever(self) -> None:
        while True:
            time.sleep(self._push_seconds)
            self._push_quietly()

    def _push_quietly(self) -> None:
        try:
            self.push()
        except UnavailableError:
            log.warning("usage push: Redis unavailable; counts kept in this process")
