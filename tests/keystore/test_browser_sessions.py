"""Server-side browser sessions, with the clock passed in (no sleeping)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from keystore.config import Settings
from keystore.errors import ConfigError
from keystore.models import utcnow
from keystore.services import admins
from keystore.services import browser_sessions as sessions
from tests.worlds import ACTOR

PASSWORD = "correct horse battery staple"


def make_admin(session, email="ada@example.com"):
    admins.create_admin(session, actor=ACTOR, name="Ada", email=email)
    return admins.set_password(session, actor=ACTOR, email=email, password=PASSWORD)


def test_a_session_lives_until_idle_or_old(session, settings):
    settings = dataclasses.replace(settings, session_idle_seconds=600, session_max_seconds=3600)
    admin, now = make_admin(session), utcnow()
    sid = sessions.start(session, settings, kind="admin", person=admin, now=now)
    for minutes in (9, 18, 27, 36, 45, 54):
        at = now + timedelta(minutes=minutes)
        assert sessions.resolve(session, settings, kind="admin", session_id=sid, now=at) == admin
    at = now + timedelta(minutes=60)
    assert sessions.resolve(session, settings, kind="admin", session_id=sid, now=at) is None
    fresh = sessions.start(session, settings, kind="admin", person=admin, now=now)
    at = now + timedelta(minutes=10)
    assert sessions.resolve(session, settings, kind="admin", session_id=fresh, now=at) is None


def test_a_short_idle_timeout_is_kept_alive_by_activity(session, settings):
    settings = dataclasses.replace(settings, session_idle_seconds=10)
    admin, now = make_admin(session), utcnow()
    sid = sessions.start(session, settings, kind="admin", person=admin, now=now)
    for seconds in range(6, 120, 6):
        at = now + timedelta(seconds=seconds)
        assert sessions.resolve(session, settings, kind="admin", session_id=sid, now=at) == admin
    at = now + timedelta(seconds=114 + 11)
    assert sessions.resolve(session, settings, kind="admin", session_id=sid, now=at) is None


def test_a_session_is_found_only_by_its_id_and_for_its_kind(session, settings):
    admin = make_admin(session)
    sid = sessions.start(session, settings, kind="admin", person=admin)
    assert sessions.resolve(session, settings, kind="portal_user", session_id=sid) is None
    assert sessions.resolve(session, settings, kind="admin", session_id=sid[:-1] + "x") is None
    assert sessions.resolve(session, settings, kind="admin", session_id=sid) == admin


def test_ending_all_of_a_persons_sessions_leaves_others_alone(session, settings):
    ada, bob = make_admin(session), make_admin(session, "bob@example.com")
    ada_ids = [sessions.start(session, settings, kind="admin", person=ada) for _ in range(3)]
    bob_id = sessions.start(session, settings, kind="admin", person=bob)
    assert sessions.end_all(session, kind="admin", person_id=ada.id) == 3
    for sid in ada_ids:
        assert sessions.resolve(session, settings, kind="admin", session_id=sid) is None
    assert sessions.resolve(session, settings, kind="admin", session_id=bob_id) == bob


def test_the_csrf_token_differs_per_session_and_per_pepper(settings):
    other = dataclasses.replace(settings, pepper="another-pepper-0123456789abcdefghijklmnop")
    assert sessions.csrf_token(settings, "a" * 43) != sessions.csrf_token(settings, "b" * 43)
    assert sessions.csrf_token(settings, "a" * 43) != sessions.csrf_token(other, "a" * 43)


def test_the_lifetimes_are_settings(tmp_path):
    env = {"KEYWARD_SESSION_IDLE_SECONDS": "120", "KEYWARD_SESSION_MAX_SECONDS": "7200"}
    parsed = Settings.from_env(env, data_dir=tmp_path)
    assert (parsed.session_idle_seconds, parsed.session_max_seconds) == (120, 7200)
    defaults = Settings.from_env({}, data_dir=tmp_path)
    assert (defaults.session_idle_seconds, defaults.session_max_seconds) == (1800, 43200)
    for bad in ({"KEYWARD_SESSION_IDLE_SECONDS": "0"}, {"KEYWARD_SESSION_MAX_SECONDS": "soon"}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad, data_dir=tmp_path)
