"""The first ten minutes: ``/`` leads to the console; the next step is said where it is needed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from keystore.services import admins
from tests.web.console.conftest import PASSWORD
from tests.worlds import ACTOR

KEYWARD = "import sys; from web.entry import main; sys.argv[0] = 'keyward'; main()"


def test_the_root_leads_to_the_console_sign_in(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/console/")
    landed = client.get("/", follow_redirects=True)
    assert landed.status_code == 200
    assert landed.request.path == "/console/login"


def test_the_sign_in_page_says_how_to_make_the_first_admin_until_one_can_sign_in(app, session):
    browser = app.test_client()
    page = browser.get("/console/login").text
    assert 'id="first-steps"' in page
    assert "keyward admin add" in page
    assert "keyward admin password" in page
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    session.flush()
    assert 'id="first-steps"' in browser.get("/console/login").text  # no password yet
    admins.set_password(session, actor=ACTOR, email="ada@example.com", password=PASSWORD)
    session.flush()
    page = browser.get("/console/login").text
    assert 'id="first-steps"' not in page
    assert "keyward admin" not in page
    assert "first-steps" not in browser.get("/portal/login").text


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _keyward(env: dict, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", KEYWARD, *args]
    return subprocess.run(
        command, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def _serve_says(env: dict, port: int) -> str:
    """What ``keyward serve`` prints before it serves (it is stopped once the page answers)."""
    # Bound to every interface, as in a container: the address printed is one that works here.
    wildcard = "0.0.0.0"  # noqa: S104
    command = [sys.executable, "-c", KEYWARD, "serve", "--host", wildcard, "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert server.poll() is None, server.stderr.read()
            time.sleep(0.2)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, said = server.communicate(timeout=30)
    return said


def test_serve_prints_the_next_step_with_the_real_address(tmp_path):
    env = {**os.environ, "KEYWARD_DATA_DIR": str(tmp_path), "KEYWARD_LOG_FORMAT": "text"}
    env.pop("KEYWARD_REDIS_URL", None)
    port = _free_port()
    said = _serve_says(env, port)
    assert "No console admin can sign in yet" in said
    assert 'keyward admin add "Your Name" you@example.com' in said
    assert f"http://127.0.0.1:{port}/console/login" in said
    assert _keyward(env, "admin", "add", "Ada", "ada@example.com").returncode == 0
    done = _keyward(env, "admin", "password", "ada@example.com", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    said = _serve_says(env, port)
    assert f"Console: sign in at http://127.0.0.1:{port}/console/login" in said
    assert "No console admin" not in said
