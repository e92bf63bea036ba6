from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from keystore import tokens
from keystore.decision import Request, decide
from keystore.errors import ValidationError
from keystore.services import catalogue, clients, keys, roles
from tests.worlds import ACTOR

LIST = Request(endpoint="orders.list", environment="prod", project="shop", address="203.0.113.9")


def check(session, settings, token, request=LIST):
    return decide(session, settings, credential=token, request=request)


def test_a_fresh_key_is_allowed_and_named(session, settings, issue, world):
    key, token = issue()
    decision = check(session, settings, token)
    assert decision.allowed
    assert decision.reason == "allowed"
    assert (decision.client_id, decision.key_id, decision.key_hint) == (
        world.client.id,
        key.id,
        key.hint,
    )
    assert decision.environment == "prod"


@pytest.mark.parametrize(
    "bad", ["", "kw_prod_short", "nope", "kw_prod_" + "A" * 36, "a.b", "x" * 10_000]
)
def test_malformed_tokens_are_refused_without_any_database_read(session, settings, bad):
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        decision = check(session, settings, bad)
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)
    assert decision.reason == "malformed"
    assert statements == []


def test_a_token_with_another_prefix_is_malformed(session, settings, world):
    assert check(session, settings, tokens.generate("other", "prod")).reason == "malformed"


def test_a_well_formed_token_nobody_owns_is_unknown(session, settings, world):
    assert check(session, settings, tokens.generate("kw", "prod")).reason == "unknown"


def test_disabled_client(session, settings, issue, world):
    _, token = issue()
    clients.set_enabled(session, actor=ACTOR, ref=world.client.id, enabled=False)
    assert check(session, settings, token).reason == "client_disabled"
    clients.set_enabled(session, actor=ACTOR, ref=world.client.id, enabled=True)
    assert check(session, settings, token).allowed


def test_inactive_then_reactivated_key(session, settings, issue):
    key, token = issue()
    keys.set_key_active(session, actor=ACTOR, key_id=key.id, active=False)
    assert check(session, settings, token).reason == "key_inactive"
    keys.set_key_active(session, actor=ACTOR, key_id=key.id, active=True)
    assert check(session, settings, token).allowed


def test_revoked_key_is_refused_on_the_very_next_check(session, settings, issue):
    key, token = issue()
    assert check(session, settings, token).allowed
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    assert check(session, settings, token).reason == "revoked"


def test_expired_key(session, settings, issue):
    key, token = issue(expires_at=datetime.now(UTC) + timedelta(hours=1))
    assert check(session, settings, token).allowed
    key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    assert check(session, settings, token).reason == "expired"


@pytest.mark.parametrize(
    ("allowed", "blocked", "address", "reason"),
    [
        (["10.0.0.0/8"], [], "10.1.2.3", "allowed"),
        (["10.0.0.0/8"], [], "11.1.2.3", "ip_not_allowed"),
        (["10.0.0.0/8"], ["10.9.0.0/16"], "10.9.1.1", "ip_blocked"),
        ([], ["192.0.2.7"], "192.0.2.7", "ip_blocked"),
        ([], ["192.0.2.7"], "192.0.2.8", "allowed"),
        (["2001:db8::/32"], [], "2001:db8::1", "allowed"),
        (["2001:db8::/32"], [], "2001:db9::1", "ip_not_allowed"),
        (["2001:db8::/32"], ["2001:db8:dead::/48"], "2001:db8:dead::5", "ip_blocked"),
        (["10.0.0.0/8"], [], "::ffff:10.0.0.1", "allowed"),
        ([], ["10.0.0.0/8"], "::ffff:10.0.0.1", "ip_blocked"),
        (["10.0.0.0/8"], [], None, "ip_not_allowed"),
        ([], [], None, "allowed"),
    ],
)
def test_ip_rules(session, settings, issue, allowed, blocked, address, reason):
    _, token = issue(allowed_ips=allowed, blocked_ips=blocked)
    request = Request(endpoint="orders.list", address=address)
    assert check(session, settings, token, request).reason == reason


def test_a_garbage_address_is_an_input_error(session, settings, issue):
    _, token = issue()
    with pytest.raises(ValidationError):
        check(session, settings, token, Request(endpoint="orders.list", address="10.0.0.300"))


def test_environment_rules(session, settings, issue, world):
    _, token = issue()
    assert check(session, settings, token, Request("orders.list", environment="dev")).reason == (
        "environment_denied"
    )
    clients.update_client(session, actor=ACTOR, ref=world.client.id, environments=["dev"])
    assert check(session, settings, token, Request("orders.list")).reason == "environment_denied"


def test_project_rules(session, settings, issue, world):
    _, token = issue()
    assert check(session, settings, token, Request("orders.list", project="billing")).reason == (
        "project_denied"
    )
    assert check(session, settings, token, Request("orders.list", project="nope")).reason == (
        "project_denied"
    )
    clients.update_client(session, actor=ACTOR, ref=world.client.id, projects=["billing"])
    assert check(session, settings, token, Request("orders.list", project="billing")).allowed
    assert check(session, settings, token, LIST).reason == "project_denied"


def test_endpoint_rules(session, settings, issue, world):
    _, prod_token = issue()
    _, dev_token = issue(name="dev", environment="dev")
    assert check(session, settings, prod_token, Request("orders.create")).reason == (
        "endpoint_denied"
    )
    assert check(session, settings, prod_token, Request("no.such")).reason == "endpoint_denied"
    # Dev-only endpoints answer in an environment that allows them, and nowhere else.
    assert check(session, settings, dev_token, Request("debug.dump")).allowed
    assert check(session, settings, prod_token, Request("debug.dump")).reason == "endpoint_denied"


def test_role_edits_apply_to_the_next_check(session, settings, issue, world):
    _, token = issue()
    assert check(session, settings, token, Request("orders.create")).reason == "endpoint_denied"
    roles.update_role(session, actor=ACTOR, ref="reader", endpoints=["orders.create"])
    assert check(session, settings, token, Request("orders.create")).allowed
    assert check(session, settings, token, Request("orders.list")).reason == "endpoint_denied"


def test_removing_an_endpoint_from_the_catalogue_applies_at_once(session, settings, issue):
    _, token = issue()
    catalogue.delete_endpoint(session, actor=ACTOR, name="orders.list")
    assert check(session, settings, token).reason == "endpoint_denied"


def test_deleting_the_role_refuses_every_endpoint(session, settings, issue, world):
    _, token = issue()
    affected = roles.delete_role(session, actor=ACTOR, ref="reader")
    assert [c.name for c in affected] == ["acme"]
    assert check(session, settings, token).reason == "endpoint_denied"


def test_deleting_the_client_makes_its_keys_unknown(session, settings, issue, world):
    _, token = issue()
    clients.delete_client(session, actor=ACTOR, ref=world.client.id)
    assert check(session, settings, token).reason == "unknown"


def test_deleting_the_key_makes_it_unknown(session, settings, issue):
    key, token = issue()
    keys.delete_key(session, actor=ACTOR, key_id=key.id)
    assert check(session, settings, token).reason == "unknown"
