"""``keyward collection`` and ``keyward policy``, and the --policy / --collection options."""

import json

from tests.keystore.test_cli import cli, issue, setup_client

__all__ = ["cli"]


def as_json(result):
    return json.loads(result.stdout)


def test_collections_and_policies_from_the_cli(cli):
    setup_client(cli)
    cli("endpoint", "add", "orders.create", "--section", "Orders")
    made = as_json(cli("--json", "collection", "create", "writers", "--endpoint", "orders.create"))
    assert made["endpoints"] == ["orders.create"]
    role = as_json(cli("--json", "role", "update", "reader", "--grant-collection", "writers"))
    assert role["collections"] == ["writers"]
    changed = as_json(
        cli(
            "--json",
            "collection",
            "update",
            "writers",
            "--add",
            "orders.list",
            "--remove",
            "orders.create",
        )
    )
    assert (changed["endpoints"], changed["roles"]) == (["orders.list"], ["reader"])
    refused = cli("collection", "delete", "writers", code=1)
    assert "granted by role(s) 'reader'" in refused.stderr

    policy = as_json(
        cli(
            "--json",
            "policy",
            "create",
            "office",
            "--allow",
            "10.0.0.1-10.0.0.3,192.168.0.0/24",
            "--rate-limit",
            "10",
            "--rate-window",
            "60",
        )
    )
    assert policy["allowed_ips"] == ["10.0.0.1/32", "10.0.0.2/31", "192.168.0.0/24"]
    key = issue(cli, "--policy", "office", "--block", "10.0.0.2-10.0.0.2")
    assert (key["policy"], key["blocked_ips"]) == ("office", ["10.0.0.2/32"])
    client = as_json(cli("--json", "client", "update", "acme", "--policy", "office"))
    assert client["policy"] == "office"
    shown = as_json(cli("--json", "policy", "show", "office"))
    assert (shown["clients"], shown["keys"]) == (["acme"], [key["id"]])
    updated = as_json(
        cli("--json", "policy", "update", "office", "--clear-limits", "--quota-daily", "5")
    )
    assert (updated["rate_limit"], updated["quota_daily"]) == (None, 5)
    assert "in use by client 'acme'" in cli("policy", "delete", "office", code=1).stderr
    cli("client", "update", "acme", "--policy", "-")
    cli("key", "update", str(key["id"]), "--policy", "-")
    cli("policy", "delete", "office")
    assert as_json(cli("--json", "policy", "list")) == []
    audit = as_json(cli("--json", "audit", "--type", "policy"))
    assert [e["action"] for e in audit] == ["policy.delete", "policy.update", "policy.create"]


def test_a_bad_address_range_is_one_line_naming_it(cli):
    setup_client(cli)
    result = cli("policy", "create", "p", "--allow", "10.0.0.9-10.0.0.1", code=1)
    assert result.stderr.startswith("error: allowed_ips: '10.0.0.9-10.0.0.1' is reversed")
    assert as_json(cli("--json", "policy", "list")) == []
