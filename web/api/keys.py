"""API keys.  A token appears in exactly two responses: issue and regenerate."""

from flask import jsonify

from keystore import serialize
from keystore.jwt_access import issue_jwt
from keystore.services import keys
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.keys.read", "keyward.keys.write"


def _with_token(key, token: str) -> dict:
    return {**serialize.key(key), "token": token}


@api.get("/clients/<int:client_id>/keys")
@operation(
    "List a client's keys (never their tokens)",
    responses={200: "Key[]", 404: "Error"},
    paged=True,
)
@requires(READ)
def list_keys(client_id: int):
    with runtime().unit_of_work() as session:
        found = keys.list_keys(session, client_ref=client_id, page=page_request())
        return page_response(found, serialize.key)


@api.post("/clients/<int:client_id>/keys")
@operation(
    "Issue a key; the token is in this response only",
    body="KeyCreate",
    responses={201: "KeyWithToken", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def issue_key(client_id: int):
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        key, token = keys.issue_key(
            session,
            rt.settings,
            actor=actor(),
            caller=caller(session),
            client_ref=client_id,
            name=data["name"],
            environment=data["environment"],
            allowed_ips=data.get("allowed_ips"),
            blocked_ips=data.get("blocked_ips"),
            expires_at=data.get("expires_at"),
            limits=data.get("limits"),
        )
        body = _with_token(key, token)
    return jsonify(body), 201, {"Cache-Control": "no-store"}


@api.get("/keys/<int:key_id>")
@operation("Show a key", responses={200: "Key", 404: "Error"})
@requires(READ)
def show_key(key_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(serialize.key(keys.get_key(session, key_id)))


@api.patch("/keys/<int:key_id>")
@operation(
    "Change a key's name, address rules, expiry or limits",
    body="KeyInput",
    responses={200: "Key", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def update_key(key_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        return jsonify(
            serialize.key(
                keys.update_key(
                    session, actor=actor(), caller=caller(session), key_id=key_id, **data
                )
            )
        )


@api.post("/keys/<int:key_id>/regenerate")
@operation(
    "New token, same settings; the old one stops now or after grace_seconds",
    body="RegenerateInput",
    responses={200: "KeyWithToken", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def regenerate_key(key_id: int):
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        key, token = keys.regenerate_key(
            session,
            rt.settings,
            actor=actor(),
            caller=caller(session),
            key_id=key_id,
            grace_seconds=data.get("grace_seconds") or 0,
        )
        body = _with_token(key, token)
    return jsonify(body), 200, {"Cache-Control": "no-store"}


def _state_change(name: str, summary: str, change):
    @requires(WRITE)
    def view(key_id: int):
        with runtime().unit_of_work() as session:
            return jsonify(serialize.key(change(session, key_id)))

    view.__name__ = f"{name}_key"
    view = operation(summary, responses={200: "Key", 404: "Error", 409: "Error"})(view)
    api.post(f"/keys/<int:key_id>/{name}")(view)


_state_change(
    "deactivate",
    "Refuse the key until reactivated",
    lambda s, k: keys.set_key_active(s, actor=actor(), caller=caller(s), key_id=k, active=False),
)
_state_change(
    "reactivate",
    "Accept a deactivated key again",
    lambda s, k: keys.set_key_active(s, actor=actor(), caller=caller(s), key_id=k, active=True),
)
_state_change(
    "revoke",
    "Revoke the key for good",
    lambda s, k: keys.revoke_key(s, actor=actor(), caller=caller(s), key_id=k),
)


@api.post("/keys/<int:key_id>/jwt")
@operation(
    "Mint a short-lived JWT bound to the key's current token",
    body="JwtInput",
    responses={201: "Jwt", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def mint_jwt(key_id: int):
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        token, expires = issue_jwt(
            session,
            rt.settings,
            actor=actor(),
            caller=caller(session),
            key_id=key_id,
            ttl_seconds=data.get("ttl_seconds"),
        )
    body = {"jwt": token, "expires_at": serialize.iso(expires)}
    return jsonify(body), 201, {"Cache-Control": "no-store"}


@api.delete("/keys/<int:key_id>")
@operation("Delete a key", responses={200: "Deleted", 404: "Error", 409: "Error"})
@requires(WRITE)
def delete_key(key_id: int):
    with runtime().unit_of_work() as session:
        keys.delete_key(session, actor=actor(), caller=caller(session), key_id=key_id)
    return jsonify({"deleted": key_id})
