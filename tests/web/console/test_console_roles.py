"""Console people roles: every /console route declares what it needs, and the guard holds it."""

import pytest
from sqlalchemy import func, select

from keystore.models import Admin, ApiKey, AuditEvent, Client, Role
from keystore.services import admins
from rotation.intake import Report, record_reports
from tests.web.console.conftest import PASSWORD, Browser
from tests.web.console.routes import Ids, url
from tests.worlds import ACTOR
from web.console.permissions import PUBLIC, RANK, requirement

METHODS = ("GET", "POST")


def console_rules(app):
    return sorted(
        (rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/console")),
        key=lambda rule: rule.rule,
    )


def test_every_console_route_declares_the_role_it_needs(app):
    undeclared = [
        f"{method} {rule.rule}"
        for rule in console_rules(app)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
        if requirement(app.view_functions[rule.endpoint], method) is None
    ]
    assert undeclared == []
    assert len(console_rules(app)) >= 35


def person(session, app, role: str) -> Browser:
    email = f"{role}@example.com"
    admins.create_admin(session, actor=ACTOR, name=role.title(), email=email, role=role)
    admins.set_password(session, actor=ACTOR, email=email, password=PASSWORD)
    session.flush()
    browser = Browser(app)
    assert browser.sign_in("console", email).status_code == 302
    return browser


@pytest.fixture
def ids(session, settings, world, issue, ada) -> Ids:
    key, token = issue()
    intake = record_reports(session, settings, origin="manual", reports=[Report(token=token)])
    session.flush()
    return Ids(world.client.id, world.role.id, key.id, intake.incident_ids[0], admin_id=ada.id)


PROBES = (Admin, ApiKey, AuditEvent, Client, Role)


def state(session):
    session.expire_all()
    return [session.scalar(select(func.count()).select_from(m)) for m in PROBES]


# (role, method, path template, expected status): what each role may and may not do.
TABLE = [
    ("viewer", "GET", "/console/clients", 200),
    ("viewer", "GET", "/console/keys/{key_id}", 200),
    ("viewer", "GET", "/console/incidents/{incident_id}", 200),
    ("viewer", "GET", "/console/audit", 200),
    ("viewer", "GET", "/console/clients/new", 403),
    ("viewer", "POST", "/console/clients/new", 403),
    ("viewer", "POST", "/console/clients/{client_id}/disable", 403),
    ("viewer", "POST", "/console/keys/{key_id}/revoke", 403),
    ("viewer", "POST", "/console/keys/{key_id}/regenerate", 403),
    ("viewer", "POST", "/console/incidents/{incident_id}/replacement", 403),
    ("viewer", "GET", "/console/people", 403),
    ("viewer", "POST", "/console/people", 403),
    ("viewer", "POST", "/console/roles/{role_id}", 403),
    ("operator", "GET", "/console/clients/new", 200),
    ("operator", "POST", "/console/clients/{client_id}/disable", 302),
    ("operator", "POST", "/console/keys/{key_id}/deactivate", 302),
    ("operator", "GET", "/console/roles/{role_id}", 200),
    ("operator", "GET", "/console/roles/new", 403),
    ("operator", "POST", "/console/roles/new", 403),
    ("operator", "POST", "/console/roles/{role_id}", 403),
    ("operator", "POST", "/console/roles/{role_id}/delete", 403),
    ("operator", "POST", "/console/webhooks", 403),
    ("operator", "POST", "/console/issuers", 403),
    ("operator", "GET", "/console/people", 403),
    ("operator", "POST", "/console/people", 403),
    ("operator", "POST", "/console/people/{admin_id}/role", 403),
    ("operator", "POST", "/console/people/{admin_id}/delete", 403),
]


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_what_each_role_may_do(app, session, ids, role):
    browser = person(session, app, role)
    form = {"name": "x", "email": "x@example.com", "role": "admin", "endpoints": ["orders.list"]}
    for _, method, path, expected in [row for row in TABLE if row[0] == role]:
        before = state(session)
        target = path.format(**vars(ids))
        response = browser.get(target) if method == "GET" else browser.post(target, form)
        assert response.status_code == expected, f"{method} {path}: {response.text[:300]}"
        if expected == 403:
            assert "may not do this" in response.text
            assert state(session) == before


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_every_route_above_a_role_refuses_it_and_changes_nothing(app, session, ids, role):
    browser = person(session, app, role)
    before = state(session)
    refused = 0
    for rule in console_rules(app):
        for method in METHODS:
            if method not in rule.methods:
                continue
            needed = requirement(app.view_functions[rule.endpoint], method)
            if needed == PUBLIC or RANK[needed] <= RANK[role]:
                continue
            target = url(app, rule, ids)
            response = browser.get(target) if method == "GET" else browser.post(target, {})
            assert response.status_code == 403, f"{method} {rule.rule}: {response.status_code}"
            refused += 1
    assert refused >= (10 if role == "operator" else 25)
    assert state(session) == before


def test_the_last_admin_cannot_be_demoted_or_removed(console, session, ada):
    before = state(session)
    demoted = console.post(f"/console/people/{ada.id}/role", {"role": "viewer"})
    assert demoted.status_code == 409
    assert "last console admin" in demoted.text
    removed = console.post(f"/console/people/{ada.id}/delete")
    assert removed.status_code == 409
    assert state(session) == before


def test_admins_manage_people_and_a_role_change_applies_at_once(app, console, session, ada):
    added = console.post(
        "/console/people", {"name": "Bob", "email": "bob@example.com", "role": "operator"}
    )
    assert added.status_code == 302
    page = console.get("/console/people")
    assert "bob@example.com" in page.text
    bob = admins.get_admin(session, "bob@example.com")
    assert bob.role == "operator"
    admins.set_password(session, actor=ACTOR, email="bob@example.com", password=PASSWORD)
    session.flush()
    bobs = Browser(app)
    assert bobs.sign_in("console", "bob@example.com").status_code == 302
    assert bobs.get("/console/clients/new").status_code == 200
    assert console.post(f"/console/people/{bob.id}/role", {"role": "viewer"}).status_code == 302
    assert bobs.get("/console/clients/new").status_code == 403  # the very next request
    # With Bob an admin, Ada may step down; the change is audited.
    assert console.post(f"/console/people/{bob.id}/role", {"role": "admin"}).status_code == 302
    assert console.post(f"/console/people/{ada.id}/role", {"role": "operator"}).status_code == 302
    assert console.get("/console/people").status_code == 403
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "admin.role")).all()
    assert [e.summary for e in events] == [
        "bob@example.com: operator -> viewer",
        "bob@example.com: viewer -> admin",
        "ada@example.com: admin -> operator",
    ]
    assert all(e.actor == f"admin:{ada.id}" for e in events)


def test_a_bad_role_is_refused(console, session, ada):
    response = console.post(
        "/console/people", {"name": "Eve", "email": "eve@example.com", "role": "root"}
    )
    assert response.status_code == 422
    assert session.scalar(select(Admin).where(Admin.email == "eve@example.com")) is None
