"""Settings of watched repositories and scans: defaults that are safe, explicit parsing."""

import pytest

from keystore.config import Settings
from keystore.errors import ConfigError
from tests.conftest import TEST_PEPPER


def test_defaults_fetch_https_from_the_big_forges_only(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path, pepper=TEST_PEPPER)
    assert settings.repo_hosts == ("github.com", "gitlab.com", "bitbucket.org")
    assert (settings.repo_allow_ssh, settings.repo_allow_local) == (False, False)
    assert settings.scan_timeout_seconds == 600
    assert settings.scan_cache_dir == tmp_path / "repos"


def test_the_environment_sets_them(tmp_path):
    settings = Settings.from_env(
        {
            "KEYWARD_REPO_HOSTS": " Git.Example.com , github.com,",
            "KEYWARD_REPO_ALLOW_SSH": "true",
            "KEYWARD_REPO_ALLOW_LOCAL": "yes",
            "KEYWARD_SCAN_TIMEOUT_SECONDS": "30",
            "KEYWARD_SCAN_CACHE": str(tmp_path / "cache"),
        },
        pepper=TEST_PEPPER,
        data_dir=tmp_path,
    )
    assert settings.repo_hosts == ("git.example.com", "github.com")
    assert (settings.repo_allow_ssh, settings.repo_allow_local) == (True, True)
    assert settings.scan_timeout_seconds == 30
    assert settings.scan_cache_dir == tmp_path / "cache"


@pytest.mark.parametrize(
    "env",
    [
        {"KEYWARD_SCAN_TIMEOUT_SECONDS": "0"},
        {"KEYWARD_SCAN_TIMEOUT_SECONDS": "ten"},
        {"KEYWARD_REPO_ALLOW_LOCAL": "maybe"},
    ],
)
def test_bad_values_are_refused_at_start(tmp_path, env):
    with pytest.raises(ConfigError):
        Settings.from_env(env, pepper=TEST_PEPPER, data_dir=tmp_path)
