import json

import pytest
from sqlalchemy import func, select

from keystore.models import AuditEvent
from keystore.services import clients, keys, roles
from tests.worlds import ACTOR, find_token
from web.openapi import documented_rules


def audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent))


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_the_admin_api_needs_a_token(client):
    response = client.get("/api/v1/roles")
    assert response.status_code == 401
    assert response.json["reason"] == "missing"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/roles", headers=bearer("kw_prod_nope")).json["reason"] == "malformed"


def test_privileges_come_from_the_callers_role(client, session, settings, world):
    roles.create_role(
        session,
        actor=ACTOR,
        name="Recipe Operator",
        endpoints=["keyward.clients.read", "keyward.keys.read"],
    )
    clients.create_client(
        session, actor=ACTOR, name="operator", role="Recipe Operator", environments=["prod"]
    )
    _, token = keys.issue_key(
        session, settings, actor=ACTOR, client_ref="operator", name="op", environment="prod"
    )
    assert client.get("/api/v1/clients", headers=bearer(token)).status_code == 200
    denied = client.post(
        f"/api/v1/clients/{world.client.id}/keys",
        headers=bearer(token),
        json={"name": "x", "environment": "prod"},
    )
    assert denied.status_code == 403
    assert denied.json == {
        "error": "forbidden",
        "reason": "endpoint_denied",
        "message": "your role does not grant this operation",
    }
    assert client.get("/api/v1/roles", headers=bearer(token)).status_code == 403


def test_admin_ip_rules_apply_to_the_admin_api(client, session, settings, admin_token):
    root_key = find_token(session, settings, admin_token).key
    keys.update_key(session, actor=ACTOR, key_id=root_key.id, allowed_ips=["10.0.0.0/8"])
    response = client.get("/api/v1/roles", headers=bearer(admin_token))
    assert (response.status_code, response.json["reason"]) == (403, "ip_not_allowed")


