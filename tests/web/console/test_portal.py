"""The client portal: invitations, and a user who only ever reaches their own client's keys."""

import pytest
from sqlalchemy import func, select

from keystore.models import ApiKey, AuditEvent, KeyToken, PortalInvitation
from keystore.services import keys, portal
from tests.web.console.conftest import PASSWORD
from tests.worlds import ACTOR


def fingerprint(session) -> tuple:
    session.expire_all()
    return (
        session.scalar(select(func.count()).select_from(AuditEvent)),
        session.scalar(select(func.count()).select_from(KeyToken)),
        tuple(session.scalars(select(ApiKey.state).order_by(ApiKey.id))),
    )


@pytest.fixture
def rival_key(session, settings, rival):
    key, _ = keys.issue_key(
        session, settings, actor=ACTOR, client_ref=rival.id, name="theirs", environment="prod"
    )
    session.flush()
    return key


@pytest.fixture
def signed_in(browser, acme_user):
    assert browser.sign_in("portal", "dev@acme.example").status_code == 302
    return browser


def test_an_invitation_sets_a_password_once(browser, session, settings, world):
    _, token = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="new@acme.example"
    )
    session.flush()
    page = browser.get(f"/portal/accept?invitation={token}")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    form = {"invitation": token, "password": PASSWORD, "confirm": PASSWORD}
    assert browser.post("/portal/accept", form).status_code == 302
    assert "acme" in browser.get("/portal/").text
    assert browser.get(f"/portal/accept?invitation={token}").status_code == 404
    stored = session.scalars(select(PortalInvitation.token_digest)).all()
    assert token not in stored


def test_a_short_password_is_refused_next_to_its_field(browser, session, settings, world):
    _, token = portal.invite(
        session, settings, actor=ACTOR, client_id=world.client.id, email="new@acme.example"
    )
    session.flush()
    browser.get(f"/portal/accept?invitation={token}")
    form = {"invitation": token, "password": "short", "confirm": "short"}
    response = browser.post("/portal/accept", form)
    assert response.status_code == 422
    assert 'id="password-error"' in response.text
    assert browser.get(f"/portal/accept?invitation={token}").status_code == 200  # still unused


def test_the_portal_shows_only_the_users_own_client(signed_in, issue, rival_key):
    own, _ = issue(name="ours")
    page = signed_in.get("/portal/").text
    assert own.hint in page
    assert "dev, prod" in page
    assert "shop" in page
    assert rival_key.hint not in page
    assert "theirs" not in page


@pytest.mark.parametrize("action", ["regenerate", "deactivate", "reactivate", "revoke"])
def test_another_clients_key_cannot_be_touched_by_changing_the_id(
    signed_in, rival_key, session, action
):
    before = fingerprint(session)
    response = signed_in.post(f"/portal/keys/{rival_key.id}/{action}")
    assert response.status_code == 404
    assert "new-token" not in response.text
    assert rival_key.hint not in response.text
    assert fingerprint(session) == before


def test_a_portal_user_manages_their_own_keys(signed_in, session):
    response = signed_in.post(
        "/portal/keys", {"name": "mine", "environment": "dev"}, follow_redirects=True
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    key = session.scalar(select(ApiKey).where(ApiKey.name == "mine"))
    assert signed_in.post(f"/portal/keys/{key.id}/deactivate").status_code == 302
    assert signed_in.post(f"/portal/keys/{key.id}/regenerate").status_code == 303
    assert signed_in.post(f"/portal/keys/{key.id}/revoke").status_code == 302
    session.expire_all()
    assert session.get(ApiKey, key.id).state == "revoked"
    events = select(AuditEvent.actor).where(
        AuditEvent.object_type == "key", AuditEvent.object_id == str(key.id)
    )
    actors = set(session.scalars(events))
    assert actors == {f"portal:{_user_id(session)}"}


def test_the_portal_keeps_the_admins_rules(signed_in, session, rival):
    # acme may reach dev and prod only; "test" is refused by the same service the console uses.
    response = signed_in.post("/portal/keys", {"name": "x", "environment": "test"})
    assert response.status_code == 422
    assert 'id="environment-error"' in response.text


def _user_id(session) -> int:
    from keystore.models import PortalUser

    return session.scalar(select(PortalUser.id).where(PortalUser.email == "dev@acme.example"))
