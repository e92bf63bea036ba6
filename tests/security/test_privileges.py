"""Privilege escalation through the admin API, the console, the portal and the CLI (issue 10).

Each attack is made the way an outsider holding a lesser credential would make it, through
the real app on SQLite and PostgreSQL; each refusal must be a 403/409 that changes nothing.
Next to each refusal, a control shows the same caller may still do what it legitimately holds.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from keystore.models import (
    Admin,
    ApiKey,
    AuditEvent,
    Client,
    Endpoint,
    Incident,
    KeyToken,
    Project,
    Role,
)
from keystore.models.catalogue import role_endpoints
from keystore.services import clients, keys, roles
from keystore.services.bootstrap import ADMIN_ROLE
from rotation import policy
from rotation.intake import Report, record_reports
from tests.keystore.test_cli import cli
from tests.web.console.conftest import make_portal_user
from tests.worlds import ACTOR, find_token

__all__ = ["cli"]

KEYS_WRITER = ["keyward.keys.write", "keyward.keys.read"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def snapshot(session) -> tuple:
    """Everything an escalation could change: audit, keys, tokens, clients, roles, admins."""
    session.expire_all()

    def rows(*columns):
        return tuple(session.execute(select(*columns).order_by(*columns)).all())

    return (
        session.scalar(select(func.count()).select_from(AuditEvent)),
        rows(ApiKey.id, ApiKey.state, ApiKey.client_id),
        rows(KeyToken.id, KeyToken.valid_until),
        rows(Client.id, Client.name, Client.role_id, Client.enabled, Client.rate_limit),
        rows(Role.id, Role.name, Role.leak_action),
        rows(role_endpoints.c.role_id, role_endpoints.c.endpoint_id),
        rows(Endpoint.id, Endpoint.name),
        rows(Project.id),
        rows(Admin.id),
    )


@pytest.fixture
def root(session, settings, admin_token) -> Client:
    """The bootstrap admin: the one client holding every keyward.* endpoint."""
    return find_token(session, settings, admin_token).key.client


@pytest.fixture
def delegate(session, settings, world):
    """A client with its own role of ``endpoints``; returns (client, token)."""

    def make(name: str, endpoints: list[str], *, environments=("prod",), projects=()):
        roles.create_role(session, actor=ACTOR, name=f"{name}-role", endpoints=endpoints)
        client = clients.create_client(
            session,
            actor=ACTOR,
            name=name,
            role=f"{name}-role",
            environments=list(environments),
            projects=list(projects),
        )
        _, token = keys.issue_key(
            session, settings, actor=ACTOR, client_ref=client.id, name="main", environment="prod"
        )
        session.flush()
        return client, token

    return make


@pytest.fixture
def call(client):
    def send(token: str, method: str, path: str, **kwargs):
        return client.open(path, method=method, headers=bearer(token), **kwargs)

    return send


def refused(response, status: int, reason: str) -> None:
    assert (response.status_code, response.json["reason"]) == (status, reason), response.json
    assert response.json["error"] == {403: "forbidden", 409: "conflict"}[status]
    assert response.json["message"]


# --- finding 1a: keys.write issues itself the admin's credential ----------------------------


def test_a_keys_writer_cannot_issue_a_key_for_the_admin_client(
    call, session, root, delegate, world
):
    _, token = delegate("ops", KEYS_WRITER)
    before = snapshot(session)
    response = call(
        token, "POST", f"/api/v1/clients/{root.id}/keys", json={"name": "x", "environment": "prod"}
    )
    refused(response, 403, "privilege_exceeded")
    assert "token" not in response.json
    assert snapshot(session) == before


def test_a_keys_writer_cannot_regenerate_mint_or_touch_the_admin_key(
    call, session, settings, admin_token, root, delegate
):
    _, token = delegate("ops", KEYS_WRITER)
    admin_key = find_token(session, settings, admin_token).key.id
    before = snapshot(session)
    attempts = [
        ("POST", f"/api/v1/keys/{admin_key}/regenerate", {"grace_seconds": 0}),
        ("POST", f"/api/v1/keys/{admin_key}/jwt", {"ttl_seconds": 60}),
        ("PATCH", f"/api/v1/keys/{admin_key}", {"allowed_ips": ["203.0.113.7"]}),
        ("POST", f"/api/v1/keys/{admin_key}/deactivate", None),
        ("POST", f"/api/v1/keys/{admin_key}/revoke", None),
        ("DELETE", f"/api/v1/keys/{admin_key}", None),
        ("POST", f"/api/v1/clients/{root.id}/revoke-keys", None),
    ]
    for method, path, body in attempts:
        response = call(token, method, path, json=body)
        refused(response, 403, "privilege_exceeded")
        assert not {"token", "jwt"} & set(response.json), path
    assert snapshot(session) == before
    assert call(admin_token, "GET", "/api/v1/roles").status_code == 200


def test_a_keys_writer_still_manages_keys_within_its_privileges(call, session, delegate, world):
    """The control: a client holding a subset of the caller's privileges is fair game."""
    _, token = delegate("ops", [*KEYS_WRITER, "orders.list", "debug.dump"], projects=["shop"])
    peer = clients.create_client(
        session, actor=ACTOR, name="peer", role="reader", environments=["prod"], projects=["shop"]
    )
    session.flush()
    issued = call(
        token, "POST", f"/api/v1/clients/{peer.id}/keys", json={"name": "k", "environment": "prod"}
    )
    assert issued.status_code == 201
    key_id = issued.json["id"]
    assert call(token, "POST", f"/api/v1/keys/{key_id}/regenerate", json={}).status_code == 200
    assert call(token, "POST", f"/api/v1/keys/{key_id}/jwt", json={}).status_code == 201
    assert call(token, "POST", f"/api/v1/keys/{key_id}/revoke").status_code == 200
    # The world's client may also reach dev, which the caller may not: refused.
    wider = call(
        token,
        "POST",
        f"/api/v1/clients/{world.client.id}/keys",
        json={"name": "k", "environment": "prod"},
    )
    refused(wider, 403, "privilege_exceeded")
    assert "environment 'dev'" in wider.json["message"]


