"""Sign-in throttling beyond finding 5's two cases: spraying, IPv6, storage, hostile bodies."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from keystore.models import SignInThrottle
from tests.security.test_browser_sessions import ADA, FREE_PER_PAIR, from_address
from tests.web.conftest import app
from tests.web.console.conftest import ada

__all__ = ["ada", "app"]


def test_one_address_cannot_spray_many_accounts(app, ada):
    sprayer = from_address(app, "198.51.100.77")
    answers = [sprayer.sign_in("console", f"u{n}@example.com").status_code for n in range(22)]
    assert answers[:20] == [401] * 20
    assert answers[20:] == [429, 429]


def test_ipv6_neighbours_count_as_one_address(app, ada):
    answers = []
    for n in range(FREE_PER_PAIR + 1):
        attacker = from_address(app, f"2001:db8:1:2::{n + 1:x}")
        answers.append(attacker.sign_in("console", ADA, "wrong password!!").status_code)
    assert answers[-1] == 429


def test_the_throttle_stores_no_email_or_address(app, ada, session):
    from_address(app, "198.51.100.5").sign_in("console", ADA, "wrong password!!")
    rows = session.scalars(select(SignInThrottle)).all()
    assert len(rows) == 3
    # Keyed digests only (64 hex digits): neither the email nor the address is stored.
    assert all(re.fullmatch(r"[0-9a-f]{64}", row.scope_digest) for row in rows)


@pytest.mark.parametrize(
    ("email", "password"),
    [
        ("ada%40example.com%00", "correct+horse+battery+staple"),
        ("ada%ED%B3%BF%40example.com", "correct+horse+battery+staple"),
        ("ada%40example.com", "correct+horse%00+battery+staple"),
        ("ada%40example.com", "correct+horse+%ED%B3%BF%FF+battery"),
        ("a" * 5000 + "%40example.com", "correct+horse+battery+staple"),
        ("ada%40example.com", "x" * 100_000),
        ("ada%40example.com&email=other%40example.com", "x&password=y"),
    ],
)
def test_hostile_sign_in_input_is_an_ordinary_refusal(app, ada, email, password):
    """Raw form bodies, as a hostile client would send them: bytes, not Python strings.

    Text no field may hold (NUL) is refused before sign-in (422, as on every surface);
    the rest is a wrong password (401).  Never a session, never a 5xx.
    """
    browser = from_address(app, "198.51.100.123")
    browser.get("/console/login")
    body = f"csrf_token={browser.csrf()}&email={email}&password={password}"
    response = browser.client.post(
        "/console/login", data=body, content_type="application/x-www-form-urlencoded"
    )
    # Bytes that are not UTF-8 arrive as U+FFFD: text, just a wrong one.
    assert response.status_code == (422 if "%00" in email + password else 401)
    assert browser.get("/console/clients").status_code == 302
