"""Console and portal sign-in: passwords, sessions, sign-out, throttling."""

from sqlalchemy import select

from keystore.models import Admin
from keystore.services import admins
from keystore.services.sign_in_throttle import FREE_PER_PAIR


def test_pages_need_a_signed_in_admin(browser):
    response = browser.get("/console/clients")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/console/login")


def test_an_admin_signs_in_and_out(browser, ada):
    response = browser.sign_in("console", "ada@example.com")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    page = browser.get("/console/clients")
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert browser.post("/console/logout").status_code == 302
    assert browser.get("/console/clients").status_code == 302


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(browser, ada):
    response = browser.sign_in("console", "ada@example.com", password="not the password!")
    assert response.status_code == 401
    assert "wrong email or password" in response.text
    assert browser.sign_in("console", "nobody@example.com").status_code == 401
    assert browser.get("/console/clients").status_code == 302


def test_the_password_is_stored_as_a_versioned_scrypt_hash(session, ada):
    stored = session.scalar(select(Admin.password_hash).where(Admin.id == ada.id))
    assert stored.startswith("scrypt$1$")
    assert "correct horse" not in stored


def test_sign_in_is_throttled_per_email(browser, ada):
    for _ in range(FREE_PER_PAIR):
        browser.sign_in("console", "ada@example.com", password="wrong password!!")
    response = browser.sign_in("console", "ada@example.com")
    assert response.status_code == 429
    assert "too many sign-in attempts" in response.text
    assert browser.get("/console/clients").status_code == 302


def test_sign_in_goes_back_only_to_console_pages(browser, ada):
    browser.get("/console/login")
    form = {"email": "ada@example.com", "password": "correct horse battery staple"}
    response = browser.post("/console/login?next=//evil.example/x", form)
    assert response.headers["Location"] == "/console/clients"


def test_a_portal_user_signs_in_and_out(browser, acme_user):
    assert browser.sign_in("portal", "dev@acme.example").status_code == 302
    assert "acme" in browser.get("/portal/").text
    assert browser.post("/portal/logout").status_code == 302
    assert browser.get("/portal/").status_code == 302


def test_a_portal_session_does_not_open_the_console(browser, acme_user):
    browser.sign_in("portal", "dev@acme.example")
    assert browser.get("/console/clients").status_code == 302


def test_a_new_password_ends_older_sessions(console, session, ada):
    assert console.get("/console/clients").status_code == 200
    admins.set_password(
        session, actor="test", email="ada@example.com", password="another long password"
    )
    session.flush()
    assert console.get("/console/clients").status_code == 302