# --- finding 1b: clients.write makes itself an admin ----------------------------------------


def test_a_clients_writer_cannot_give_itself_the_admin_role(call, session, delegate, root):
    me, token = delegate("ops", ["keyward.clients.write", "keyward.clients.read"])
    before = snapshot(session)
    response = call(token, "PATCH", f"/api/v1/clients/{me.id}", json={"role": ADMIN_ROLE})
    refused(response, 403, "privilege_exceeded")
    for widening in ({"environments": ["prod", "dev"]}, {"projects": ["shop"]}):
        refused(
            call(token, "PATCH", f"/api/v1/clients/{me.id}", json=widening),
            403,
            "privilege_exceeded",
        )
    assert snapshot(session) == before
    refused(call(token, "GET", "/api/v1/audit"), 403, "endpoint_denied")


def test_a_client_never_changes_its_own_role_environments_projects_or_limits(
    call, session, delegate, world
):
    """Not even to narrow them: that is another admin's decision."""
    me, token = delegate(
        "ops", ["keyward.clients.write", "keyward.clients.read"], projects=["shop"]
    )
    before = snapshot(session)
    for body in (
        {"role": None},
        {"environments": []},
        {"projects": []},
        {"limits": {"rate_limit": None, "rate_window_seconds": None, "quota_daily": 10**9}},
    ):
        response = call(token, "PATCH", f"/api/v1/clients/{me.id}", json=body)
        refused(response, 403, "own_privileges")
        assert response.json["field"] == next(iter(body))
    assert snapshot(session) == before
    # Its own name and description are its to change.
    renamed = call(token, "PATCH", f"/api/v1/clients/{me.id}", json={"description": "ours"})
    assert renamed.status_code == 200


