"""A client's own JWT keys: register a public key (ES256/RS256) or get an HS256 secret once."""

from flask import jsonify

from keystore import client_jwt
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.clients.read", "keyward.clients.write"


jwt_key = client_jwt.serialize_key


@api.get("/clients/<int:client_id>/jwt-keys")
@operation(
    "The keys a client signs its own JWTs with",
    responses={200: "ClientJwtKey[]", 404: "Error"},
    paged=True,
)
@requires(READ)
def list_jwt_keys(client_id: int):
    with runtime().unit_of_work() as session:
        found = client_jwt.list_keys(session, client_id, page=page_request())
        return page_response(found, jwt_key)


@api.post("/clients/<int:client_id>/jwt-keys")
@operation(
    "Register a public key (ES256/RS256, PEM or JWK), or get an HS256 secret shown once",
    body="ClientJwtKeyInput",
    responses={201: "ClientJwtKeyCreated", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def add_jwt_key(client_id: int):
    data = json_object()
    rt = runtime()
    with rt.unit_of_work() as session:
        row, secret = client_jwt.add_key(
            session,
            rt.settings,
            actor=actor(),
            caller=caller(session),
            client_ref=client_id,
            algorithm=data["algorithm"],
            public_key=data.get("public_key"),
        )
        body = {**jwt_key(row), "secret": secret}
    return jsonify(body), 201, {"Cache-Control": "no-store"}


@api.delete("/clients/<int:client_id>/jwt-keys/<int:key_id>")
@operation(
    "Remove a JWT key: JWTs it signed fail at once", responses={200: "Deleted", 404: "Error"}
)
@requires(WRITE)
def delete_jwt_key(client_id: int, key_id: int):
    with runtime().unit_of_work() as session:
        client_jwt.delete_key(
            session, actor=actor(), caller=caller(session), client_ref=client_id, key_id=key_id
        )
    return jsonify({"deleted": key_id})
