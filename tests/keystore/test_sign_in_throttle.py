"""The sign-in throttle's policy, with the clock passed in (no sleeping)."""

from __future__ import annotations

from datetime import timedelta

from keystore.models import utcnow
from keystore.services import sign_in_throttle as throttle
from keystore.services.sign_in_throttle import (
    BACKOFF_CAP_SECONDS,
    FORGET_AFTER,
    FREE_PER_ADDRESS,
    FREE_PER_PAIR,
)

ADA, HOME, AWAY = "ada@example.com", "203.0.113.10", "198.51.100.1"


def attempt(session, settings, at, *, account=ADA, address=AWAY):
    return throttle.admit(
        session, settings, surface="console", account=account, address=address, now=at
    )


def test_the_wait_doubles_after_the_free_failures_and_is_capped(session, settings):
    now = utcnow()
    for _ in range(FREE_PER_PAIR):
        assert attempt(session, settings, now).allowed
    waits = []
    for _ in range(12):
        refused = attempt(session, settings, now)
        assert not refused.allowed
        waits.append(refused.retry_after)
        now += timedelta(seconds=refused.retry_after)
        assert attempt(session, settings, now).allowed
    assert waits[:4] == [5, 10, 20, 40]
    assert max(waits) == BACKOFF_CAP_SECONDS


def test_failures_are_forgotten_after_a_quiet_hour(session, settings):
    now = utcnow()
    for _ in range(FREE_PER_PAIR):
        attempt(session, settings, now)
    assert not attempt(session, settings, now).allowed
    later = now + FORGET_AFTER + timedelta(seconds=1)
    for _ in range(FREE_PER_PAIR):
        assert attempt(session, settings, later).allowed


def test_a_right_password_clears_its_pair_and_refunds_the_address(session, settings):
    now = utcnow()
    for _ in range(FREE_PER_PAIR - 1):
        attempt(session, settings, now, address=HOME)
    assert attempt(session, settings, now, address=HOME).allowed
    throttle.succeeded(session, settings, surface="console", account=ADA, address=HOME)
    for _ in range(FREE_PER_PAIR):
        assert attempt(session, settings, now, address=HOME).allowed


def test_successes_never_use_up_an_address(session, settings):
    now = utcnow()
    for n in range(FREE_PER_ADDRESS * 2):
        assert attempt(session, settings, now, account=f"u{n}@example.com").allowed
        throttle.succeeded(
            session, settings, surface="console", account=f"u{n}@example.com", address=AWAY
        )


def test_other_surfaces_and_accounts_are_counted_apart(session, settings):
    now = utcnow()
    for _ in range(FREE_PER_PAIR):
        attempt(session, settings, now)
    assert not attempt(session, settings, now).allowed
    assert attempt(session, settings, now, account="bob@example.com").allowed
    portal = throttle.admit(session, settings, surface="portal", account=ADA, address=AWAY, now=now)
    assert portal.allowed


def test_forgotten_rows_are_pruned_in_bounded_batches(session, settings, monkeypatch):
    old = utcnow() - FORGET_AFTER - timedelta(minutes=1)
    for n in range(5):
        attempt(session, settings, old, account=f"u{n}@example.com")
    # A pair and an account row per attempt, one address row for all of them.
    monkeypatch.setattr(throttle, "PRUNE_BATCH", 4)
    assert [throttle.prune(session, now=utcnow()) for _ in range(4)] == [4, 4, 3, 0]


def test_addresses_are_counted_per_ipv4_address_and_ipv6_slash_64():
    assert throttle.network("203.0.113.7") == "203.0.113.7"
    assert throttle.network("::ffff:203.0.113.7") == "203.0.113.7"
    assert throttle.network("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert throttle.network(None) == throttle.network("not an address") == "unknown"


def test_parallel_attempts_cannot_slip_past_the_limit(db_engine, settings):
    """Separate connections and real commits: the row locks serialise the attempts."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import delete

    from keystore.db import make_session_factory, transaction
    from keystore.models import SignInThrottle

    factory, now = make_session_factory(db_engine), utcnow()
    account = f"parallel-{now.timestamp()}@example.com"

    def one(_):
        with transaction(factory) as session:
            return attempt(session, settings, now, account=account).allowed

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            allowed = list(pool.map(one, range(12)))
        assert allowed.count(True) == FREE_PER_PAIR
    finally:
        with transaction(factory) as session:
            session.execute(delete(SignInThrottle))
