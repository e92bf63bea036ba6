"""`keyward repo scan` in the embedded mode finishes every step, emails included, before it exits.

The command runs as its own process: what went wrong was the interpreter shutting down
under in-process tasks, which no in-process runner can show.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import TEST_PEPPER
from tests.databases import recreate_database
from tests.gitrepos import Repo, git_identity
from tests.mailbox import mailbox
from web.cli import main

__all__ = ["git_identity", "mailbox"]
BIN = os.path.dirname(sys.executable)
LEAKS = 8


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path, mailbox):
    values = {
        "KEYWARD_DATA_DIR": str(tmp_path / "data"),
        "KEYWARD_PEPPER": TEST_PEPPER,
        "KEYWARD_SMTP_HOST": "127.0.0.1",
        "KEYWARD_SMTP_PORT": str(mailbox.port),
        "KEYWARD_REPO_ALLOW_LOCAL": "true",
        "KEYWARD_SCAN_TIMEOUT_SECONDS": "30",
    }
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        values["KEYWARD_DATABASE_URL"] = recreate_database(url, "keyward_cli_scan", migrate=False)
    return values


def run(env: dict, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.stdout


def keyward(env: dict, *args: str, code: int = 0) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KEYWARD_")}
    done = subprocess.run(
        [os.path.join(BIN, "keyward"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_a_cli_scan_revokes_and_mails_before_it_exits(env, mailbox, tmp_path):
    run(env, "migrate")
    run(env, "endpoint", "add", "orders.list", "--section", "Orders")
    run(env, "project", "add", "shop")
    run(env, "role", "create", "reader", "--endpoint", "orders.list")
    run(env, "admin", "add", "Ada", "ada@example.com")
    run(
        env,
        *("client", "create", "acme", "--role", "reader", "--env", "dev,prod"),
        *("--project", "shop", "--contact", "ops@acme.example"),
    )
    # Several leaks: their responses outlast the scan, as on a busy or slow database.
    tokens = [
        json.loads(run(env, "--json", "key", "issue", "acme", "--name", f"k{n}", "--env", "dev"))[
            "token"
        ]
        for n in range(LEAKS)
    ]
    origin = Repo(tmp_path / "origin")
    origin.commit("leak", **{"app.env": "".join(f"TOKEN={t}\n" for t in tokens)})
    run(env, "repo", "add", f"file://{origin.path}")
    done = keyward(env, "repo", "scan", "1")
    assert f"{LEAKS} issued by Keyward" in done.stdout
    assert sorted(m["To"] for m in mailbox.messages) == sorted(
        ["ada@example.com", "ops@acme.example"] * LEAKS
    )
    assert not any(t in m.as_string() for t in tokens for m in mailbox.messages)
    listed = json.loads(run(env, "--json", "key", "list", "acme"))
    assert [k["state"] for k in listed] == ["revoked"] * LEAKS


def test_a_failed_cli_scan_says_why_and_exits_non_zero(env, tmp_path):
    run(env, "migrate")
    run(env, "repo", "add", f"file://{tmp_path}/gone")
    done = keyward(env, "repo", "scan", "1", code=1)
    assert "could not fetch" in done.stderr
    assert "not_found" in done.stderr
    runs = json.loads(run(env, "--json", "repo", "runs", "1"))
    assert [(r["status"], r["reason"]) for r in runs] == [("failed", "not_found")]