def test_a_clients_writer_cannot_hand_out_or_touch_more_than_it_holds(
    call, session, delegate, root
):
    _, token = delegate("ops", ["keyward.clients.write", "keyward.clients.read"])
    victim = clients.create_client(
        session, actor=ACTOR, name="victim", role=None, environments=["prod"]
    )
    session.flush()
    before = snapshot(session)
    attempts = [
        ("POST", "/api/v1/clients", {"name": "evil", "role": ADMIN_ROLE, "environments": []}),
        ("POST", "/api/v1/clients", {"name": "evil", "role": None, "environments": ["dev"]}),
        ("PATCH", f"/api/v1/clients/{victim.id}", {"role": ADMIN_ROLE}),
        ("PATCH", f"/api/v1/clients/{victim.id}", {"projects": ["shop"]}),
        ("PATCH", f"/api/v1/clients/{root.id}", {"description": "mine now"}),
        ("POST", f"/api/v1/clients/{root.id}/disable", None),
        ("DELETE", f"/api/v1/clients/{root.id}", None),
    ]
    for method, path, body in attempts:
        refused(call(token, method, path, json=body), 403, "privilege_exceeded")
    assert snapshot(session) == before
    created = call(token, "POST", "/api/v1/clients", json={"name": "ok", "environments": ["prod"]})
    assert created.status_code == 201


# --- roles: nobody grants an endpoint it does not hold --------------------------------------


def test_a_roles_writer_cannot_create_or_widen_a_role_beyond_its_own(call, session, delegate, root):
    me, token = delegate("ops", ["keyward.roles.write", "keyward.roles.read", "orders.list"])
    admin_role = root.role_id
    reader = session.scalar(select(Role.id).where(Role.name == "reader"))
    before = snapshot(session)
    attempts = [
        ("POST", "/api/v1/roles", {"name": "evil", "endpoints": ["keyward.audit.read"]}),
        ("PATCH", f"/api/v1/roles/{me.role_id}", {"endpoints": ["keyward.keys.write"]}),
        ("PATCH", f"/api/v1/roles/{admin_role}", {"endpoints": ["orders.list"]}),
        ("PATCH", f"/api/v1/roles/{admin_role}", {"leak_action": "notify_only"}),
        ("DELETE", f"/api/v1/roles/{admin_role}", None),
        # reader holds debug.dump, which the caller does not.
        ("PATCH", f"/api/v1/roles/{reader}", {"endpoints": ["orders.list"]}),
    ]
    for method, path, body in attempts:
        refused(call(token, method, path, json=body), 403, "privilege_exceeded")
    # Even narrowing the role it holds is another admin's business.
    own = call(token, "PATCH", f"/api/v1/roles/{me.role_id}", json={"leak_action": "notify_only"})
    refused(own, 403, "own_privileges")
    assert snapshot(session) == before
    made = call(token, "POST", "/api/v1/roles", json={"name": "ok", "endpoints": ["orders.list"]})
    assert made.status_code == 201


def test_a_role_is_changed_only_while_its_clients_stay_within_the_caller(
    call, session, delegate, world
):
    """The world's client holds 'reader' in dev and prod; the caller only reaches prod."""
    _, token = delegate("ops", ["keyward.roles.write", "orders.list", "debug.dump"])
    before = snapshot(session)
    response = call(
        token, "PATCH", f"/api/v1/roles/{world.role.id}", json={"endpoints": ["orders.list"]}
    )
    refused(response, 403, "privilege_exceeded")
    assert "client 'acme'" in response.json["message"]
    assert snapshot(session) == before


# --- finding 1c: the only admin locks everyone out ------------------------------------------


def test_the_only_admin_cannot_delete_its_own_role(call, session, admin_token, root):
    before = snapshot(session)
    refused(call(admin_token, "DELETE", f"/api/v1/roles/{root.role_id}"), 409, "last_admin")
    assert snapshot(session) == before
    assert call(admin_token, "GET", "/api/v1/roles").status_code == 200


