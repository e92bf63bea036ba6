"""API collections and named policies over HTTP: CRUD, the privilege rule, and the gateway
answering differently on the very next request after an edit."""

import pytest
from sqlalchemy import select

from keystore.models import AuditEvent
from keystore.services import clients, keys, roles
from tests.worlds import ACTOR


def verify(client, token, *, endpoint="orders.list", address="10.0.0.5"):
    body = {"token": token, "endpoint": endpoint, "environment": "prod", "address": address}
    return client.post("/v1/verify", json=body).json


def auth(client, token, endpoint):
    headers = {"Authorization": f"Bearer {token}", "X-Keyward-Endpoint": endpoint}
    return client.get("/v1/auth", headers=headers)


def test_a_policy_limit_is_enforced_on_verify_and_an_edit_changes_the_next_answer(
    admin, client, issue
):
    created = admin(
        "POST",
        "/api/v1/policies",
        json={"name": "tight", "rate_limit": 2, "rate_window_seconds": 60},
    )
    assert created.status_code == 201
    policy_id = created.json["id"]
    key, token = issue()
    changed = admin("PATCH", f"/api/v1/keys/{key.id}", json={"policy": "tight"})
    assert changed.status_code == 200
    assert changed.json["policy"] == "tight"
    answers = [verify(client, token) for _ in range(3)]
    assert [a["reason"] for a in answers] == ["allowed", "allowed", "rate_limited"]
    assert answers[2]["rate_limit"]["policy"] == "2;w=60"
    loosened = admin("PATCH", f"/api/v1/policies/{policy_id}", json={"rate_limit": 3})
    assert loosened.status_code == 200
    assert loosened.json["keys"] == [key.id]
    assert verify(client, token)["reason"] == "allowed"
    assert verify(client, token)["reason"] == "rate_limited"


def test_policy_address_rules_as_people_write_them_apply_and_show_normalised(
    admin, client, issue, world
):
    created = admin(
        "POST",
        "/api/v1/policies",
        json={"name": "office", "allowed_ips": "10.0.0.1-10.0.0.9, 2001:db8::/48"},
    )
    assert created.status_code == 201
    assert created.json["allowed_ips"] == [
        "10.0.0.1/32",
        "10.0.0.2/31",
        "10.0.0.4/30",
        "10.0.0.8/31",
        "2001:db8::/48",
    ]
    _, token = issue()
    shown = admin("PATCH", f"/api/v1/clients/{world.client.id}", json={"policy": "office"})
    assert shown.json["policy"] == "office"
    assert verify(client, token, address="10.0.0.5")["reason"] == "allowed"
    assert verify(client, token, address="10.0.0.10")["reason"] == "ip_not_allowed"
    admin("PATCH", f"/api/v1/policies/{created.json['id']}", json={"blocked_ips": ["10.0.0.5"]})
    assert verify(client, token, address="10.0.0.5")["reason"] == "ip_blocked"
    conflict = admin("DELETE", f"/api/v1/policies/{created.json['id']}")
    assert conflict.status_code == 409
    assert conflict.json["reason"] == "policy_in_use"
    assert "'acme'" in conflict.json["message"]


def test_keys_take_address_lists_as_strings_and_ranges(admin, world):
    issued = admin(
        "POST",
        f"/api/v1/clients/{world.client.id}/keys",
        json={"name": "k", "environment": "prod", "allowed_ips": ["10.0.0.0-10.0.0.255, ::1"]},
    )
    assert issued.status_code == 201
    assert issued.json["allowed_ips"] == ["10.0.0.0/24", "::1/128"]
    changed = admin(
        "PATCH", f"/api/v1/keys/{issued.json['id']}", json={"blocked_ips": "10.0.0.7-10.0.0.8"}
    )
    assert changed.json["blocked_ips"] == ["10.0.0.7/32", "10.0.0.8/32"]


@pytest.mark.parametrize(
    ("value", "field", "named"),
    [
        ("10.0.0.9-10.0.0.1", "allowed_ips", "10.0.0.9-10.0.0.1"),
        (["10.0.0.1", "10.0.0.1-2001:db8::1"], "allowed_ips.1", "10.0.0.1-2001:db8::1"),
        ("10.0.0.1, garbage", "allowed_ips", "garbage"),
        (["1.2.3.4"] * 300, "allowed_ips", None),
        (7, "allowed_ips", None),
    ],
)
def test_hostile_address_lists_are_a_clear_422_naming_the_entry(
    admin, session, world, value, field, named
):
    before = session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()))
    for path, extra in [
        ("/api/v1/policies", {"name": "p"}),
        (f"/api/v1/clients/{world.client.id}/keys", {"name": "k", "environment": "prod"}),
    ]:
        answer = admin("POST", path, json={**extra, "allowed_ips": value})
        assert answer.status_code == 422, answer.json
        assert answer.json["field"] == field
        if named:
            assert named in answer.json["message"]
    assert session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc())) == before


def test_a_nul_in_an_address_list_is_bad_text(admin):
    answer = admin("POST", "/api/v1/policies", json={"name": "p", "blocked_ips": "10.0.0.1\x00"})
    assert answer.status_code == 422
    assert answer.json["reason"] == "bad_text"


