"""The CLI end to end, on the embedded SQLite default and on PostgreSQL."""

import json

import pytest
from click.testing import CliRunner

from tests.conftest import TEST_PEPPER
from tests.databases import recreate_database
from web.cli import main


@pytest.fixture(params=["sqlite", "postgresql"])
def cli(request, tmp_path, monkeypatch):
    env = {"KEYWARD_DATA_DIR": str(tmp_path)}
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        fresh = recreate_database(url, "keyward_cli_test", migrate=False)
        env |= {
            "KEYWARD_DATABASE_URL": fresh,
            "KEYWARD_PEPPER": TEST_PEPPER,
            "KEYWARD_MODE": "production",
        }
    for name in ("KEYWARD_DATABASE_URL", "KEYWARD_REDIS_URL", "KEYWARD_PEPPER", "KEYWARD_MODE"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(*args, input=None, code=0):
        result = runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)
        assert result.exit_code == code, result.output + result.stderr
        assert "Traceback" not in result.output + result.stderr
        return result

    run("migrate")
    return run


def setup_client(cli):
    cli("endpoint", "add", "orders.list", "--section", "Orders")
    cli("project", "add", "shop")
    cli("role", "create", "reader", "--endpoint", "orders.list")
    cli(
        "client",
        "create",
        "acme",
        "--role",
        "reader",
        "--env",
        "dev,prod",
        "--project",
        "shop",
        "--contact",
        "ops@acme.example",
    )


def issue(cli, *extra):
    out = cli("--json", "key", "issue", "acme", "--name", "main", "--env", "prod", *extra)
    return json.loads(out.stdout)


def test_issue_check_regenerate_and_revoke(cli):
    setup_client(cli)
    key = issue(cli, "--allow", "10.0.0.0/8")
    token = key["token"]
    assert key["hint"].startswith("kw_prod_")
    cli("check", "--endpoint", "orders.list", "--address", "10.0.0.1", input=token + "\n")
    denied = cli("check", token, "--endpoint", "orders.list", "--address", "8.8.8.8", code=3)
    assert "ip_not_allowed" in denied.stdout
    regen = json.loads(cli("--json", "key", "regenerate", str(key["id"])).stdout)
    cli("check", token, "--endpoint", "orders.list", "--address", "10.0.0.1", code=3)
    cli("check", regen["token"], "--endpoint", "orders.list", "--address", "10.0.0.1")
    cli("key", "revoke", str(key["id"]), "--yes")
    out = cli(
        "--json",
        "check",
        regen["token"],
        "--endpoint",
        "orders.list",
        "--address",
        "10.0.0.1",
        code=3,
    )
    assert json.loads(out.stdout)["reason"] == "revoked"


def test_the_token_is_shown_once_and_never_again(cli):
    setup_client(cli)
    token = issue(cli)["token"]
    for args in (
        ("client", "show", "acme"),
        ("key", "list", "acme"),
        ("audit",),
        ("--json", "audit"),
        ("--json", "key", "list", "acme"),
    ):
        assert token not in cli(*args).stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("client", "create", "x", "--env", "mars"), "unknown environments: mars"),
        (("client", "create", "x", "--contact", "nope"), "contact_email must be an email"),
        (("key", "issue", "ghost", "--name", "k", "--env", "prod"), "no client 'ghost'"),
        (
            ("key", "issue", "acme", "--name", "k", "--env", "prod", "--allow", "10.0.0.0/99"),
            "is not an IP address, CIDR range or first-last range",
        ),
        (("key", "regenerate", "999"), "no key 999"),
        (("role", "create", "reader"), "exists already"),
        (("client", "update", "acme", "--rate-limit", "5"), "go together"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(cli, args, message):
    setup_client(cli)
    before = cli("--json", "audit", "--limit", "500").stdout
    result = cli(*args, code=1)
    assert result.stderr.strip().startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert cli("--json", "audit", "--limit", "500").stdout == before


def test_usage_errors_exit_2(cli):
    cli("key", "issue", code=2)
    cli("audit", "--limit", "0", code=2)


def test_roles_clients_and_audit_listing(cli):
    setup_client(cli)
    cli("role", "update", "reader", "--grant", "keyward.audit.read")
    role = json.loads(cli("--json", "role", "show", "reader").stdout)
    assert role["endpoints"] == ["keyward.audit.read", "orders.list"]
    cli("client", "disable", "acme")
    token = issue(cli)["token"]
    out = cli("check", token, "--endpoint", "orders.list", code=3)
    assert "client_disabled" in out.stdout
    events = json.loads(cli("--json", "audit", "--type", "client").stdout)
    assert [e["action"] for e in events] == ["client.disable", "client.create"]
    cli("admin", "add", "Ada", "ada@example.com")
    assert "ada@example.com" in cli("admin", "list").stdout


def test_jwt_from_the_cli(cli):
    setup_client(cli)
    key = issue(cli)
    jwt = json.loads(cli("--json", "key", "jwt", str(key["id"]), "--ttl", "60").stdout)["jwt"]
    cli("check", jwt, "--endpoint", "orders.list")
    cli("client", "delete", "acme", "--yes")
    assert "unknown" in cli("check", jwt, "--endpoint", "orders.list", code=3).stdout


def test_admin_password_is_read_from_stdin_and_stored_hashed(cli):
    cli("admin", "add", "Ada", "ada@example.com")
    out = cli("admin", "password", "ada@example.com", input="correct horse battery staple\n")
    assert "console password set" in out.stdout
    assert (
        "short" not in cli("admin", "password", "ada@example.com", input="short\n", code=1).stdout
    )
    events = json.loads(cli("--json", "audit", "--type", "admin").stdout)
    assert [e["action"] for e in events] == ["admin.password", "admin.create"]


def test_bootstrap_twice_is_refused_unless_a_new_key_is_asked_for(cli):
    first = json.loads(cli("--json", "bootstrap").stdout)
    refused = cli("bootstrap", code=1)
    assert "keyward-admin" in refused.stderr
    assert "--new-key" in refused.stderr
    error = json.loads(cli("bootstrap", "--json", code=1).stderr)
    assert error["reason"] == "admin_exists"
    # Another name does not get around it: one admin client is enough.
    cli("bootstrap", "--client", "root2", code=1)
    shown = json.loads(cli("--json", "key", "list", "keyward-admin").stdout)
    assert [k["id"] for k in shown] == [first["id"]]
    again = json.loads(cli("--json", "bootstrap", "--new-key").stdout)
    assert again["id"] > first["id"]
    assert again["token"] != first["token"]
    assert len(json.loads(cli("--json", "key", "list", "keyward-admin").stdout)) == 2