def test_the_only_admin_cannot_be_deleted_disabled_or_demoted(
    call, session, admin_token, root, world
):
    everything_but_one = [
        name
        for name in session.scalars(select(Endpoint.name).where(Endpoint.builtin.is_(True)))
        if name != "keyward.audit.read"
    ]
    before = snapshot(session)
    attempts = [
        ("DELETE", f"/api/v1/clients/{root.id}", None),
        ("POST", f"/api/v1/clients/{root.id}/disable", None),
        ("PATCH", f"/api/v1/clients/{root.id}", {"enabled": False}),
        ("PATCH", f"/api/v1/clients/{root.id}", {"role": None}),
        ("PATCH", f"/api/v1/clients/{root.id}", {"role": "reader"}),
        ("PATCH", f"/api/v1/clients/{root.id}", {"environments": ["dev"]}),
        ("PATCH", f"/api/v1/roles/{root.role_id}", {"endpoints": everything_but_one}),
        ("PATCH", f"/api/v1/roles/{root.role_id}", {"endpoints": []}),
    ]
    for method, path, body in attempts:
        response = call(admin_token, method, path, json=body)
        refused(response, 409, "last_admin")
        assert "keyward.*" in response.json["message"]
    assert snapshot(session) == before
    assert call(admin_token, "GET", "/api/v1/audit").status_code == 200


def test_the_only_admin_cannot_lose_its_last_working_key(
    call, session, settings, admin_token, root
):
    key_id = find_token(session, settings, admin_token).key.id
    before = snapshot(session)
    for method, path in [
        ("POST", f"/api/v1/keys/{key_id}/revoke"),
        ("POST", f"/api/v1/keys/{key_id}/deactivate"),
        ("DELETE", f"/api/v1/keys/{key_id}"),
        ("POST", f"/api/v1/clients/{root.id}/revoke-keys"),
    ]:
        refused(call(admin_token, method, path), 409, "last_admin")
    assert snapshot(session) == before
    assert call(admin_token, "GET", "/api/v1/roles").status_code == 200


def test_with_a_second_admin_the_first_may_step_down(
    call, session, settings, admin_token, root, delegate
):
    """The control: the rule protects the last admin, not every admin."""
    builtin = list(session.scalars(select(Endpoint.name).where(Endpoint.builtin.is_(True))))
    other, other_token = delegate("second-admin", builtin)
    key_id = find_token(session, settings, admin_token).key.id
    assert call(admin_token, "POST", f"/api/v1/keys/{key_id}/revoke").status_code == 200
    # Now `other` is the last one, and it cannot remove itself either.
    refused(call(other_token, "DELETE", f"/api/v1/clients/{other.id}"), 409, "last_admin")
    assert call(other_token, "DELETE", f"/api/v1/clients/{root.id}").status_code == 200


# --- siblings: replacement tokens, the catalogue, workspace admins --------------------------


def test_an_incidents_writer_cannot_pick_up_the_admin_replacement_token(
    call, session, settings, admin_token, root, delegate
):
    roles.update_role(session, actor=ACTOR, ref=root.role_id, leak_action="regenerate")
    intake = record_reports(session, settings, origin="manual", reports=[Report(token=admin_token)])
    (incident_id,) = intake.incident_ids
    policy.act(session, settings, session.get(Incident, incident_id))
    session.flush()
    _, token = delegate("responder", ["keyward.incidents.write", "keyward.incidents.read"])
    before = snapshot(session)
    response = call(token, "POST", f"/api/v1/incidents/{incident_id}/replacement")
    refused(response, 403, "privilege_exceeded")
    assert "token" not in response.json
    assert snapshot(session) == before
    session.expire_all()
    assert session.get(Incident, incident_id).replacement_sealed is not None


