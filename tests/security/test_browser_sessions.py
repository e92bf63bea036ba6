"""Finding 5: console and portal sessions can be ended, and sign-in throttling locks nobody out.

Time is moved by ageing the stored session rows (no sleeping); addresses by the
test client's REMOTE_ADDR.  Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from keystore.models import BrowserSession, utcnow
from keystore.services import admins, clients, portal
from keystore.services.sign_in_throttle import ACCOUNT_UNDER_ATTACK, FREE_PER_PAIR
from tests.web.conftest import app
from tests.web.console.conftest import (
    Browser,
    acme_user,
    ada,
    browser,
    console,
    make_portal_user,
)
from tests.worlds import ACTOR, world
from web import create_app

__all__ = ["acme_user", "ada", "app", "browser", "console", "world"]

ADA = "ada@example.com"
HOME = "203.0.113.10"
COOKIE = "keyward_session"


def from_address(app, address: str) -> Browser:
    """A browser whose requests come from ``address``."""
    browser = Browser(app)
    browser.client.environ_base["REMOTE_ADDR"] = address
    return browser


def cookie_of(browser: Browser) -> str:
    return browser.client.get_cookie(COOKIE).value


def replay(app, cookie: str) -> Browser:
    """A second browser holding a copy of someone's cookie."""
    thief = Browser(app)
    thief.client.set_cookie(COOKIE, cookie)
    return thief


def sessions_in_store(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(BrowserSession))


def age(session, *, idle: timedelta = timedelta(0), lived: timedelta = timedelta(0)) -> None:
    """Pretend the stored sessions were last used ``idle`` ago and started ``lived`` ago."""
    now = utcnow()
    session.execute(
        update(BrowserSession).values(last_seen_at=now - idle, created_at=now - lived - idle)
    )
    session.flush()


# --- sessions end when they should ---------------------------------------------------------


def test_a_cookie_replayed_after_sign_out_is_refused(app, console, session):
    stolen = cookie_of(console)
    assert replay(app, stolen).get("/console/clients").status_code == 200
    assert console.post("/console/logout").status_code == 302
    thief = replay(app, stolen)
    response = thief.get("/console/clients")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")
    assert sessions_in_store(session) == 0


def test_a_replayed_cookie_cannot_post_either(app, console, world, session):
    stolen, token = cookie_of(console), console.csrf()
    console.post("/console/logout")
    thief = replay(app, stolen)
    response = thief.post(f"/console/clients/{world.client.id}/disable", csrf=token)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")
    session.expire_all()
    assert clients.get_client(session, world.client.id).enabled is True


def test_sign_out_clears_the_cookie_in_the_browser(console):
    response = console.post("/console/logout")
    assert f"{COOKIE}=;" in response.headers["Set-Cookie"]
    assert console.client.get_cookie(COOKIE) is None


def test_a_cookie_replayed_after_a_password_change_is_refused(app, console, session):
    stolen = cookie_of(console)
    admins.set_password(session, actor=ACTOR, email=ADA, password="a brand new long password")
    session.flush()
    assert replay(app, stolen).get("/console/clients").status_code == 302
    assert sessions_in_store(session) == 0
    fresh = from_address(app, HOME)
    assert fresh.sign_in("console", ADA, "a brand new long password").status_code == 302


def test_a_password_reset_by_invitation_ends_the_portal_session(app, session, settings, world):
    make_portal_user(session, settings, client_id=world.client.id, email="dev@acme.example")
    user_browser = Browser(app)
    assert user_browser.sign_in("portal", "dev@acme.example").status_code == 302
    stolen = cookie_of(user_browser)
    make_portal_user(session, settings, client_id=world.client.id, email="dev@acme.example")
    assert replay(app, stolen).get("/portal/").status_code == 302


