"""Console flows that cross into the leak response and mail: pick-ups, invitations by email."""

import dataclasses

import pytest
from sqlalchemy import select

from keystore.decision import Request, decide
from keystore.models import Client, Incident
from rotation import dispatch
from tests.mailbox import body_text, mailbox
from tests.web.console.conftest import PASSWORD

__all__ = ["mailbox"]


@pytest.fixture
def inline_tasks(app, monkeypatch):
    """Leak tasks run right after the commit, in the test's transaction."""
    monkeypatch.setattr(dispatch, "run_inline", True)
    app.extensions["keyward"].install_task_context()


def new_token(response) -> str:
    return response.text.split('<code id="new-token">')[1].split("</code>")[0]


def test_a_replacement_token_is_picked_up_once(
    console, app, issue, session, settings, inline_tasks
):
    _, leaked = issue(environment="prod")
    app.test_client().post("/v1/credentials/revoke", json={"credentials": [leaked]})
    incident = session.scalar(select(Incident))
    page = console.get(f"/console/incidents/{incident.id}")
    assert "Pick up the replacement token" in page.text
    picked = console.post(f"/console/incidents/{incident.id}/replacement", follow_redirects=True)
    assert picked.status_code == 200
    assert picked.headers["Cache-Control"] == "no-store"
    token = new_token(picked)
    assert decide(session, settings, credential=token, request=Request("orders.list")).allowed
    again = console.post(f"/console/incidents/{incident.id}/replacement")
    assert again.status_code == 409
    assert token not in again.text
    assert "picked up" in again.text


def test_an_invitation_is_emailed_when_smtp_is_configured(console, app, world, mailbox):
    runtime = app.extensions["keyward"]
    runtime.settings = dataclasses.replace(
        runtime.settings, smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_tls="none"
    )
    response = console.post(
        f"/console/clients/{world.client.id}/invite", {"email": "dev@acme.example"}
    )
    assert "invitation sent to dev@acme.example" in response.text
    assert "/portal/accept?invitation=" not in response.text
    (message,) = mailbox.to("dev@acme.example")
    link = next(line for line in body_text(message).split() if "/portal/accept?" in line)
    path = link.split(runtime.settings.public_url)[1]
    portal = type(console)(app)
    assert portal.get(path).status_code == 200
    form = {"invitation": path.split("=", 1)[1], "password": PASSWORD, "confirm": PASSWORD}
    assert portal.post("/portal/accept", form).status_code == 302


def test_a_client_is_edited_disabled_enabled_and_deleted(console, world, session):
    form = {"name": "acme", "role": "reader", "environments": ["prod"], "projects": ["billing"]}
    assert console.post(f"/console/clients/{world.client.id}/edit", form).status_code == 302
    session.expire_all()
    client = session.get(Client, world.client.id)
    assert ([e.tag for e in client.environments], [p.name for p in client.projects]) == (
        ["prod"],
        ["billing"],
    )
    console.post(f"/console/clients/{world.client.id}/disable")
    assert "disabled" in console.get(f"/console/clients/{world.client.id}").text
    console.post(f"/console/clients/{world.client.id}/enable")
    assert "Delete client acme?" in console.get(f"/console/clients/{world.client.id}/delete").text
    assert console.post(f"/console/clients/{world.client.id}/delete").status_code == 302
    assert session.scalar(select(Client.id).where(Client.id == world.client.id)) is None


def test_the_portal_explains_the_ten_key_limit(browser, acme_user, issue):
    for number in range(10):
        issue(name=f"k{number}")
    browser.sign_in("portal", "dev@acme.example")
    assert 'id="key-limit"' in browser.get("/portal/").text
    refused = browser.post("/portal/keys", {"name": "k11", "environment": "prod"})
    assert refused.status_code == 409
    assert "the most allowed" in refused.text
