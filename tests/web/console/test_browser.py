"""The console and the portal in headless Chromium, against a real server on a real port."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.db import make_engine
from keystore.migrate import prepare
from keystore.services import admins, catalogue, clients, keys
from rotation import dispatch
from tests.conftest import TEST_PEPPER
from tests.partner import Signer, alert, key_document
from tests.web.console.conftest import PASSWORD
from tests.web.console.live import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    key_server,
    keyward_server,
    require_chromium,
    screenshot,
)
from web import create_app

ACTOR = "browser-test"
ADMIN = "ada@example.com"


@pytest.fixture(scope="module")
def github_signer():
    signer = Signer("browser-test-key")
    server = key_server(key_document(signer))
    signer.keys_url = f"http://127.0.0.1:{server.port}/keys"
    yield signer
    server.stop()


@pytest.fixture(scope="module")
def keyward(tmp_path_factory, github_signer):
    """Keyward on a fresh, migrated SQLite file (embedded mode), seeded with an admin."""
    settings = Settings.from_env(
        {},
        data_dir=tmp_path_factory.mktemp("live"),
        pepper=TEST_PEPPER,
        github_keys_url=github_signer.keys_url,
        log_format="text",
    )
    engine = make_engine(settings.database_url)
    prepare(engine)
    engine.dispose()
    seed(settings)
    with pytest.MonkeyPatch.context() as patch:
        # Leak tasks run right after the webhook's commit, so the page shows their outcome.
        patch.setattr(dispatch, "run_inline", True)
        live = keyward_server(create_app(settings), settings)
        yield live
        live.server.stop()


def seed(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    with Session(engine) as session, session.begin():
        admins.create_admin(session, actor=ACTOR, name="Ada", email=ADMIN)
        admins.set_password(session, actor=ACTOR, email=ADMIN, password=PASSWORD)
        for name in ("orders.list", "orders.create"):
            catalogue.declare_endpoint(session, actor=ACTOR, name=name, section="Orders")
        catalogue.create_project(session, actor=ACTOR, name="shop")
    engine.dispose()


@pytest.fixture(scope="module")
def chromium():
    sync_playwright = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(viewport={"width": 1200, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def sign_in(page, keyward, *, surface: str = "console", email: str = ADMIN) -> None:
    page.goto(f"{keyward.url}/{surface}/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def verify(keyward, token: str) -> dict:
    body = {"token": token, "endpoint": "orders.list", "environment": "prod", "project": "shop"}
    response = requests.post(f"{keyward.url}/v1/verify", json=body, timeout=10)
    assert response.status_code == 200
    return response.json()


def read_token(page) -> str:
    dialog = page.locator("#token-dialog")
    assert "you will not see this token again" in dialog.inner_text()
    return page.inner_text("#new-token").strip()


def test_an_admin_issues_a_key_uses_it_and_regenerates_it(page, keyward):
    sign_in(page, keyward)
    screenshot(page, "clients-empty")
    create_role(page, name="reader", endpoint="orders.list")
    create_client(page, name="acme", role="reader")
    token = issue_key(page, name="checkout")
    assert verify(keyward, token)["allowed"] is True

    page.click("text=I have stored it")
    assert token not in page.content()
    page.click("text=Manage")
    page.click("#regenerate")
    new_token = read_token(page)
    assert new_token != token
    assert verify(keyward, token)["reason"] == "revoked"
    assert verify(keyward, new_token)["allowed"] is True

    page.click("text=I have stored it")
    page.click("text=Manage")
    screenshot(page, "key-usage")
    assert page.locator("svg rect").count() >= 1
    page.click("main >> text=acme")
    page.click("text=Usage")
    assert "allowed" in page.inner_text("figcaption")
    screenshot(page, "client-usage")


def test_reloading_the_token_page_issues_no_second_key_and_shows_nothing(page, keyward):
    sign_in(page, keyward)
    create_role(page, name="reloader", endpoint="orders.list")
    create_client(page, name="reload-co", role="reloader")
    token = issue_key(page, name="once")
    assert "/console/shown/" in page.url
    assert token not in page.url
    page.reload()
    assert page.locator("#token-gone").is_visible()
    assert token not in page.content()
    page.go_back()
    assert token not in page.content()
    page.goto(f"{keyward.url}/console/clients")
    page.click("main >> text=reload-co")
    assert page.locator("table.keys tr[id^=key-]").count() == 1
    assert verify(keyward, token)["allowed"] is True


def create_role(page, *, name: str, endpoint: str) -> None:
    page.click("header >> text=Roles")
    page.click("text=New role")
    page.fill("#name", name)
    page.check(f"input[name=endpoints][value='{endpoint}']")
    screenshot(page, "role-form")
    page.click("text=Save role")
    assert name in page.inner_text("main")


def create_client(page, *, name: str, role: str) -> None:
    page.click("header >> text=Clients")
    page.click("text=New client")
    page.fill("#name", name)
    page.fill("#contact_email", f"ops@{name}.example")
    page.select_option("#role", role)
    page.check("input[name=environments][value=prod]")
    page.check("input[name=projects][value=shop]")
    page.click("text=Save client")
    assert page.inner_text("h1").startswith(name)
    screenshot(page, "client")


def issue_key(page, *, name: str) -> str:
    """Issue a key from the client's page; copy the token with the dialog's button."""
    page.click("#new-key")
    page.fill("#name", name)
    page.select_option("#environment", "prod")
    page.click("#issue-key")
    token = read_token(page)
    page.click("#copy-token")
    page.wait_for_function("document.getElementById('copy-status').textContent !== ''")
    assert page.evaluate("navigator.clipboard.readText()") == token
    screenshot(page, "token-dialog")
    return token


def test_a_leak_reported_by_github_becomes_an_incident_on_the_page(page, keyward, github_signer):
    _, token = issue_directly(keyward, client="leaky", key_name="main", environment="dev")
    body = alert(token, url="https://github.com/someone/repo/blob/main/settings.py")
    response = requests.post(
        f"{keyward.url}/v1/secret-scanning/github",
        data=body,
        headers=github_signer.headers(body),
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()[0]["label"] == "true_positive"

    sign_in(page, keyward)
    page.click("header >> text=Incidents")
    screenshot(page, "incidents")
    page.click("table >> a >> nth=0")
    timeline = page.inner_text("#timeline")
    assert "github.com/someone/repo/blob/main/settings.py" in timeline
    assert "revoke" in page.inner_text("#incident-action")
    screenshot(page, "incident")
    assert verify(keyward, token)["allowed"] is False


def test_a_portal_user_sees_their_client_and_never_another(page, chromium, keyward):
    issue_directly(keyward, client="portal-own", key_name="own-key")
    other, _ = issue_directly(keyward, client="portal-other", key_name="their-key")
    sign_in(page, keyward)
    link = invite(page, client="portal-own", email="dev@own.example")

    portal = chromium.new_context().new_page()
    portal.goto(link)
    portal.fill("#password", PASSWORD)
    portal.fill("#confirm", PASSWORD)
    portal.click("text=Set password")
    text = portal.inner_text("main")
    assert "portal-own" in text
    assert "own-key" in text
    assert "portal-other" not in text
    assert "their-key" not in text
    screenshot(portal, "portal-home")

    # The page's own CSRF token, another client's key id in the URL: not found, nothing done.
    status = portal.evaluate(
        """async (keyId) => {
            const csrf = document.querySelector("input[name=csrf_token]").value;
            const body = new URLSearchParams({csrf_token: csrf});
            const response = await fetch(`/portal/keys/${keyId}/revoke`, {method: "POST", body});
            return response.status;
        }""",
        other.id,
    )
    assert status == 404
    assert key_state(keyward, other.id) == "active"
    portal.context.close()


def invite(page, *, client: str, email: str) -> str:
    """Invite a client's contact from the console; without SMTP the link is shown once."""
    page.fill("input[name=q]", client)
    page.click("text=Search")
    page.click(f"table >> text={client}")
    page.fill("#email", email)
    page.click("text=Send invitation")
    screenshot(page, "invitation-link")
    return page.inner_text("#invitation-link code").strip()


def issue_directly(keyward, *, client: str, key_name: str, environment: str = "prod"):
    """A client and its key, made through the services: returns (key, token)."""
    engine = make_engine(keyward.settings.database_url)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        created = clients.create_client(
            session, actor=ACTOR, name=client, role=None, environments=[environment]
        )
        key, token = keys.issue_key(
            session,
            keyward.settings,
            actor=ACTOR,
            client_ref=created.id,
            name=key_name,
            environment=environment,
        )
    engine.dispose()
    return key, token


def key_state(keyward, key_id: int) -> str:
    engine = make_engine(keyward.settings.database_url)
    with Session(engine) as session:
        state = keys.get_key(session, key_id).state
    engine.dispose()
    return state
