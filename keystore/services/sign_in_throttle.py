"""Sign-in throttling for the console and the portal: slow guessing, lock nobody out.

Failures are counted in three scopes, each forgotten after an hour without one:

* the **pair** (account, address): 5 failures free, then exponential backoff
  (5 s, 10 s, 20 s, ... at most 15 min between attempts).  A stranger's failures
  fall on *their* pairs, so they never slow the real person at their own address;
  a right password clears the pair.
* the **address**, across accounts: 20 failures free, then the same backoff, so one
  address cannot spray guesses over many accounts.  IPv6 addresses count per /64.
* the **account**, across addresses: never refuses on its own (that would hand a
  stranger a lock-out button).  From 50 failures on, the account is *under attack*
  and each pair gets 1 free attempt instead of 5, so distributed guessing is slowed
  while a person with the right password still gets in at the first try.

An attempt is charged as a failure *before* its password is checked (and refunded
when it was right), under row locks, so parallel requests cannot slip past a limit.
The same is done for accounts that do not exist: the answers never tell them apart.
Only keyed digests of emails and addresses are stored.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.models import SignInThrottle, utcnow

FREE_PER_PAIR = 5
FREE_PER_PAIR_UNDER_ATTACK = 1
FREE_PER_ADDRESS = 20
ACCOUNT_UNDER_ATTACK = 50
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 15 * 60
FORGET_AFTER = timedelta(hours=1)
PRUNE_BATCH = 200


@dataclass(frozen=True)
class Admission:
    """Whether an attempt may check its password, else how long to wait."""

    allowed: bool
    retry_after: int = 0


@dataclass(frozen=True)
class _Scopes:
    pair: str
    address: str
    account: str

    def digests(self) -> list[str]:
        return sorted((self.pair, self.address, self.account))


def admit(
    session: Session,
    settings: Settings,
    *,
    surface: str,
    account: str,
    address: str | None,
    now: datetime | None = None,
) -> Admission:
    """Refuse an attempt while any of its scopes waits; else charge it as a failure."""
    now = now or utcnow()
    scopes = _scopes(settings, surface=surface, account=account, address=address)
    rows = _locked_rows(session, scopes, now=now)
    waits = [row.blocked_until - now for row in rows.values() if _blocked(row, now)]
    if waits:
        return Admission(allowed=False, retry_after=max(1, math.ceil(max(waits).total_seconds())))
    under_attack = rows[scopes.account].failures >= ACCOUNT_UNDER_ATTACK
    pair_free = FREE_PER_PAIR_UNDER_ATTACK if under_attack else FREE_PER_PAIR
    for digest, free in ((scopes.pair, pair_free), (scopes.address, FREE_PER_ADDRESS)):
        _charge(rows[digest], now=now, free=free)
    _charge(rows[scopes.account], now=now, free=None)
    session.flush()
    return Admission(allowed=True)


def succeeded(
    session: Session, settings: Settings, *, surface: str, account: str, address: str | None
) -> None:
    """The right password: clear the pair, refund this attempt's charge elsewhere."""
    scopes = _scopes(settings, surface=surface, account=account, address=address)
    rows = {
        row.scope_digest: row
        for row in session.scalars(
            select(SignInThrottle)
            .where(SignInThrottle.scope_digest.in_(scopes.digests()))
            .order_by(SignInThrottle.scope_digest)
            .with_for_update()
        )
    }
    if scopes.pair in rows:
        session.delete(rows[scopes.pair])
    if scopes.address in rows:
        _refund(rows[scopes.address], free=FREE_PER_ADDRESS)
    if scopes.account in rows:
        _refund(rows[scopes.account], free=None)
    session.flush()


def network(address: str | None) -> str:
    """The unit an address is counted in: itself for IPv4, its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if parsed.version == 4:
        return str(parsed)
    if parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    return str(ipaddress.ip_network(f"{parsed}/64", strict=False))


def backoff(beyond_free: int) -> timedelta:
    """The wait after the n-th failure past the free ones (n from 0): doubling, capped."""
    seconds = BACKOFF_BASE_SECONDS * 2 ** min(beyond_free, 16)
    return timedelta(seconds=min(seconds, BACKOFF_CAP_SECONDS))


def prune(session: Session, *, now: datetime, keep: list[str] = ()) -> int:
    """Delete up to PRUNE_BATCH forgotten rows (but those in ``keep``); bounded work."""
    stale = (
        select(SignInThrottle.id)
        .where(
            SignInThrottle.last_failure_at < now - FORGET_AFTER,
            SignInThrottle.scope_digest.not_in(keep),
        )
        .limit(PRUNE_BATCH)
        # Rows a parallel attempt holds are skipped, so pruning never waits or deadlocks.
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(stale))
    if ids:
        session.execute(delete(SignInThrottle).where(SignInThrottle.id.in_(ids)))
    return len(ids)


def _locked_rows(session: Session, scopes: _Scopes, *, now: datetime) -> dict:
    # The upsert comes first: on SQLite it takes the write lock before anything is read,
    # on PostgreSQL it locks the rows; sorted digests keep the lock order fixed.
    values = [
        {"scope_digest": digest, "failures": 0, "last_failure_at": now, "blocked_until": None}
        for digest in scopes.digests()
    ]
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SignInThrottle).values(values)
    # A no-op update, not DO NOTHING: it locks an existing row at once, and a row being
    # pruned by a parallel attempt is either kept or inserted afresh, never lost between.
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["scope_digest"], set_={"failures": SignInThrottle.failures}
        )
    )
    prune(session, now=now, keep=scopes.digests())
    query = (
        select(SignInThrottle)
        .where(SignInThrottle.scope_digest.in_(scopes.digests()))
        .order_by(SignInThrottle.scope_digest)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = {row.scope_digest: row for row in session.scalars(query)}
    for row in rows.values():
        if row.last_failure_at < now - FORGET_AFTER:
            row.failures, row.blocked_until = 0, None
    return rows


def _blocked(row: SignInThrottle, now: datetime) -> bool:
    return row.blocked_until is not None and row.blocked_until > now


def _charge(row: SignInThrottle, *, now: datetime, free: int | None) -> None:
    row.failures += 1
    row.last_failure_at = now
    if free is not None and row.failures >= free:
        row.blocked_until = now + backoff(row.failures - free)


def _refund(row: SignInThrottle, *, free: int | None) -> None:
    row.failures = max(0, row.failures - 1)
    if free is None or row.failures < free:
        row.blocked_until = None
    else:
        row.blocked_until = row.last_failure_at + backoff(row.failures - free)


def _scopes(settings: Settings, *, surface: str, account: str, address: str | None) -> _Scopes:
    account = account.strip().lower()
    place = network(address)
    return _Scopes(
        pair=_digest(settings, surface, "pair", account, place),
        address=_digest(settings, surface, "address", place),
        account=_digest(settings, surface, "account", account),
    )


def _digest(settings: Settings, *parts: str) -> str:
    # JSON keeps the parts apart whatever they contain (ASCII-escaped, so any text encodes).
    message = json.dumps(parts).encode("ascii")
    key = hmac.new(settings.pepper_bytes, b"keyward/sign-in-throttle", hashlib.sha256).digest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
