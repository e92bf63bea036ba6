"""The console's areas the API has: catalogue, admins, repositories and runs, limits, leak action.

Every form: a bad input shows the form again with the message, a 4xx status, and changes nothing.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from keystore.models import (
    Admin,
    ApiKey,
    AuditEvent,
    Client,
    Endpoint,
    Environment,
    Project,
    Role,
    ScanRun,
    WatchedRepository,
)
from tests.fakedns import dns

__all__ = ["dns"]


def count(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def unchanged(session, *models):
    """The counts of ``models`` and of audit events, to compare after a refusal."""
    return [count(session, model) for model in (*models, AuditEvent)]


def test_environments_projects_and_endpoints_are_managed_in_the_catalogue(console, session):
    page = console.get("/console/catalogue")
    assert page.status_code == 200
    assert "<code>prod</code>" in page.text
    form = {"tag": "qa", "name": "QA", "leak_action": "regenerate", "allows_dev_only": "on"}
    assert console.post("/console/environments", form).status_code == 302
    qa = session.scalar(select(Environment).where(Environment.tag == "qa"))
    assert (qa.leak_action, qa.allows_dev_only) == ("regenerate", True)
    assert console.post("/console/projects", {"name": "shop"}).status_code == 302
    endpoint = {"name": "orders.list", "section": "Orders", "method": "GET", "path": "/orders"}
    assert console.post("/console/endpoints", endpoint).status_code == 302
    page = console.get("/console/catalogue").text
    assert "orders.list" in page
    assert "shop" in page
    assert console.post("/console/projects/delete", {"name": "shop"}).status_code == 302
    assert console.post("/console/endpoints/delete", {"name": "orders.list"}).status_code == 302
    assert count(session, Project) == 0
    assert session.scalar(select(Endpoint).where(Endpoint.name == "orders.list")) is None


@pytest.mark.parametrize(
    ("path", "form", "field"),
    [
        ("/console/environments", {"tag": "Not A Tag", "name": "x"}, "tag"),
        ("/console/environments", {"tag": "prod", "name": "again"}, None),
        ("/console/environments", {"tag": "qa", "name": "x", "leak_action": "explode"}, None),
        ("/console/projects", {"name": ""}, "name"),
        ("/console/projects/delete", {"name": "nothing"}, None),
        ("/console/endpoints", {"name": "9 bad name"}, "name"),
        ("/console/endpoints/delete", {"name": "keyward.clients.read"}, None),
    ],
)
def test_a_refused_catalogue_form_says_why_and_changes_nothing(console, session, path, form, field):
    before = unchanged(session, Environment, Project, Endpoint)
    response = console.post(path, form)
    assert 400 <= response.status_code < 500, response.status_code
    assert 'class="banner error"' in response.text
    if field:
        assert f'id="{field}-error"' in response.text
    assert unchanged(session, Environment, Project, Endpoint) == before


def test_admins_are_added_switched_and_removed(console, session, ada):
    assert "ada@example.com" in console.get("/console/people").text
    form = {"name": "Grace", "email": "grace@example.com", "role": "operator"}  # no leak emails
    assert console.post("/console/people", form).status_code == 302
    grace = session.scalar(select(Admin).where(Admin.email == "grace@example.com"))
    assert grace.notify_leaks is False
    on = {"notify_leaks": "on"}
    assert console.post(f"/console/people/{grace.id}/notifications", on).status_code == 302
    session.expire_all()
    assert session.get(Admin, grace.id).notify_leaks is True
    before = unchanged(session, Admin)
    for bad in ({"name": "X", "email": "not an email"}, {"name": "Ada", "email": ada.email}):
        refused = console.post("/console/people", {**bad, "role": "viewer"})
        assert refused.status_code in (409, 422)
        assert 'class="banner error"' in refused.text
    assert console.post("/console/people/2147483647/delete", {}).status_code == 404
    assert unchanged(session, Admin) == before
    assert console.post(f"/console/people/{grace.id}/delete", {}).status_code == 302
    assert count(session, Admin) == 1
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "admin"))
    assert {"admin.create", "admin.update", "admin.delete"} <= set(actions)


def test_repositories_are_watched_paused_and_their_runs_paged(console, session, dns):
    url = "https://github.com/acme/app.git"
    form = {"url": url, "branches": "main\nrelease", "interval_seconds": "600"}
    added = console.post("/console/repositories", form)
    assert added.status_code == 302
    repo = session.scalar(select(WatchedRepository))
    assert (repo.branches, repo.interval_seconds) == (["main", "release"], 600)
    for _ in range(25):
        session.add(ScanRun(repository_id=repo.id, trigger="schedule", status="ok"))
    session.flush()
    page = console.get(f"/console/repositories/{repo.id}")
    assert page.text.count("/console/scan-runs/") == 20
    older = re.search(r'<a rel="next" href="\?([^"]+)"', page.text).group(1)
    rest = console.get(f"/console/repositories/{repo.id}?{older}")
    assert rest.text.count("/console/scan-runs/") == 5
    run_id = session.scalars(select(ScanRun.id)).first()
    assert console.get(f"/console/scan-runs/{run_id}").status_code == 200
    assert console.post(f"/console/repositories/{repo.id}/pause").status_code == 302
    session.expire_all()
    assert session.get(WatchedRepository, repo.id).enabled is False
    assert console.post(f"/console/repositories/{repo.id}/delete").status_code == 302
    assert count(session, WatchedRepository) == 0


@pytest.mark.parametrize(
    "form",
    [
        {"url": "http://169.254.169.254/latest/meta-data"},
        {"url": "https://evil.example/acme/app.git"},
        {"url": "https://github.com/acme/app.git", "interval_seconds": "-5"},
        {"url": "https://github.com/acme/app.git", "credentials_env": "PATH"},
    ],
)
def test_a_refused_repository_form_says_why_and_changes_nothing(console, session, dns, form):
    before = unchanged(session, WatchedRepository)
    response = console.post("/console/repositories", form)
    assert 400 <= response.status_code < 500
    assert 'role="alert"' in response.text
    assert unchanged(session, WatchedRepository) == before


def test_limits_are_set_on_clients_and_keys_and_refused_when_incomplete(
    console, session, world, issue
):
    form = {"name": "acme", "environments": ["prod"], "role": "reader"}
    limited = {**form, "rate_limit": "100", "rate_window_seconds": "60", "quota_daily": "5000"}
    assert console.post(f"/console/clients/{world.client.id}/edit", limited).status_code == 302
    session.expire_all()
    client = session.get(Client, world.client.id)
    assert (client.rate_limit, client.rate_window_seconds, client.quota_daily) == (100, 60, 5000)
    before = unchanged(session, Client)
    half = {**form, "rate_limit": "100", "rate_window_seconds": ""}
    refused = console.post(f"/console/clients/{world.client.id}/edit", half)
    assert refused.status_code == 422
    assert 'id="rate_window_seconds-error"' in refused.text
    session.expire_all()
    assert session.get(Client, world.client.id).rate_window_seconds == 60
    assert unchanged(session, Client) == before

    key, _ = issue()
    assert console.post(f"/console/keys/{key.id}/limits", {"quota_monthly": "9"}).status_code == 302
    session.expire_all()
    assert session.get(ApiKey, key.id).quota_monthly == 9
    before = unchanged(session, ApiKey)
    for bad in ({"quota_daily": "-1"}, {"quota_daily": "lots"}, {"rate_limit": "5"}):
        response = console.post(f"/console/keys/{key.id}/limits", bad)
        assert response.status_code == 422, bad
        assert 'role="alert"' in response.text
    session.expire_all()
    assert session.get(ApiKey, key.id).quota_monthly == 9
    assert unchanged(session, ApiKey) == before


def test_a_roles_leak_action_is_chosen_in_its_form(console, session, world):
    form = {"name": "reader", "endpoints": ["orders.list"], "leak_action": "notify_only"}
    assert console.post(f"/console/roles/{world.role.id}", form).status_code == 302
    session.expire_all()
    assert session.get(Role, world.role.id).leak_action == "notify_only"
    assert 'value="notify_only" selected' in console.get(f"/console/roles/{world.role.id}").text
    before = unchanged(session, Role)
    refused = console.post(f"/console/roles/{world.role.id}", {**form, "leak_action": "explode"})
    assert refused.status_code == 422
    assert 'id="leak_action-error"' in refused.text
    session.expire_all()
    assert session.get(Role, world.role.id).leak_action == "notify_only"
    assert unchanged(session, Role) == before
    inherit = {**form, "leak_action": ""}
    assert console.post(f"/console/roles/{world.role.id}", inherit).status_code == 302
    session.expire_all()
    assert session.get(Role, world.role.id).leak_action is None