def test_a_collection_grant_and_revoke_changes_the_next_auth_answer(admin, client, issue, world):
    _, token = issue()
    assert auth(client, token, "orders.create").status_code == 403
    made = admin(
        "POST", "/api/v1/collections", json={"name": "writers", "endpoints": ["orders.create"]}
    )
    assert made.status_code == 201
    assert made.json["roles"] == []
    granted = admin("PATCH", f"/api/v1/roles/{world.role.id}", json={"collections": ["writers"]})
    assert granted.status_code == 200
    assert granted.json["collections"] == ["writers"]
    assert auth(client, token, "orders.create").status_code == 200
    cid = made.json["id"]
    removed = admin(
        "POST", f"/api/v1/collections/{cid}/endpoints", json={"remove": ["orders.create"]}
    )
    assert removed.status_code == 200
    assert removed.json["endpoints"] == []
    assert auth(client, token, "orders.create").status_code == 403
    added = admin("POST", f"/api/v1/collections/{cid}/endpoints", json={"add": ["orders.create"]})
    assert added.json["roles"] == ["reader"]
    assert auth(client, token, "orders.create").status_code == 200
    in_use = admin("DELETE", f"/api/v1/collections/{cid}")
    assert in_use.status_code == 409
    assert in_use.json["reason"] == "collection_in_use"
    admin("PATCH", f"/api/v1/roles/{world.role.id}", json={"collections": []})
    assert auth(client, token, "orders.create").status_code == 403
    assert admin("DELETE", f"/api/v1/collections/{cid}").status_code == 200
    assert admin("GET", f"/api/v1/collections/{cid}").status_code == 404


def test_an_oauth_scope_may_name_endpoints_granted_through_a_collection(
    admin, client, issue, world
):
    admin("POST", "/api/v1/collections", json={"name": "writers", "endpoints": ["orders.create"]})
    admin("PATCH", f"/api/v1/roles/{world.role.id}", json={"collections": ["writers"]})
    key, token = issue()
    answer = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "orders.create"},
        auth=(str(key.id), token),
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["scope"] == "orders.create"
    assert auth(client, answer.json["access_token"], "orders.create").status_code == 200
    assert auth(client, answer.json["access_token"], "orders.list").status_code == 403


def test_a_limited_admin_grants_nothing_it_lacks_through_collections(
    admin, client, session, settings, world
):
    builtins = ["keyward.collections.write", "keyward.roles.write", "keyward.policies.write"]
    roles.create_role(session, actor=ACTOR, name="curator", endpoints=[*builtins, "orders.list"])
    clients.create_client(session, actor=ACTOR, name="cur", role="curator", environments=["prod"])
    _, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref="cur", name="k", environment="prod"
    )
    session.flush()
    headers = {"Authorization": f"Bearer {token}"}
    refused = client.post(
        "/api/v1/collections",
        json={"name": "more", "endpoints": ["orders.create"]},
        headers=headers,
    )
    assert refused.status_code == 403
    assert refused.json["reason"] == "privilege_exceeded"
    admin("POST", "/api/v1/collections", json={"name": "writers", "endpoints": ["orders.create"]})
    sneaky = client.post(
        "/api/v1/roles", json={"name": "sneaky", "collections": ["writers"]}, headers=headers
    )
    assert sneaky.status_code == 403
    assert sneaky.json["reason"] == "privilege_exceeded"
    mine = client.post(
        "/api/v1/collections", json={"name": "mine", "endpoints": ["orders.list"]}, headers=headers
    )
    assert mine.status_code == 201
    # Its own role may not grow through a collection either.
    own = client.open(
        method="PATCH",
        path=f"/api/v1/roles/{roles.get_role(session, 'curator').id}",
        json={"collections": ["mine"]},
        headers=headers,
    )
    assert own.status_code == 403
    assert own.json["reason"] == "own_privileges"


def test_new_objects_are_audited_and_listed(admin, session, world):
    admin("POST", "/api/v1/collections", json={"name": "c", "endpoints": ["orders.list"]})
    admin("POST", "/api/v1/policies", json={"name": "p", "quota_daily": 10})
    listed = admin("GET", "/api/v1/policies").json
    assert [(p["name"], p["quota_daily"], p["clients"]) for p in listed] == [("p", 10, [])]
    assert [c["name"] for c in admin("GET", "/api/v1/collections").json] == ["c"]
    trail = admin("GET", "/api/v1/audit?type=policy").json["events"]
    assert [e["action"] for e in trail] == ["policy.create"]
    trail = admin("GET", "/api/v1/audit?type=collection").json["events"]
    assert [e["action"] for e in trail] == ["collection.create"]


def test_a_client_policy_binds_the_client_s_own_signed_jwts_too(admin, client, world):
    import time
    import uuid

    import jwt

    secret = admin(
        "POST", f"/api/v1/clients/{world.client.id}/jwt-keys", json={"algorithm": "HS256"}
    )
    secret = secret.json["secret"]
    admin("POST", "/api/v1/policies", json={"name": "office", "allowed_ips": "10.0.0.0-10.0.0.255"})
    admin("PATCH", f"/api/v1/clients/{world.client.id}", json={"policy": "office"})

    def signed():
        claims = {
            "iss": str(world.client.id),
            "exp": int(time.time()) + 300,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, secret, algorithm="HS256")

    assert verify(client, signed(), address="10.0.0.7")["reason"] == "allowed"
    outside = verify(client, signed(), address="10.0.1.7")
    assert (outside["reason"], outside["credential"]) == ("ip_not_allowed", "client_jwt")
