"""No token or JWT reaches a log line: web (every surface), worker and CLI."""

from __future__ import annotations

import io
import logging

import pytest
from click.testing import CliRunner

from keystore.jwt_access import issue_jwt
from keystore.redaction import ScrubbingFormatter, install_scrubbing
from keystore.structured_logs import JsonFormatter
from rotation.partners import GITHUB
from tests.partner import signature_headers
from tests.worlds import ACTOR
from web.cli import main as cli_main


@pytest.fixture
def log_output():
    """Every record of the process, formatted by both of our formatters into one buffer."""
    buffer = io.StringIO()
    handlers = [logging.StreamHandler(buffer), logging.StreamHandler(buffer)]
    handlers[0].setFormatter(JsonFormatter())
    handlers[1].setFormatter(ScrubbingFormatter("%(name)s %(message)s"))
    loggers = [logging.getLogger(), logging.getLogger("keyward")]
    for logger in loggers:
        for handler in handlers:
            logger.addHandler(handler)
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield buffer
    for logger, level in zip(loggers, previous, strict=True):
        logger.setLevel(level)
        for handler in handlers:
            logger.removeHandler(handler)


def _secret_parts(*secrets: str) -> list[str]:
    # The random part alone (and the JWT's signature) must not appear either.
    parts = []
    for secret in secrets:
        parts += [secret, secret.split("_")[-1]] if "." not in secret else [secret]
        parts += [secret.rsplit(".", 1)[-1]] if "." in secret else []
    return parts


def test_tokens_and_jwts_sent_everywhere_never_reach_the_web_log(
    client, issue, session, settings, admin, log_output
):
    key, token = issue()
    minted, _ = issue_jwt(session, settings, actor=ACTOR, key_id=key.id)
    session.flush()
    for secret in (token, minted):
        bearer = {"Authorization": f"Bearer {secret}"}
        # In the path, glued to other text, and in the query.
        client.get(f"/api/v1/keys/{secret}", headers=bearer)
        client.get(f"/api/v1/clients/X{secret}/keys", headers=bearer)
        client.get(f"/console/{secret}")
        admin("GET", f"/api/v1/audit?action={secret}")
        client.get(f"/v1/auth?x={secret}", headers={**bearer, "X-Keyward-Endpoint": secret})
        # In headers and bodies.
        client.get("/api/v1/clients", headers={**bearer, "X-Request-Id": secret[:64]})
        client.post("/v1/verify", json={"token": secret, "endpoint": secret})
        client.post("/v1/verify", json={"token": secret, "endpoint": "orders.list"})
        client.post("/v1/credentials/revoke", json={"credentials": [secret]})
        client.post(
            "/v1/secret-scanning/github",
            data=f'[{{"token": "{secret}", "type": "x", "url": "{secret}"}}]',
            headers={
                "Content-Type": "application/json",
                **signature_headers(GITHUB, secret, secret),
            },
        )
        client.post("/console/login", data={"email": secret, "password": secret})
    written = log_output.getvalue()
    assert "/api/v1/keys/[REDACTED]" in written  # the access log still names the route
    for part in _secret_parts(token, minted):
        assert part not in written


def test_the_worker_log_redacts_task_failures(log_output):
    import rotation.worker  # noqa: F401 - the Celery entry module installs the scrubber

    token = "kw_prod_" + "A" * 36
    trace = logging.getLogger("celery.app.trace")
    try:
        raise ValueError(f"could not handle {token}")
    except ValueError:
        trace.exception("Task keyward.handle_incident[abc] raised unexpected: %r", token)
    written = log_output.getvalue()
    assert "ValueError" in written
    assert token not in written
    assert "A" * 36 not in written


def test_cli_errors_never_echo_a_token(tmp_path, monkeypatch):
    install_scrubbing()
    for name in ("KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL", "KEYWARD_PEPPER", "KEYWARD_MODE"):
        monkeypatch.delenv(name, raising=False)
    token = "kw_prod_" + "B" * 36
    runner = CliRunner()
    env = {"KEYWARD_DATA_DIR": str(tmp_path)}
    for args in (
        ["key", "revoke", token],
        ["client", "show", token],
        ["key", "delete", token],
        ["role", "show", token],
    ):
        result = runner.invoke(cli_main, args, env=env)
        assert result.exit_code != 0
        output = result.output + result.stderr
        assert "Traceback" not in output
        assert "B" * 36 not in output, output
