"""Periodic refresh and console roles through the admin API and the gateway (OpenAPI-checked)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from keystore.models import KeyToken
from keystore.services import admins, clients, keys, roles
from tests.worlds import ACTOR


def backdate(session, key_id: int, days: float) -> None:
    current = session.scalars(
        select(KeyToken).where(KeyToken.key_id == key_id, KeyToken.valid_until.is_(None))
    ).one()
    current.created_at = datetime.now(UTC) - timedelta(days=days)
    session.flush()


def verdict(client, token):
    response = client.post("/v1/verify", json={"token": token, "endpoint": "orders.list"})
    assert response.status_code == 200
    return response.json


def test_an_environments_maximum_key_age_expires_old_keys_at_the_gateway(
    admin, client, session, world
):
    created = admin(
        "POST", f"/api/v1/clients/{world.client.id}/keys", json={"name": "ci", "environment": "dev"}
    )
    key_id, token = created.json["id"], created.json["token"]
    assert created.json["expires_by_age_at"] is None
    backdate(session, key_id, 40)
    assert verdict(client, token)["allowed"] is True
    changed = admin("PATCH", "/api/v1/environments/dev", json={"max_key_age_days": 30})
    assert changed.status_code == 200
    assert changed.json["max_key_age_days"] == 30
    refused = verdict(client, token)
    assert (refused["allowed"], refused["reason"], refused["key_id"]) == (False, "expired", None)
    shown = admin("GET", f"/api/v1/keys/{key_id}").json
    assert shown["max_key_age_days"] == 30
    assert shown["age_days"] >= 40
    assert datetime.fromisoformat(shown["expires_by_age_at"]) < datetime.now(UTC)
    regenerated = admin("POST", f"/api/v1/keys/{key_id}/regenerate", json={})
    assert verdict(client, regenerated.json["token"])["allowed"] is True
    assert regenerated.json["age_days"] < 0.01
    trail = admin("GET", "/api/v1/audit?action=environment.update").json["events"]
    assert trail[0]["before"]["max_key_age_days"] is None
    assert trail[0]["after"]["max_key_age_days"] == 30


def test_a_role_override_through_the_api(admin, world):
    changed = admin("PATCH", f"/api/v1/roles/{world.role.id}", json={"max_key_age_days": 10})
    assert (changed.status_code, changed.json["max_key_age_days"]) == (200, 10)
    created = admin(
        "POST",
        "/api/v1/roles",
        json={"name": "short", "endpoints": ["orders.list"], "max_key_age_days": 3},
    )
    assert created.json["max_key_age_days"] == 3
    listed = {e["tag"]: e for e in admin("GET", "/api/v1/environments").json}
    assert listed["prod"]["max_key_age_days"] is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"max_key_age_days": 0}, "out_of_range"),
        ({"max_key_age_days": 3651}, "out_of_range"),
        ({"max_key_age_days": "30"}, "wrong_type"),
        ({"tag": "qa"}, "unknown_field"),
    ],
)
def test_bad_environment_changes_are_refused(admin, world, body, reason):
    response = admin("PATCH", "/api/v1/environments/prod", json=body)
    assert (response.status_code, response.json["reason"]) == (422, reason)
    assert admin("GET", "/api/v1/environments").json[-1]["max_key_age_days"] is None


def test_an_unknown_environment_is_a_404(admin):
    response = admin("PATCH", "/api/v1/environments/nope", json={"max_key_age_days": 5})
    assert response.status_code == 404


def test_console_roles_through_the_api(admin, session):
    admins.create_admin(session, actor=ACTOR, name="Ada", email="ada@example.com")
    session.flush()
    viewer = admin(
        "POST", "/api/v1/admins", json={"name": "Vic", "email": "vic@example.com", "role": "viewer"}
    )
    assert (viewer.status_code, viewer.json["role"]) == (201, "viewer")
    promoted = admin("PATCH", "/api/v1/admins/vic@example.com", json={"role": "operator"})
    assert promoted.json["role"] == "operator"
    last = admin("PATCH", "/api/v1/admins/ada@example.com", json={"role": "viewer"})
    assert (last.status_code, last.json["reason"]) == (409, "last_admin")
    assert admin("DELETE", "/api/v1/admins/ada@example.com").status_code == 409
    bad = admin("PATCH", "/api/v1/admins/vic@example.com", json={"role": "root"})
    assert bad.status_code == 422
    roles = {a["email"]: a["role"] for a in admin("GET", "/api/v1/admins").json}
    assert roles == {"ada@example.com": "admin", "vic@example.com": "operator"}
    trail = admin("GET", "/api/v1/audit?action=admin.role").json["events"]
    assert [e["summary"] for e in trail] == ["vic@example.com: viewer -> operator"]


def test_only_a_caller_holding_the_environment_changes_it(client, session, settings, world):
    roles.create_role(
        session, actor=ACTOR, name="cataloguer", endpoints=["keyward.catalogue.write"]
    )
    clients.create_client(session, actor=ACTOR, name="cat", role="cataloguer", environments=["dev"])
    _, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref="cat", name="k", environment="dev"
    )
    headers = {"Authorization": f"Bearer {token}"}
    other = client.open(
        "/api/v1/environments/prod", method="PATCH", headers=headers, json={"max_key_age_days": 1}
    )
    assert (other.status_code, other.json["reason"]) == (403, "privilege_exceeded")
    own = client.open(
        "/api/v1/environments/dev", method="PATCH", headers=headers, json={"max_key_age_days": 9}
    )
    assert (own.status_code, own.json["max_key_age_days"]) == (200, 9)
