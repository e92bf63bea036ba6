"""The repositories API under hostile input: a 4xx with a reason, and nothing stored."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from keystore.models import AuditEvent, WatchedRepository
from tests.fakedns import dns

__all__ = ["dns"]

GOOD = "https://github.com/acme/app.git"


def stored(session) -> int:
    return session.scalar(select(func.count()).select_from(WatchedRepository))


@pytest.mark.parametrize(
    ("body", "reason", "field"),
    [
        ({"url": "file:///etc"}, "scheme_not_allowed", "url"),
        ({"url": "file:///work/main"}, "scheme_not_allowed", "url"),
        ({"url": "http://127.0.0.1:6379/"}, "scheme_not_allowed", "url"),
        ({"url": "https://127.0.0.1:5432/x.git"}, "host_not_allowed", "url"),
        ({"url": "https://2130706433/x.git"}, "host_not_allowed", "url"),
        ({"url": "https://017700000001/x.git"}, "host_not_allowed", "url"),
        ({"url": "https://[::1]:22/x.git"}, "host_not_allowed", "url"),
        ({"url": "https://[fe80::1%25eth0]/x.git"}, "host_not_allowed", "url"),
        ({"url": "https://user:pass@github.com/acme/app.git"}, "userinfo_not_allowed", "url"),
        ({"url": "https://github.com\u0000.evil.example/x"}, "bad_text", "url"),
        ({"url": "https://xn--gthub-n4a.com/x.git"}, "host_not_allowed", "url"),
        ({"url": "https://gïthub.com/x.git"}, "url_invalid", "url"),
        ({"url": "https://github.com/" + "a" * 100_000}, "too_long", "url"),
        ({"url": 12345678901234567890}, "wrong_type", "url"),
        ({"url": {"$ne": None}}, "wrong_type", "url"),
        ({"url": GOOD, "credentials_env": "HOME"}, "bad_format", "credentials_env"),
        ({"url": GOOD, "branches": ["x"] * 1000}, "too_many", "branches"),
        ({"url": GOOD, "branches": ["--upload-pack=touch /tmp/x"]}, "bad_format", "branches.0"),
        ({"url": GOOD, "branches": ["../../etc"]}, "invalid", "branches"),
        ({"url": GOOD, "interval_seconds": 10**20}, "out_of_range", "interval_seconds"),
        ({"url": GOOD, "interval_seconds": "60"}, "wrong_type", "interval_seconds"),
    ],
)
def test_hostile_registrations_are_refused_and_nothing_is_stored(
    admin, session, dns, body, reason, field
):
    response = admin("POST", "/api/v1/repositories", json=body)
    assert 400 <= response.status_code < 500
    answer = response.get_json()
    assert (answer["reason"], answer.get("field")) == (reason, field)
    assert set(answer) >= {"error", "reason", "message"}
    assert len(answer["message"]) < 300
    assert stored(session) == 0
    audit = select(func.count()).where(AuditEvent.action == "repository.create")
    assert session.scalar(audit.select_from(AuditEvent)) == 0


def test_a_name_resolving_inside_the_network_is_refused_with_could_not_fetch(admin, session, dns):
    dns.answers["gitlab.com"] = ["10.0.0.5"]
    response = admin("POST", "/api/v1/repositories", json={"url": "https://gitlab.com/a/b.git"})
    assert response.status_code == 422
    answer = response.get_json()
    assert answer["reason"] == "address_not_allowed"
    assert answer["message"].startswith("could not fetch")
    assert "10.0.0.5" not in answer["message"]
    assert stored(session) == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"url": "https://github.com/a/\\ud800.git"}',
        '{"url": "https://github.com/a/b.git", "branches": "\\u0000"}',
        "[" * 5000 + "]" * 5000,
    ],
)
def test_unparseable_or_strange_bodies_are_4xx(admin, session, dns, raw):
    response = admin(
        "POST", "/api/v1/repositories", data=raw, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500
    assert stored(session) == 0


def test_a_public_https_repository_is_accepted_and_credentials_bound_to_its_host(
    admin, session, dns
):
    response = admin(
        "POST",
        "/api/v1/repositories",
        json={"url": "https://GitHub.com/acme/app.git", "credentials_env": "KEYWARD_REPO_TOKEN_A"},
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["url"] == GOOD
    repo = session.scalar(select(WatchedRepository))
    assert repo.credentials_host == "github.com"


def test_updates_refuse_wrong_types_and_changes_nothing(admin, session, dns):
    repo_id = admin("POST", "/api/v1/repositories", json={"url": GOOD}).get_json()["id"]
    for body in (
        {"enabled": "no"},
        {"credentials_env": "KEYWARD_REPO_TOKEN_\u0000"},
        {"branches": [None]},
        {"url": "file:///etc"},
    ):
        response = admin("PATCH", f"/api/v1/repositories/{repo_id}", json=body)
        assert 400 <= response.status_code < 500, body
    after = admin("GET", "/api/v1/repositories").get_json()
    assert [(r["url"], r["enabled"], r["branches"]) for r in after] == [(GOOD, True, [])]


@pytest.mark.parametrize("path", ["/repositories/99999999999999999999", "/scan-runs/99999999999"])
def test_huge_ids_are_404(admin, path):
    for method in ("GET", "POST", "PATCH", "DELETE"):
        response = admin(method, f"/api/v1{path}", json={})
        assert response.status_code in (404, 405), (method, response.status_code)
    assert admin("POST", f"/api/v1{path}/scan").status_code == 404


def test_errors_never_echo_the_body(admin, dns):
    secret = "ghp_" + "x" * 36
    response = admin("POST", "/api/v1/repositories", json={"url": f"https://{secret}@github.com/a"})
    assert secret not in json.dumps(response.get_json())
