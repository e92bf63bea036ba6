"""Named policies: the strictest of policy and own settings applies, edits apply at once."""

import pytest
from sqlalchemy import select

from keystore import privileges
from keystore.decision import Request, decide
from keystore.errors import ConflictError, ForbiddenError, ValidationError
from keystore.models import AuditEvent
from keystore.ratelimit import MemoryRateLimiter, scopes_for
from keystore.services import clients, keys, policies
from tests.worlds import ACTOR

T0 = 1_800_000_000.0


def at(session, settings, token, address):
    request = Request(endpoint="orders.list", environment="prod", address=address)
    return decide(session, settings, credential=token, request=request)


def test_address_rules_of_key_key_policy_and_client_policy_all_apply(
    session, settings, issue, world
):
    policies.create_policy(session, actor=ACTOR, name="office", allowed_ips="10.0.0.0-10.0.255.255")
    policies.create_policy(
        session, actor=ACTOR, name="corp", allowed_ips="10.0.0.0/8", blocked_ips="10.0.9.9"
    )
    _, token = issue(allowed_ips="10.0.0.0/20, 192.168.0.1", policy="office")
    clients.update_client(session, actor=ACTOR, ref=world.client.id, policy="corp")
    session.flush()
    assert at(session, settings, token, "10.0.1.1").reason == "allowed"
    assert at(session, settings, token, "10.0.9.9").reason == "ip_blocked"  # the union blocks
    # In the key's own list, outside its policy's: the intersection refuses it.
    assert at(session, settings, token, "192.168.0.1").reason == "ip_not_allowed"
    assert at(session, settings, token, "10.0.20.1").reason == "ip_not_allowed"  # outside own
    policies.update_policy(session, actor=ACTOR, ref="corp", blocked_ips=[])
    session.flush()
    assert at(session, settings, token, "10.0.9.9").reason == "allowed"  # the edit applies at once
    policies.update_policy(session, actor=ACTOR, ref="office", allowed_ips="172.16.0.0/12")
    session.flush()
    # Disjoint allow lists leave nobody allowed (never everybody).
    assert at(session, settings, token, "10.0.1.1").reason == "ip_not_allowed"
    assert at(session, settings, token, "172.16.0.1").reason == "ip_not_allowed"


def test_limits_are_the_strictest_and_combining_them_escapes_nothing(
    session, settings, issue, world
):
    policies.create_policy(
        session, actor=ACTOR, name="tight", rate_limit=2, rate_window_seconds=60, quota_daily=50
    )
    _, token = issue(limits={"rate_limit": 5, "rate_window_seconds": 60}, policy="tight")
    clients.update_client(
        session,
        actor=ACTOR,
        ref=world.client.id,
        limits={"rate_limit": 4, "rate_window_seconds": 10},
    )
    session.flush()
    decision = at(session, settings, token, None)
    limiter = MemoryRateLimiter()
    hits = [limiter.hit(scopes_for(decision), now=T0 + i * 0.1).allowed for i in range(4)]
    assert hits == [True, True, False, False]  # the policy's 2/60 beats the key's 5/60
    refused = limiter.hit(scopes_for(decision), now=T0 + 30)
    assert not refused.allowed
    assert refused.limit == 2
    assert refused.policy == "2;w=60"
    # Loosen the policy: now the client's own 4 per 10 s binds, and the key's 5 per 60 s
    # still counts beside it (different windows are all enforced).
    policies.update_policy(session, actor=ACTOR, ref="tight", rate_limit=100)
    session.flush()
    decision = at(session, settings, token, None)
    later = [limiter.hit(scopes_for(decision), now=T0 + 61 + i * 0.1).allowed for i in range(6)]
    assert later == [True, True, True, True, False, False]
    after = [limiter.hit(scopes_for(decision), now=T0 + 72 + i * 0.1).allowed for i in range(2)]
    assert after == [True, False]  # 10 s later: the key's fifth in 60 s, then its limit


