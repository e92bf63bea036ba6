"""``keyward incident``: the list, one incident's trail, and the one-time pick-up, with --json."""

from __future__ import annotations

import json
from functools import partial

import pytest
from click.testing import CliRunner

from keystore.config import Settings
from keystore.db import make_engine, make_session_factory, transaction
from keystore.models import Incident
from rotation import policy
from rotation.intake import Report, record_reports
from tests.conftest import TEST_PEPPER
from tests.databases import recreate_database
from tests.keystore.test_cli import setup_client
from web.cli import main


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path, monkeypatch) -> dict:
    values = {"KEYWARD_DATA_DIR": str(tmp_path), "KEYWARD_PEPPER": TEST_PEPPER}
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        values["KEYWARD_DATABASE_URL"] = recreate_database(url, "keyward_cli_incidents")
    for name in ("KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL", "KEYWARD_PEPPER", "KEYWARD_MODE"):
        monkeypatch.delenv(name, raising=False)
    return values


def keyward(env: dict, *args: str, code: int = 0):
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output + result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def leak(env: dict, token: str, *, act: bool) -> None:
    """A partner reports the token (the intake's transaction); ``act``: the task acts on it."""
    settings = Settings.from_env(env)
    engine = make_engine(settings.database_url)
    with transaction(make_session_factory(engine)) as session:
        intake = record_reports(
            session, settings, origin="github", reports=[Report(token=token, url="https://x/y")]
        )
        if act:
            policy.act(session, settings, session.get(Incident, intake.incident_ids[0]))
    engine.dispose()


def test_an_incident_is_listed_shown_and_its_replacement_picked_up_once(env):
    cli = partial(keyward, env)
    cli("migrate")
    setup_client(cli)
    issued = cli("--json", "key", "issue", "acme", "--name", "main", "--env", "prod")
    leak(env, issued["token"], act=False)
    [listed] = cli("--json", "incident", "list", "--state", "received")
    assert (listed["token_hint"], listed["occurrence_count"]) == (issued["hint"], 1)
    # Nothing to pick up before the task has regenerated the key (prod's policy).
    cli("incident", "pickup", str(listed["id"]), code=1)
    leak(env, issued["token"], act=True)
    shown = cli("--json", "incident", "show", str(listed["id"]))
    assert (shown["state"], shown["action"]) == ("acted", "regenerate")
    assert [o["url"] for o in shown["occurrences"]] == ["https://x/y"] * 2
    picked = cli("--json", "incident", "pickup", str(listed["id"]))
    assert picked["hint"] == shown["replacement_hint"] != issued["hint"]
    assert picked["token"] not in json.dumps(shown)
    cli("incident", "pickup", str(listed["id"]), code=1)  # once only