def test_key_lifecycle_through_the_api(admin, world, session):
    created = admin(
        "POST",
        f"/api/v1/clients/{world.client.id}/keys",
        json={"name": "ci", "environment": "prod", "allowed_ips": ["10.0.0.0/8"]},
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    token, key_id = created.json["token"], created.json["id"]
    shown = admin("GET", f"/api/v1/keys/{key_id}")
    assert "token" not in shown.json
    assert token not in shown.get_data(as_text=True)
    listed = admin("GET", f"/api/v1/clients/{world.client.id}/keys")
    assert token not in listed.get_data(as_text=True)
    regen = admin("POST", f"/api/v1/keys/{key_id}/regenerate", json={"grace_seconds": 60})
    assert regen.status_code == 200
    assert regen.json["token"] != token
    assert admin("POST", f"/api/v1/keys/{key_id}/deactivate").json["state"] == "inactive"
    assert admin("POST", f"/api/v1/keys/{key_id}/reactivate").json["state"] == "active"
    jwt = admin("POST", f"/api/v1/keys/{key_id}/jwt", json={"ttl_seconds": 60})
    assert jwt.status_code == 201
    assert admin("POST", f"/api/v1/keys/{key_id}/revoke").json["state"] == "revoked"
    again = admin("POST", f"/api/v1/keys/{key_id}/regenerate", json={})
    assert (again.status_code, again.json["reason"]) == (409, "key_revoked")
    assert admin("DELETE", f"/api/v1/keys/{key_id}").json == {"deleted": key_id}
    assert admin("GET", f"/api/v1/keys/{key_id}").status_code == 404


def test_catalogue_roles_and_clients_through_the_api(admin):
    assert (
        admin("POST", "/api/v1/environments", json={"tag": "stage", "name": "Staging"}).status_code
        == 201
    )
    assert admin("POST", "/api/v1/projects", json={"name": "shop"}).status_code == 201
    assert (
        admin(
            "POST",
            "/api/v1/endpoints",
            json={"name": "orders.list", "method": "GET", "path": "/orders"},
        ).status_code
        == 201
    )
    role = admin("POST", "/api/v1/roles", json={"name": "reader", "endpoints": ["orders.list"]})
    assert role.status_code == 201
    new_client = admin(
        "POST",
        "/api/v1/clients",
        json={
            "name": "acme",
            "role": "reader",
            "environments": ["stage"],
            "projects": ["shop"],
            "limits": {"rate_limit": 10, "rate_window_seconds": 60},
        },
    )
    assert new_client.status_code == 201
    cid = new_client.json["id"]
    assert admin("POST", f"/api/v1/clients/{cid}/disable").json["enabled"] is False
    assert (
        admin("PATCH", f"/api/v1/clients/{cid}", json={"description": "d"}).json["description"]
        == "d"
    )
    assert admin("GET", "/api/v1/clients?search=acm").json[0]["name"] == "acme"
    shown_role = admin("GET", f"/api/v1/roles/{role.json['id']}").json
    assert shown_role["clients"] == ["acme"]
    deleted = admin("DELETE", f"/api/v1/roles/{role.json['id']}")
    assert deleted.json["clients_affected"] == ["acme"]
    assert admin("DELETE", f"/api/v1/clients/{cid}").status_code == 200
    assert admin("DELETE", "/api/v1/projects/shop").status_code == 200
    assert admin("DELETE", "/api/v1/endpoints/orders.list").status_code == 200
    assert admin("DELETE", "/api/v1/endpoints/keyward.keys.read").status_code == 422


@pytest.mark.parametrize(
    ("kwargs", "status", "reason"),
    [
        ({"data": "name=x", "content_type": "application/x-www-form-urlencoded"}, 415, "not_json"),
        ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
        ({"json": ["a", "list"]}, 400, "malformed_json"),
        ({"json": {"name": "x", "environment": "prod", "colour": "red"}}, 422, "unknown_field"),
        ({"json": {"environment": "prod"}}, 422, "missing_field"),
        ({"json": {"name": 5, "environment": "prod"}}, 422, "wrong_type"),
        (
            {"json": {"name": "x", "environment": "prod", "allowed_ips": ["300.1.1.1"]}},
            422,
            "bad_format",
        ),
        ({"json": {"name": "x", "environment": "mars"}}, 404, "environment_not_found"),
        (
            {"json": {"name": "x", "environment": "prod", "expires_at": "2000-01-01T00:00:00Z"}},
            422,
            "invalid",
        ),
    ],
)
def test_bad_input_gets_a_clear_4xx_and_changes_nothing(
    admin, world, session, kwargs, status, reason
):
    before = audit_count(session)
    response = admin("POST", f"/api/v1/clients/{world.client.id}/keys", **kwargs)
    assert response.status_code == status
    assert response.json["reason"] == reason
    assert set(response.json) >= {"error", "reason", "message"}
    assert audit_count(session) == before


def test_oversized_bodies_are_refused(admin, world, session, app):
    before = audit_count(session)
    huge = json.dumps({"name": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)})
    response = admin("POST", "/api/v1/roles", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert response.json["error"] == "request_entity_too_large"
    assert audit_count(session) == before


def test_unknown_routes_and_methods_are_json(admin):
    assert admin("GET", "/api/v1/nope").json["error"] == "not_found"
    wrong = admin("PUT", "/api/v1/roles")
    assert wrong.status_code == 405
    assert wrong.json["error"] == "method_not_allowed"


def test_the_callers_own_key_revoked_is_refused_on_the_next_request(
    admin, session, settings, admin_token
):
    assert admin("GET", "/api/v1/roles").status_code == 200
    key = find_token(session, settings, admin_token).key
    # A second working key, so revoking this one does not remove the last admin.
    keys.issue_key(
        session, settings, actor=ACTOR, client_ref=key.client_id, name="spare", environment="prod"
    )
    revoked = admin("POST", f"/api/v1/keys/{key.id}/revoke")
    assert revoked.status_code == 200
    after = admin("GET", "/api/v1/roles")
    assert (after.status_code, after.json["reason"]) == (401, "revoked")


def test_audit_trail_filters_and_pages(admin, world):
    for i in range(3):
        admin("PATCH", f"/api/v1/clients/{world.client.id}", json={"description": str(i)})
    page = admin("GET", "/api/v1/audit?action=client.update&limit=2").json
    assert [e["after"]["description"] for e in page["events"]] == ["2", "1"]
    rest = admin("GET", f"/api/v1/audit?action=client.update&before_id={page['next_before_id']}")
    assert [e["after"]["description"] for e in rest.json["events"]] == ["0"]
    assert all(e["actor"].startswith("client:") for e in page["events"])
    assert admin("GET", "/api/v1/audit?limit=0").status_code == 422
    assert admin("GET", "/api/v1/audit?since=yesterday").status_code == 422


def test_admins_through_the_api(admin):
    assert (
        admin(
            "POST", "/api/v1/admins", json={"name": "Ada", "email": "ada@example.com"}
        ).status_code
        == 201
    )
    assert admin("GET", "/api/v1/admins").json[0]["email"] == "ada@example.com"
    assert (
        admin(
            "POST", "/api/v1/admins", json={"name": "Ada", "email": "ada@example.com"}
        ).status_code
        == 409
    )
    # The last console admin stays (409 last_admin); with another admin, Ada may go.
    assert admin("DELETE", "/api/v1/admins/ada@example.com").status_code == 409
    bob = {"name": "Bob", "email": "bob@example.com", "role": "admin"}
    assert admin("POST", "/api/v1/admins", json=bob).status_code == 201
    assert admin("DELETE", "/api/v1/admins/ada@example.com").status_code == 200


def test_every_route_is_in_the_openapi_document(app, client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    undocumented = [
        f"{method} {rule.rule}"
        for rule, method, view in documented_rules(app)
        if not hasattr(view, "openapi")
    ]
    assert undocumented == []
    from web.openapi import openapi_path

    routes = {
        (openapi_path(rule.rule), method.lower()) for rule, method, _ in documented_rules(app)
    }
    in_document = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == in_document
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            if op.get("security"):
                assert op["x-keyward-privilege"].startswith("keyward."), (path, method)
