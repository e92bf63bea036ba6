"""``keyward``'s output contract: ``--json`` anywhere, JSON errors, confirmations, lean imports."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import TEST_PEPPER
from web.cli import main

BIN = os.path.join(os.path.dirname(sys.executable), "keyward")


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL", "KEYWARD_MODE"):
        monkeypatch.delenv(name, raising=False)
    return {"KEYWARD_DATA_DIR": str(tmp_path / "data"), "KEYWARD_PEPPER": TEST_PEPPER}


@pytest.fixture
def cli(env):
    def run(*args, code=0, input=None):
        result = CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        assert "Traceback" not in result.output + result.stderr
        return result

    return run


@pytest.fixture
def key(cli):
    cli("role", "create", "reader", "--endpoint", "keyward.audit.read")
    cli("client", "create", "acme", "--role", "reader", "--env", "prod")
    return json.loads(
        cli("key", "issue", "acme", "--name", "main", "--env", "prod", "--json").stdout
    )


def test_json_before_or_after_the_subcommand(cli, key):
    before = cli("--json", "key", "list", "acme").stdout
    assert json.loads(before)[0]["id"] == key["id"]
    assert cli("key", "list", "acme", "--json").stdout == before
    assert cli("key", "--json", "list", "acme").stdout == before
    assert json.loads(cli("client", "list", "--json").stdout)[0]["name"] == "acme"
    assert not cli("client", "list").stdout.startswith("[")


def one_json_error(result) -> dict:
    *notices, line = result.stderr.strip().splitlines()
    assert all(json.loads(n)["notice"] == "new_database" for n in notices)
    error = json.loads(line)
    assert set(error) == {"error", "reason", "message"}
    assert result.stdout == ""
    return error


@pytest.mark.parametrize(
    ("args", "code", "reason"),
    [
        (("client", "show", "ghost", "--json"), 1, "client_not_found"),
        (("--json", "client", "show", "ghost"), 1, "client_not_found"),
        (("client", "list", "--json", "--no-such-option"), 2, "usage"),
        (("client", "list", "--no-such-option", "--json"), 2, "usage"),
        (("--json", "key", "revoke", "0"), 2, "usage"),
        (("key", "revoke", "99999999999", "--json"), 2, "usage"),
        (("--json", "no-such-command"), 2, "usage"),
        (("--json", "--no-such-option"), 2, "usage"),
        (("key", "revoke", "999", "--yes", "--json"), 1, "key_not_found"),
        (("project", "add", "bad\udcffname", "--json"), 1, "bad_text"),
    ],
)
def test_errors_under_json_are_one_json_object(cli, args, code, reason):
    error = one_json_error(cli(*args, code=code))
    assert error["reason"] == reason
    assert error["message"]


def test_errors_without_json_stay_one_line(cli):
    cli("migrate")
    result = cli("client", "show", "ghost", code=1)
    assert result.stderr.strip().splitlines() == ["error: no client 'ghost'"]


def test_scan_errors_speak_like_the_other_commands(cli, tmp_path):
    missing = str(tmp_path / "nowhere")
    result = cli("scan", missing, code=2)
    assert result.stderr.strip().splitlines() == [f"error: no such file or directory: {missing}"]
    error = one_json_error(cli("scan", missing, "--json", code=2))
    assert (error["error"], error["reason"]) == ("scan_failed", "unreadable_path")
    assert one_json_error(cli("--json", "scan", missing, code=2)) == error


def test_scan_json_reports_in_json(cli, tmp_path):
    (tmp_path / "clean.txt").write_text("nothing here\n")
    report = json.loads(cli("scan", str(tmp_path / "clean.txt"), "--json", "-q").stdout)
    assert report["findings"] == []


def test_key_revoke_needs_yes_off_a_terminal(cli, key):
    result = cli("key", "revoke", str(key["id"]), code=2)
    assert "--yes" in result.stderr
    assert cli("key", "list", "acme", "--json").stdout.count('"active"') == 1
    cli("key", "revoke", str(key["id"]), "--yes")
    [listed] = json.loads(cli("key", "list", "acme", "--json").stdout)
    assert listed["state"] == "revoked"


@pytest.mark.parametrize(("answer", "code", "state"), [("n", 1, "active"), ("y", 0, "revoked")])
def test_key_revoke_asks_on_a_terminal(cli, env, key, answer, code, state):
    primary, replica = pty.openpty()
    try:
        process = subprocess.Popen(
            [BIN, "key", "revoke", str(key["id"])],
            stdin=replica,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
        )
        os.write(primary, f"{answer}\n".encode())
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(replica)
    assert process.returncode == code, stderr
    [listed] = json.loads(cli("key", "list", "acme", "--json").stdout)
    assert listed["state"] == state


HEAVY = ("flask", "celery", "sqlalchemy", "alembic", "web.app", "rotation.celery_app")


def loaded_modules(env: dict, *args: str) -> list[str]:
    """Run ``keyward ARGS`` in a fresh interpreter; name the heavy modules it imported."""
    code = (
        "import atexit, sys\n"
        f"atexit.register(lambda: print('loaded:', [m for m in {HEAVY!r} if m in sys.modules]))\n"
        f"sys.argv = ['keyward', *{list(args)!r}]\n"
        "from web.entry import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1].removeprefix("loaded: ").replace("'", '"'))


def test_help_loads_none_of_the_stack(env):
    assert loaded_modules(env, "--help") == []


def test_store_commands_load_neither_flask_nor_celery(env):
    assert loaded_modules(env, "client", "--help") == ["sqlalchemy"]
    assert loaded_modules(env, "client", "list") == ["sqlalchemy", "alembic"]
