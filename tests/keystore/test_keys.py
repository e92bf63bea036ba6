import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, select

from keystore import serialize, tokens
from keystore.decision import Request, decide
from keystore.errors import LimitError, NotFoundError, StateError, ValidationError
from keystore.models import ApiKey, KeyToken
from keystore.services import audit, clients, keys
from tests.worlds import ACTOR

REQ = Request(endpoint="orders.list")


def reason(session, settings, token):
    return decide(session, settings, credential=token, request=REQ).reason


def test_issue_returns_the_token_once_and_stores_only_digest_and_hint(session, settings, issue):
    key, token = issue()
    row = session.scalar(select(KeyToken).where(KeyToken.key_id == key.id))
    assert row.digest != token
    assert len(row.digest) == 64
    assert key.hint == f"{token[:12]}…{token[-4:]}"
    assert token not in str(serialize.key(key))
    assert not hasattr(key, "token")


def test_no_token_in_the_clear_in_database_logs_or_audit(session, settings, issue, caplog, world):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        key, token = issue(allowed_ips=["10.0.0.0/8"])
        _, token2 = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
        reason(session, settings, token)
        keys.revoke_key(session, actor=ACTOR, key_id=key.id)
        session.flush()
        dump = _dump_database(session)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert "api_keys" in dump
    assert "key_tokens" in dump
    secrets = (token, token2, token[8:38], token2[8:38])
    for secret in secrets:
        assert secret not in dump
        assert secret not in caplog.text
    events = audit.list_events(session, limit=500)
    assert any(e.action == "key.regenerate" for e in events)
    assert all(s not in str(serialize.audit_event(e)) for e in events for s in secrets)


def test_ten_keys_per_client_and_revoked_ones_free_a_slot(session, settings, issue):
    issued = [issue(name=f"k{i}")[0] for i in range(10)]
    with pytest.raises(LimitError) as info:
        issue(name="eleventh")
    assert info.value.reason == "key_limit"
    keys.revoke_key(session, actor=ACTOR, key_id=issued[0].id)
    assert issue(name="eleventh")[0].state == "active"


def test_regenerate_without_grace_stops_the_old_token_at_once(session, settings, issue):
    key, old = issue()
    same, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    assert same.id == key.id
    assert new != old
    assert reason(session, settings, old) == "revoked"
    assert reason(session, settings, new) == "allowed"
    assert same.hint != f"{old[:12]}…{old[-4:]}"


def test_regenerate_with_grace_keeps_the_old_token_until_the_grace_ends(session, settings, issue):
    key, old = issue(allowed_ips=["10.0.0.0/8"])
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id, grace_seconds=3600)
    request = Request(endpoint="orders.list", address="10.1.1.1")
    assert decide(session, settings, credential=old, request=request).allowed
    assert decide(session, settings, credential=new, request=request).allowed
    old_row = next(t for t in key.tokens if t.valid_until is not None)
    assert timedelta(minutes=59) < old_row.valid_until - datetime.now(UTC) <= timedelta(hours=1)
    old_row.valid_until = datetime.now(UTC) - timedelta(seconds=1)
    session.flush()
    assert decide(session, settings, credential=old, request=request).reason == "revoked"
    # The settings carried over to the new token.
    assert decide(session, settings, credential=new, request=Request("orders.list")).reason == (
        "ip_not_allowed"
    )


def test_a_second_regeneration_does_not_extend_an_earlier_grace(session, settings, issue):
    key, first = issue()
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id, grace_seconds=60)
    keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id, grace_seconds=3600)
    ends = sorted(t.valid_until for t in key.tokens if t.valid_until is not None)
    assert ends[0] - datetime.now(UTC) <= timedelta(seconds=60)
    assert reason(session, settings, first) == "allowed"


@pytest.mark.parametrize("grace", [-1, 86401, "60", 1.5])
def test_grace_is_bounded_to_a_day(session, settings, issue, grace):
    key, _ = issue()
    with pytest.raises(ValidationError):
        keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id, grace_seconds=grace)