def test_a_client_policy_limits_every_credential_of_the_client(session, settings, issue, world):
    policies.create_policy(session, actor=ACTOR, name="daily", quota_daily=3)
    clients.update_client(session, actor=ACTOR, ref=world.client.id, policy="daily")
    session.flush()
    _, first = issue(name="a")
    _, second = issue(name="b")
    limiter = MemoryRateLimiter()
    answers = [
        limiter.hit(scopes_for(at(session, settings, token, None)), now=T0).allowed
        for token in (first, second, first, second)
    ]
    assert answers == [True, True, True, False]


def test_policies_show_in_representations_and_the_audit_trail(session, issue, world):
    policies.create_policy(
        session,
        actor=ACTOR,
        name="gold",
        rate_limit=10,
        rate_window_seconds=1,
        allowed_ips=["10.0.0.1-10.0.0.2", "10.0.0.3"],
    )
    key, _ = issue(policy="gold")
    clients.update_client(session, actor=ACTOR, ref=world.client.id, policy="gold")
    shown = policies.get_policy(session, "gold")
    assert shown.allowed_ips == ["10.0.0.1/32", "10.0.0.2/31"]
    assert keys.get_key(session, key.id).policy.name == "gold"
    assert policies.holders(session, shown) == ([world.client], [key])
    session.flush()
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.action for e in events if e.object_type == "policy"] == ["policy.create"]
    client_update = [e for e in events if e.action == "client.update"][-1]
    assert (client_update.before["policy"], client_update.after["policy"]) == (None, "gold")


def test_a_policy_in_use_is_not_deleted(session, issue, world):
    policies.create_policy(session, actor=ACTOR, name="gold", quota_daily=5)
    key, _ = issue(policy="gold")
    with pytest.raises(ConflictError, match=f"key {key.id}") as info:
        policies.delete_policy(session, actor=ACTOR, ref="gold")
    assert info.value.reason == "policy_in_use"
    keys.update_key(session, actor=ACTOR, key_id=key.id, policy=None)
    policies.delete_policy(session, actor=ACTOR, ref="gold")
    with pytest.raises(ValidationError) as info:
        issue(name="x", policy="gold")
    assert (info.value.field, info.value.reason) == ("policy", "unknown_policy")


@pytest.mark.parametrize(
    ("settings_", "field"),
    [
        ({"rate_limit": 5}, "rate_window_seconds"),
        ({"quota_daily": 0}, "quota_daily"),
        ({"allowed_ips": "10.0.0.1-10.0.0.0"}, "allowed_ips"),
        ({"blocked_ips": ["::1-10.0.0.1"]}, "blocked_ips"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_policies_are_refused_and_change_nothing(session, world, settings_, field):
    with pytest.raises(ValidationError) as info, session.begin_nested():
        policies.create_policy(session, actor=ACTOR, name="bad", **settings_)
    assert info.value.field == field
    assert policies.list_policies(session) == []


def test_only_a_caller_that_may_act_on_every_holder_edits_a_policy(session, issue, world):
    policies.create_policy(session, actor=ACTOR, name="gold", quota_daily=5)
    clients.update_client(session, actor=ACTOR, ref=world.client.id, policy="gold")
    acme = privileges.caller_for_client(session, world.client.id)
    with pytest.raises(ForbiddenError) as info:
        policies.update_policy(session, actor=ACTOR, ref="gold", quota_daily=10**6, caller=acme)
    assert info.value.reason == "own_privileges"
    with pytest.raises(ForbiddenError) as info:
        clients.update_client(session, actor=ACTOR, ref=world.client.id, policy=None, caller=acme)
    assert info.value.reason == "own_privileges"
    lesser = privileges.Caller(privileges.Grants(endpoints=frozenset({"orders.list"})))
    with pytest.raises(ForbiddenError) as info:
        policies.update_policy(session, actor=ACTOR, ref="gold", quota_daily=10**6, caller=lesser)
    assert info.value.reason == "privilege_exceeded"
    assert policies.get_policy(session, "gold").quota_daily == 5
