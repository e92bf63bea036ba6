"""The CLI for periodic refresh and console roles, on SQLite and PostgreSQL, with --json."""

import json

from tests.keystore.test_cli import cli, issue, setup_client

__all__ = ["cli"]


def as_json(result):
    return json.loads(result.stdout)


def test_maximum_key_ages_through_the_cli(cli):
    setup_client(cli)
    env = as_json(cli("--json", "env", "update", "prod", "--max-key-age", "30"))
    assert env["max_key_age_days"] == 30
    assert "max key age: 30 days" in cli("env", "list").stdout
    key = issue(cli)
    assert key["max_key_age_days"] == 30
    assert key["expires_by_age_at"] is not None
    role = as_json(cli("--json", "role", "update", "reader", "--max-key-age", "7"))
    assert role["max_key_age_days"] == 7
    (listed,) = as_json(cli("--json", "key", "list", "acme"))
    assert listed["max_key_age_days"] == 7
    assert "expires by age" in cli("key", "list", "acme").stdout
    assert (
        as_json(cli("--json", "role", "update", "reader", "--no-max-key-age"))["max_key_age_days"]
        is None
    )
    created = as_json(cli("--json", "role", "create", "short", "--max-key-age", "3"))
    assert created["max_key_age_days"] == 3
    assert (
        as_json(cli("--json", "env", "update", "prod", "--no-max-key-age"))["max_key_age_days"]
        is None
    )
    refused = cli("env", "update", "prod", "--max-key-age", "0", code=2)
    assert "0" in refused.stderr


def test_console_roles_through_the_cli(cli):
    cli("admin", "add", "Ada", "ada@example.com")
    viewer = as_json(cli("--json", "admin", "add", "Vic", "vic@example.com", "--role", "viewer"))
    assert viewer["role"] == "viewer"
    rows = {a["email"]: a["role"] for a in as_json(cli("--json", "admin", "list"))}
    assert rows == {"ada@example.com": "admin", "vic@example.com": "viewer"}
    assert as_json(cli("--json", "admin", "role", "vic@example.com", "operator"))["role"] == (
        "operator"
    )
    refused = cli("admin", "role", "ada@example.com", "viewer", code=1)
    assert refused.stderr.startswith("error: this is the last console admin")
    assert "Traceback" not in refused.stderr
    cli("admin", "remove", "ada@example.com", "--yes", code=1)
    forced = cli("--json", "--force-last-admin", "admin", "role", "ada@example.com", "viewer")
    assert as_json(forced)["role"] == "viewer"
    cli("admin", "role", "vic@example.com", "root", code=2)
