import os
import stat

import pytest

from keystore.config import Settings
from keystore.errors import ConfigError


def test_embedded_defaults_create_and_keep_a_private_pepper(tmp_path):
    first = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path)})
    again = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path)})
    assert first.mode == "embedded"
    assert first.embedded
    assert first.pepper == again.pepper
    assert len(first.pepper) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / "pepper").st_mode) == 0o600
    assert first.database_url == f"sqlite:///{(tmp_path / 'keyward.db').resolve()}"
    assert first.token_prefix == "kw"
    assert first.pepper not in repr(first)


def test_production_refuses_to_start_without_a_pepper(tmp_path):
    with pytest.raises(ConfigError, match="KEYWARD_PEPPER"):
        Settings.from_env(
            {"KEYWARD_DATA_DIR": str(tmp_path), "KEYWARD_REDIS_URL": "redis://127.0.0.1:6379/0"}
        )
    assert not (tmp_path / "pepper").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KEYWARD_PEPPER": "short"}, "at least 32"),
        ({"KEYWARD_TOKEN_PREFIX": "KW"}, "KEYWARD_TOKEN_PREFIX"),
        ({"KEYWARD_MODE": "chaos"}, "KEYWARD_MODE"),
        ({"KEYWARD_JWT_TTL_SECONDS": "soon"}, "whole number"),
    ],
)
def test_bad_settings_are_named(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path), **env})


def test_explicit_settings_win(tmp_path):
    settings = Settings.from_env(
        {
            "KEYWARD_DATA_DIR": str(tmp_path),
            "KEYWARD_DATABASE_URL": "postgresql+psycopg://u@h/db",
            "KEYWARD_PEPPER": "p" * 40,
            "KEYWARD_TOKEN_PREFIX": "acme",
            "KEYWARD_REDIS_URL": "redis://r:6379/1",
        }
    )
    assert settings.mode == "production"
    assert (settings.database_url, settings.token_prefix) == ("postgresql+psycopg://u@h/db", "acme")
    assert not (tmp_path / "pepper").exists()


def test_session_cookies_are_secure_in_production_unless_told_otherwise(tmp_path):
    embedded = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path)})
    production = Settings.from_env(
        {
            "KEYWARD_DATA_DIR": str(tmp_path),
            "KEYWARD_PEPPER": "p" * 40,
            "KEYWARD_MODE": "production",
        }
    )
    forced = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path), "KEYWARD_COOKIE_SECURE": "1"})
    assert (embedded.cookie_secure, production.cookie_secure, forced.cookie_secure) == (
        False,
        True,
        True,
    )


def test_task_timing_settings_are_read_and_bounded(tmp_path):
    env = {
        "KEYWARD_DATA_DIR": str(tmp_path),
        "KEYWARD_TASK_RETRY_BACKOFF_MAX_SECONDS": "45",
        "KEYWARD_BROKER_TIMEOUT_SECONDS": "3",
    }
    settings = Settings.from_env(env)
    assert (settings.task_retry_backoff_max_seconds, settings.broker_timeout_seconds) == (45, 3)
    for name, value in [
        ("KEYWARD_TASK_VISIBILITY_SECONDS", "3"),
        ("KEYWARD_BROKER_TIMEOUT_SECONDS", "0"),
    ]:
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({**env, name: value})


def test_trusted_proxies_take_ranges_and_are_kept_normalised(tmp_path):
    env = {"KEYWARD_DATA_DIR": str(tmp_path), "KEYWARD_TRUSTED_PROXIES": "10.0.0.1-10.0.0.3,::1"}
    assert Settings.from_env(env).trusted_proxies == ("10.0.0.1/32", "10.0.0.2/31", "::1/128")
    with pytest.raises(ConfigError, match="reversed"):
        Settings.from_env({**env, "KEYWARD_TRUSTED_PROXIES": "10.0.0.9-10.0.0.1"})