def test_the_catalogue_cannot_be_used_to_mint_or_strip_privileges(call, session, delegate, world):
    _, token = delegate("cataloguer", ["keyward.catalogue.write", "keyward.catalogue.read"])
    before = snapshot(session)
    look_alike = call(token, "POST", "/api/v1/endpoints", json={"name": "keyward.admins.root"})
    assert (look_alike.status_code, look_alike.json["reason"]) == (422, "reserved_name")
    flagged = call(token, "POST", "/api/v1/endpoints", json={"name": "x.y", "builtin": True})
    assert flagged.status_code == 422
    builtin = call(token, "DELETE", "/api/v1/endpoints/keyward.audit.read")
    assert (builtin.status_code, builtin.json["reason"]) == (422, "builtin")
    refused(call(token, "DELETE", "/api/v1/endpoints/orders.list"), 403, "privilege_exceeded")
    refused(call(token, "DELETE", "/api/v1/projects/shop"), 403, "privilege_exceeded")
    assert snapshot(session) == before
    declared = call(token, "POST", "/api/v1/endpoints", json={"name": "reports.read"})
    assert declared.status_code == 201


def test_an_admins_writer_cannot_add_or_remove_workspace_admins(call, session, delegate):
    session.add(Admin(name="Ada", email="ada@example.com"))
    _, token = delegate("hr", ["keyward.admins.write", "keyward.admins.read"])
    before = snapshot(session)
    added = call(token, "POST", "/api/v1/admins", json={"name": "Eve", "email": "eve@evil.test"})
    refused(added, 403, "privilege_exceeded")
    refused(call(token, "DELETE", "/api/v1/admins/ada@example.com"), 403, "privilege_exceeded")
    assert snapshot(session) == before


def test_a_full_admin_holds_everything_including_the_operators_endpoints(call, admin_token, world):
    """The bootstrap admin stands for the operator: it may grant endpoints beyond keyward.*."""
    made = call(
        admin_token, "POST", "/api/v1/roles", json={"name": "r", "endpoints": ["orders.list"]}
    )
    assert made.status_code == 201
    assert (
        call(
            admin_token,
            "POST",
            f"/api/v1/clients/{world.client.id}/keys",
            json={"name": "k", "environment": "dev"},
        ).status_code
        == 201
    )


# --- the console, the portal and the CLI share the rule -------------------------------------


def test_the_console_cannot_delete_the_last_admin(console, session, root):
    before = snapshot(session)
    page = console.post(f"/console/clients/{root.id}/delete")
    assert page.status_code == 409
    assert "keyward.*" in page.text
    disabled = console.post(f"/console/clients/{root.id}/disable")
    assert disabled.status_code == 409
    assert snapshot(session) == before


def test_a_portal_account_of_the_admin_client_cannot_revoke_its_last_key(
    browser, session, settings, admin_token, root
):
    make_portal_user(session, settings, client_id=root.id, email="boss@example.com")
    assert browser.sign_in("portal", "boss@example.com").status_code == 302
    key_id = find_token(session, settings, admin_token).key.id
    before = snapshot(session)
    for change in ("revoke", "deactivate"):
        assert browser.post(f"/portal/keys/{key_id}/{change}").status_code == 409
    assert snapshot(session) == before
    # Issuing another key for its own client widens nothing: allowed.
    issued = browser.post("/portal/keys", {"name": "second", "environment": "prod"})
    assert issued.status_code == 303  # post/redirect/get to the one-time view of the token
    session.expire_all()
    assert len(session.get(Client, root.id).keys) == 2


def test_the_cli_keeps_the_last_admin_unless_forced(cli):
    data = json.loads(cli("--json", "bootstrap").stdout)
    refusal = cli("key", "revoke", str(data["id"]), "--yes", code=1)
    assert "keyward.*" in refusal.stderr
    assert "--force-last-admin" in refusal.stderr
    cli("client", "disable", "keyward-admin", code=1)
    cli("role", "delete", ADMIN_ROLE, "--yes", code=1)
    shown = json.loads(cli("--json", "client", "show", "keyward-admin").stdout)
    assert shown["enabled"] is True
    assert [k["state"] for k in shown["keys"]] == ["active"]
    cli("--force-last-admin", "client", "disable", "keyward-admin")
    assert json.loads(cli("--json", "client", "show", "keyward-admin").stdout)["enabled"] is False
