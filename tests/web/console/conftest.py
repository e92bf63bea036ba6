"""Console and portal fixtures: a browser-like test client, a signed-in admin, a portal user."""

from __future__ import annotations

import pytest

from keystore.services import admins, clients, portal
from tests.worlds import ACTOR, issue, world

__all__ = ["issue", "world"]

PASSWORD = "correct horse battery staple"


class Browser:
    """Flask's test client plus the session's CSRF token, as a real form would carry it."""

    def __init__(self, app) -> None:
        self.client = app.test_client()

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)

    def csrf(self) -> str:
        with self.client.session_transaction() as session:
            return session.get("csrf", "")

    def post(self, path: str, data: dict | None = None, *, csrf: str | None = None, **kwargs):
        """Post a form with this session's CSRF token (or the given one; ``""``: none)."""
        form = dict(data or {})
        token = self.csrf() if csrf is None else csrf
        if token:
            form["csrf_token"] = token
        return self.client.post(path, data=form, **kwargs)

    def sign_in(self, surface: str, email: str, password: str = PASSWORD):
        self.get(f"/{surface}/login")
        return self.post(f"/{surface}/login", {"email": email, "password": password})


@pytest.fixture
def browser(app) -> Browser:
    return Browser(app)


@pytest.fixture
def ada(session):
    """A workspace admin with a console password."""
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    admin = admins.set_password(session, actor=ACTOR, email="ada@example.com", password=PASSWORD)
    session.flush()
    return admin


@pytest.fixture
def console(browser, ada) -> Browser:
    """A browser signed in to the console as Ada."""
    response = browser.sign_in("console", "ada@example.com")
    assert response.status_code == 302, response.text
    return browser


@pytest.fixture
def rival(session, world):
    """A second client, whose keys the first client's portal user must never reach."""
    return clients.create_client(
        session, actor=ACTOR, name="rival", role="reader", environments=["prod"]
    )


def make_portal_user(session, settings, *, client_id: int, email: str):
    _, token = portal.invite(session, settings, actor=ACTOR, client_id=client_id, email=email)
    user = portal.accept_invitation(session, settings, token=token, password=PASSWORD)
    session.flush()
    return user


@pytest.fixture
def acme_user(session, settings, world):
    return make_portal_user(session, settings, client_id=world.client.id, email="dev@acme.example")
