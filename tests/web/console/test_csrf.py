"""Every state-changing console and portal route refuses a missing or wrong CSRF token."""

import pytest
from sqlalchemy import func, select

from keystore.models import ApiKey, AuditEvent, Client, KeyToken, PortalInvitation, PortalUser, Role
from rotation.intake import Report, record_reports
from tests.web.console.routes import Ids, routes, url

PROBES = (
    select(func.count()).select_from(AuditEvent),
    select(func.count()).select_from(KeyToken),
    select(func.count()).select_from(Client),
    select(func.count()).select_from(Role),
    select(func.count()).select_from(PortalUser),
    select(func.count()).select_from(PortalInvitation),
    select(func.count()).select_from(ApiKey).where(ApiKey.state == "active"),
    select(func.count()).select_from(Client).where(Client.enabled.is_(True)),
)


def state(session) -> list[int]:
    session.expire_all()
    return [session.scalar(probe) for probe in PROBES]


@pytest.fixture
def ids(session, settings, world, issue) -> Ids:
    key, token = issue()
    intake = record_reports(session, settings, origin="manual", reports=[Report(token=token)])
    session.flush()
    return Ids(
        client_id=world.client.id,
        role_id=world.role.id,
        key_id=key.id,
        incident_id=intake.incident_ids[0],
    )


def test_every_post_route_is_covered(app):
    assert len(routes(app, "POST")) >= 15


@pytest.mark.parametrize("token", ["", "forged-token"])
def test_every_post_route_refuses_a_bad_token_and_changes_nothing(
    app, browser, console, acme_user, session, ids, token
):
    portal = type(browser)(app)
    assert portal.sign_in("portal", "dev@acme.example").status_code == 302
    before = state(session)
    for rule in routes(app, "POST"):
        signed_in = portal if rule.rule.startswith("/portal") else console
        form = {"name": "x", "email": "ada@example.com", "password": "correct horse battery staple"}
        response = signed_in.post(url(app, rule, ids), form, csrf=token)
        assert response.status_code == 400, f"{rule.rule} answered {response.status_code}"
        assert "reload the page" in response.text
    assert state(session) == before
    # Still signed in: a refused form does not end the session.
    assert console.get("/console/clients").status_code == 200


def test_the_right_token_is_accepted(console, ids, session):
    response = console.post(f"/console/clients/{ids.client_id}/disable")
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Client, ids.client_id).enabled is False