def test_a_reset_accepted_in_the_browser_signs_in_afresh_and_ends_the_rest(
    app, session, settings, acme_user, world
):
    old_browser = Browser(app)
    assert old_browser.sign_in("portal", "dev@acme.example").status_code == 302
    _, token = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="dev@acme.example"
    )
    session.flush()
    new_browser = Browser(app)
    new_browser.get(f"/portal/accept?invitation={token}")
    form = {
        "invitation": token,
        "password": "another long password",
        "confirm": "another long password",
    }
    assert new_browser.post("/portal/accept", form).status_code == 302
    assert new_browser.get("/portal/").status_code == 200
    assert old_browser.get("/portal/").status_code == 302
    assert sessions_in_store(session) == 1


def test_a_removed_admin_loses_every_session_at_once(app, console, session):
    stolen = cookie_of(console)
    # Another admin first: the last console admin is never removed.
    admins.create_admin(session, actor=ACTOR, name="Bob", email="bob@example.com")
    admins.delete_admin(session, actor=ACTOR, email=ADA)
    session.flush()
    assert replay(app, stolen).get("/console/clients").status_code == 302
    assert sessions_in_store(session) == 0


def test_a_deleted_clients_portal_users_lose_their_sessions(app, session, acme_user, world):
    user_browser = Browser(app)
    assert user_browser.sign_in("portal", "dev@acme.example").status_code == 302
    assert user_browser.get("/portal/").status_code == 200
    clients.delete_client(session, actor=ACTOR, ref=world.client.id)
    session.flush()
    assert user_browser.get("/portal/").status_code == 302
    assert sessions_in_store(session) == 0


def test_an_idle_session_expires(app, console, session, settings):
    idle = timedelta(seconds=settings.session_idle_seconds)
    age(session, idle=idle - timedelta(seconds=60))
    assert console.get("/console/clients").status_code == 200
    # That request counted as activity: the clock starts again.
    age(session, idle=idle - timedelta(seconds=60))
    assert console.get("/console/clients").status_code == 200
    age(session, idle=idle + timedelta(seconds=1))
    assert console.get("/console/clients").status_code == 302
    assert sessions_in_store(session) == 0


def test_activity_moves_the_idle_clock(console, session):
    age(session, idle=timedelta(minutes=10))
    console.get("/console/clients")
    session.expire_all()
    last_seen = session.scalar(select(BrowserSession.last_seen_at))
    assert utcnow() - last_seen < timedelta(minutes=1)


def test_a_busy_session_still_ends_at_its_absolute_lifetime(console, session, settings):
    lifetime = timedelta(seconds=settings.session_max_seconds)
    age(session, lived=lifetime - timedelta(minutes=5))
    assert console.get("/console/clients").status_code == 200
    age(session, lived=lifetime + timedelta(seconds=1))
    assert console.get("/console/clients").status_code == 302


def test_the_lifetimes_come_from_the_settings(db_engine, connection, settings, ada, session):
    short = dataclasses.replace(
        settings,
        database_url=str(db_engine.url),
        log_format="text",
        session_idle_seconds=90,
        session_max_seconds=600,
    )
    short_app = create_app(short)
    short_app.extensions["keyward"].sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    browser = Browser(short_app)
    response = browser.sign_in("console", ADA)
    assert response.status_code == 302
    assert "Max-Age=600" in response.headers["Set-Cookie"]
    age(session, idle=timedelta(seconds=91))
    assert browser.get("/console/clients").status_code == 302
    assert browser.sign_in("console", ADA).status_code == 302
    age(session, idle=timedelta(seconds=10), lived=timedelta(seconds=595))
    assert browser.get("/console/clients").status_code == 302
    short_app.extensions["keyward"].engine.dispose()


def test_expired_sessions_are_pruned_at_sign_in(app, ada, session):
    for _ in range(3):
        assert Browser(app).sign_in("console", ADA).status_code == 302
    age(session, idle=timedelta(days=1))
    assert sessions_in_store(session) == 3
    assert Browser(app).sign_in("console", ADA).status_code == 302
    assert sessions_in_store(session) == 1


def test_the_cookie_holds_only_a_random_id_and_the_store_only_its_digest(console, session):
    cookie = cookie_of(console)
    assert len(cookie) == 43
    assert "." not in cookie
    stored = session.scalar(select(BrowserSession.id_digest))
    assert stored != cookie
    assert cookie not in stored


