"""API clients."""

from flask import jsonify, request

from keystore import serialize
from keystore.services import clients, keys
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.clients.read", "keyward.clients.write"


@api.get("/clients")
@operation("List clients", query={"search": "string"}, responses={200: "Client[]"}, paged=True)
@requires(READ)
def list_clients():
    with runtime().unit_of_work() as session:
        found = clients.list_clients(
            session, search=request.args.get("search"), page=page_request()
        )
        return page_response(found, serialize.client)


@api.post("/clients")
@operation(
    "Register a client",
    body="ClientCreate",
    responses={201: "Client", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def create_client():
    data = json_object()
    data.setdefault("role", None)
    data.setdefault("environments", [])
    with runtime().unit_of_work() as session:
        client = clients.create_client(session, actor=actor(), caller=caller(session), **data)
        return jsonify(serialize.client(client)), 201


@api.get("/clients/<int:client_id>")
@operation("Show a client", responses={200: "Client", 404: "Error"})
@requires(READ)
def show_client(client_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(serialize.client(clients.get_client(session, client_id)))


@api.patch("/clients/<int:client_id>")
@operation(
    "Change a client (applies to the next request)",
    body="ClientInput",
    responses={200: "Client", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def update_client(client_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        client = clients.update_client(
            session, actor=actor(), caller=caller(session), ref=client_id, **data
        )
        return jsonify(serialize.client(client))


@api.post("/clients/<int:client_id>/enable")
@operation("Enable a client", responses={200: "Client", 404: "Error", 409: "Error"})
@requires(WRITE)
def enable_client(client_id: int):
    return _set_enabled(client_id, enabled=True)


@api.post("/clients/<int:client_id>/disable")
@operation(
    "Disable a client; its keys and JWTs fail at once",
    responses={200: "Client", 404: "Error", 409: "Error"},
)
@requires(WRITE)
def disable_client(client_id: int):
    return _set_enabled(client_id, enabled=False)


def _set_enabled(client_id: int, *, enabled: bool):
    with runtime().unit_of_work() as session:
        client = clients.set_enabled(
            session, actor=actor(), caller=caller(session), ref=client_id, enabled=enabled
        )
        return jsonify(serialize.client(client))


@api.post("/clients/<int:client_id>/revoke-keys")
@operation("Revoke every key of the client", responses={200: "Key[]", 404: "Error", 409: "Error"})
@requires("keyward.keys.write")
def revoke_client_keys(client_id: int):
    with runtime().unit_of_work() as session:
        revoked = keys.revoke_client_keys(
            session, actor=actor(), caller=caller(session), client_ref=client_id
        )
        return jsonify([serialize.key(k) for k in revoked])


@api.delete("/clients/<int:client_id>")
@operation("Delete a client and its keys", responses={200: "Deleted", 404: "Error", 409: "Error"})
@requires(WRITE)
def delete_client(client_id: int):
    with runtime().unit_of_work() as session:
        clients.delete_client(session, actor=actor(), caller=caller(session), ref=client_id)
    return jsonify({"deleted": client_id})
