"""Picking the partner from the headers, the sources built from settings, and their settings."""

from __future__ import annotations

import dataclasses

import pytest
from werkzeug.datastructures import Headers

from keystore.config import GITHUB_PARTNER_KEYS_URL, Settings
from keystore.errors import ConfigError
from rotation.partner_errors import SignatureError
from rotation.partner_keys import partner_sources, verify_alert
from rotation.partners import GITHUB, GITLAB, PARTNERS
from tests.partner import signature_headers
from tests.rotation.conftest import KEYS_URL, Signer, key_document

BODY = b'[{"type":"keyward_api_token","token":"kw_dev_x","url":""}]'
GITLAB_URL = "https://gitlab.example.test/partner/public_keys"


@pytest.mark.parametrize(
    "make_headers",
    [
        lambda i, s: {GITHUB.identifier_header.lower(): i, GITHUB.signature_header.upper(): s},
        lambda i, s: Headers(list(signature_headers(GITHUB, i, s).items())),
    ],
    ids=["dict_any_case", "werkzeug_headers"],
)
def test_github_headers_are_found_whatever_their_case(
    keyserver, configured, http_session, make_headers
):
    signer = Signer()
    keyserver.get(KEYS_URL, json=key_document(signer))
    sources = partner_sources(configured, None, http_session)
    headers = make_headers(signer.key_identifier, signer.sign(BODY))
    verify_alert(sources, GITHUB, headers=headers, payload=BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=0"},
        signature_headers(GITLAB, "k", "c2ln"),
        {GITHUB.signature_header: "c2ln"},
    ],
    ids=["none", "another_partners", "one_of_the_pair"],
)
def test_a_request_without_the_partners_headers_is_unsigned(
    keyserver, configured, http_session, headers
):
    sources = partner_sources(configured, None, http_session)
    with pytest.raises(SignatureError) as caught:
        verify_alert(sources, GITHUB, headers=headers, payload=BODY)
    assert (caught.value.reason, caught.value.status) == ("missing_headers", 401)
    assert len(keyserver.calls) == 0


def test_partners_are_declared_once():
    assert [p.name for p in PARTNERS] == ["github", "gitlab"]
    assert {p.identifier_header for p in PARTNERS} == {
        "Github-Public-Key-Identifier",
        "Gitlab-Public-Key-Identifier",
    }


@pytest.fixture
def configured(settings):
    return dataclasses.replace(
        settings, github_keys_url=KEYS_URL, gitlab_keys_url=GITLAB_URL, gitlab_token="glpat-x"
    )


def test_verify_alert_checks_each_partner_against_its_own_keys(keyserver, configured, http_session):
    github, gitlab = Signer(), Signer()
    keyserver.get(KEYS_URL, json=key_document(github))
    keyserver.get(GITLAB_URL, json=key_document(gitlab))
    sources = partner_sources(configured, None, http_session)
    gitlab_headers = signature_headers(GITLAB, gitlab.key_identifier, gitlab.sign(BODY))
    verify_alert(sources, GITLAB, headers=gitlab_headers, payload=BODY)
    assert keyserver.calls[0].request.headers["Authorization"] == "Bearer glpat-x"
    github_headers = signature_headers(GITHUB, github.key_identifier, github.sign(BODY))
    verify_alert(sources, GITHUB, headers=github_headers, payload=BODY)
    # A GitHub key does not vouch for an alert that claims to come from GitLab.
    forged = signature_headers(GITLAB, github.key_identifier, github.sign(BODY))
    with pytest.raises(SignatureError) as caught:
        verify_alert(sources, GITLAB, headers=forged, payload=BODY)
    assert caught.value.reason == "unknown_key"


def test_an_unconfigured_gitlab_knows_no_keys_and_fetches_nothing(
    keyserver, settings, http_session
):
    signer = Signer()
    sources = partner_sources(settings, None, http_session)
    headers = signature_headers(GITLAB, signer.key_identifier, signer.sign(BODY))
    with pytest.raises(SignatureError) as caught:
        verify_alert(sources, GITLAB, headers=headers, payload=BODY)
    assert (caught.value.reason, caught.value.status) == ("unknown_key", 401)
    assert len(keyserver.calls) == 0


def test_partner_sources_follow_the_settings(settings, http_session):
    sources = partner_sources(settings, None, http_session)
    assert set(sources) == {"github", "gitlab"}
    assert sources["github"].keys_url == GITHUB_PARTNER_KEYS_URL
    assert sources["gitlab"].keys_url is None


@pytest.mark.parametrize("shared", [False, True], ids=["embedded", "redis"])
def test_partner_sources_cache_where_the_mode_says(
    request, keyserver, configured, http_session, shared
):
    signer = Signer()
    keyserver.get(KEYS_URL, json=key_document(signer))
    client = request.getfixturevalue("redis_client") if shared else None
    headers = signature_headers(GITHUB, signer.key_identifier, signer.sign(BODY))
    for _ in range(2):
        # A fresh set of sources stands for another process.
        sources = partner_sources(configured, client, http_session)
        verify_alert(sources, GITHUB, headers=headers, payload=BODY)
    assert len(keyserver.calls) == (1 if shared else 2)


def test_partner_settings_are_read_from_the_environment(tmp_path):
    settings = Settings.from_env(
        {
            "KEYWARD_DATA_DIR": str(tmp_path),
            "KEYWARD_GITHUB_KEYS_URL": KEYS_URL,
            "KEYWARD_GITHUB_TOKEN": "ghp_hidden",
            "KEYWARD_GITLAB_KEYS_URL": GITLAB_URL,
            "KEYWARD_GITLAB_TOKEN": "glpat-hidden",
            "KEYWARD_PARTNER_KEYS_TTL_SECONDS": "7200",
            "KEYWARD_PARTNER_REFETCH_SECONDS": "30",
        }
    )
    assert (settings.github_keys_url, settings.github_token) == (KEYS_URL, "ghp_hidden")
    assert (settings.gitlab_keys_url, settings.gitlab_token) == (GITLAB_URL, "glpat-hidden")
    assert (settings.partner_keys_ttl_seconds, settings.partner_refetch_seconds) == (7200, 30)
    assert "ghp_hidden" not in repr(settings)
    assert "glpat-hidden" not in repr(settings)


def test_partner_settings_default_to_github_and_no_gitlab(tmp_path):
    settings = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path)})
    assert settings.github_keys_url == GITHUB_PARTNER_KEYS_URL
    assert (settings.github_token, settings.gitlab_keys_url, settings.gitlab_token) == (None,) * 3
    assert (settings.partner_keys_ttl_seconds, settings.partner_refetch_seconds) == (3600, 60)


def test_a_non_numeric_partner_timing_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="KEYWARD_PARTNER_KEYS_TTL_SECONDS"):
        Settings.from_env(
            {"KEYWARD_DATA_DIR": str(tmp_path), "KEYWARD_PARTNER_KEYS_TTL_SECONDS": "an hour"}
        )


@pytest.mark.parametrize(
    "env",
    [{"KEYWARD_PARTNER_REFETCH_SECONDS": "0"}, {"KEYWARD_PARTNER_KEYS_TTL_SECONDS": "-5"}],
)
def test_non_positive_partner_timings_are_refused(tmp_path, http_session, env):
    settings = Settings.from_env({"KEYWARD_DATA_DIR": str(tmp_path), **env})
    with pytest.raises(ConfigError, match="must be positive"):
        partner_sources(settings, None, http_session)