def test_sign_in_issues_a_new_id(app, ada):
    browser = Browser(app)
    browser.get("/console/login")
    before = cookie_of(browser)
    assert browser.sign_in("console", ADA).status_code == 302
    assert cookie_of(browser) != before
    # A planted id (session fixation) is never promoted to a signed-in session.
    assert replay(app, before).get("/console/clients").status_code == 302


def test_the_csrf_token_is_bound_to_the_session(app, console, world, session):
    other = Browser(app)
    assert other.sign_in("console", ADA).status_code == 302
    response = console.post(f"/console/clients/{world.client.id}/disable", csrf=other.csrf())
    assert response.status_code == 400
    session.expire_all()
    assert clients.get_client(session, world.client.id).enabled is True


def test_an_admin_session_never_opens_the_portal(app, console, acme_user):
    assert console.get("/portal/").status_code == 302


# --- throttling ------------------------------------------------------------------------------


def test_wrong_passwords_from_five_addresses_do_not_lock_the_admin_out(app, ada):
    for n in range(5):
        stranger = from_address(app, f"198.51.100.{n + 1}")
        assert stranger.sign_in("console", ADA, "not the password at all").status_code == 401
    assert from_address(app, HOME).sign_in("console", ADA).status_code == 302


def test_a_stranger_hammering_from_one_address_does_not_lock_the_admin_out(app, ada):
    stranger = from_address(app, "198.51.100.7")
    answers = [stranger.sign_in("console", ADA, "guess guess guess").status_code for _ in range(8)]
    assert answers[:FREE_PER_PAIR] == [401] * FREE_PER_PAIR
    assert set(answers[FREE_PER_PAIR:]) == {429}
    assert from_address(app, HOME).sign_in("console", ADA).status_code == 302


def test_an_account_under_distributed_attack_still_admits_the_right_password(app, ada, session):
    for n in range(ACCOUNT_UNDER_ATTACK + 2):
        stranger = from_address(app, f"10.{n // 200}.{n % 200}.9")
        assert stranger.sign_in("console", ADA, "wrong wrong wrong").status_code == 401
    # Under attack, each new address gets one attempt before it must wait.
    late = from_address(app, "10.9.9.9")
    assert late.sign_in("console", ADA, "wrong wrong wrong").status_code == 401
    assert late.sign_in("console", ADA, "wrong wrong wrong").status_code == 429
    assert from_address(app, "192.0.2.200").sign_in("console", ADA).status_code == 302


def test_brute_force_from_one_address_is_slowed(app, ada):
    attacker = from_address(app, "198.51.100.66")
    for _ in range(FREE_PER_PAIR):
        assert attacker.sign_in("console", ADA, "wrong password!!").status_code == 401
    response = attacker.sign_in("console", ADA)  # even the right password waits
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert "too many sign-in attempts" in response.text
    assert attacker.get("/console/clients").status_code == 302


def test_the_portal_is_throttled_alike(app, acme_user):
    attacker = from_address(app, "198.51.100.88")
    for _ in range(FREE_PER_PAIR):
        assert attacker.sign_in("portal", "dev@acme.example", "nope nope nope").status_code == 401
    assert attacker.sign_in("portal", "dev@acme.example").status_code == 429
    assert from_address(app, HOME).sign_in("portal", "dev@acme.example").status_code == 302


def test_an_unknown_account_and_a_wrong_password_get_the_same_answers(app, ada):
    def attempts(email: str):
        browser = from_address(app, "198.51.100.99" if email == ADA else "198.51.100.98")
        answers = [browser.sign_in("console", email, "wrong password!!") for _ in range(6)]
        return [
            (r.status_code, r.headers.get("Retry-After"), _comparable(r.text, email))
            for r in answers
        ]

    known, unknown = attempts(ADA), attempts("nobody@example.com")
    assert known == unknown
    assert [status for status, _, _ in known] == [401] * FREE_PER_PAIR + [429]


def _comparable(page: str, email: str) -> str:
    """The page with what legitimately differs (the echoed email, the CSRF token) masked."""
    return re.sub(r'name="csrf_token" value="[^"]*"', "", page.replace(email, "EMAIL"))