def test_revocation_is_final_and_idempotent(session, settings, issue):
    key, token = issue()
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    revokes = [e for e in audit.list_events(session, object_type="key") if e.action == "key.revoke"]
    assert len(revokes) == 1
    for operation in (
        lambda: keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id),
        lambda: keys.set_key_active(session, actor=ACTOR, key_id=key.id, active=True),
        lambda: keys.update_key(session, actor=ACTOR, key_id=key.id, name="again"),
    ):
        with pytest.raises(StateError):
            operation()
    assert reason(session, settings, token) == "revoked"


def test_revoke_all_keys_of_a_client_or_a_project(session, settings, issue, world):
    tokens_ = [issue(name=f"k{i}")[1] for i in range(3)]
    other = clients.create_client(
        session,
        actor=ACTOR,
        name="other",
        role="reader",
        environments=["prod"],
        projects=["billing"],
    )
    _, other_token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref=other.id, name="o", environment="prod"
    )
    revoked = keys.revoke_project_keys(session, actor=ACTOR, project="shop")
    assert len(revoked) == 3
    assert {reason(session, settings, t) for t in tokens_} == {"revoked"}
    assert reason(session, settings, other_token) == "allowed"
    assert len(keys.revoke_client_keys(session, actor=ACTOR, client_ref="other")) == 1
    assert reason(session, settings, other_token) == "revoked"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"allowed_ips": ["10.0.0.0/33"]}, "allowed_ips"),
        ({"blocked_ips": ["not-an-ip"]}, "blocked_ips"),
        ({"allowed_ips": "10.0.0.0/8"}, "allowed_ips"),
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"environment": "test"}, "environment"),
        ({"name": "  "}, "name"),
        ({"limits": {"rate_limit": 10}}, "rate_window_seconds"),
        ({"limits": {"quota_daily": 0}}, "quota_daily"),
    ],
)
def test_bad_key_input_is_refused_and_changes_nothing(session, settings, issue, options, field):
    before = session.scalar(select(ApiKey.id).order_by(ApiKey.id.desc()))
    with pytest.raises(ValidationError) as info, session.begin_nested():
        issue(**options)
    assert info.value.field == field
    assert session.scalar(select(ApiKey.id).order_by(ApiKey.id.desc())) == before


def test_unknown_environment_and_key(session, settings, issue):
    with pytest.raises(NotFoundError):
        issue(environment="nope")
    with pytest.raises(NotFoundError):
        keys.get_key(session, 424242)


def test_ip_rules_are_stored_canonical(session, settings, issue):
    key, _ = issue(allowed_ips=["10.1.2.3/8", "2001:DB8::1"], blocked_ips=[" 10.9.9.9 "])
    assert key.allowed_ips == ["10.0.0.0/8", "2001:db8::1/128"]
    assert key.blocked_ips == ["10.9.9.9/32"]


def test_token_owners_recognise_old_and_revoked_tokens(session, settings, issue):
    key, old = issue()
    _, new = keys.regenerate_key(session, settings, actor=ACTOR, key_id=key.id)
    keys.revoke_key(session, actor=ACTOR, key_id=key.id)
    digest_of = {t: tokens.digest(t, settings.pepper_bytes) for t in (old, new, old[:-1] + "x")}
    owners = keys.token_owners(session, set(digest_of.values()))
    assert set(owners) == {digest_of[old], digest_of[new]}
    assert {key_id for _, key_id, _, _ in owners.values()} == {key.id}
    assert {client_id for _, _, client_id, _ in owners.values()} == {key.client_id}


def _dump_database(session) -> str:
    metadata = MetaData()
    metadata.reflect(bind=session.connection())
    rows = []
    for table in metadata.sorted_tables:
        rows.append(table.name)
        rows.extend(repr(tuple(r)) for r in session.execute(select(table)))
    return "\n".join(rows)
