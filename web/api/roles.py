"""Client roles."""

from flask import jsonify

from keystore import serialize
from keystore.services import roles
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.roles.read", "keyward.roles.write"


@api.get("/roles")
@operation("List roles", responses={200: "Role[]"}, paged=True)
@requires(READ)
def list_roles():
    with runtime().unit_of_work() as session:
        return page_response(roles.list_roles(session, page=page_request()), serialize.role)


@api.post("/roles")
@operation("Create a role", body="RoleCreate", responses={201: "Role", 409: "Error", 422: "Error"})
@requires(WRITE)
def create_role():
    data = json_object()
    with runtime().unit_of_work() as session:
        role = roles.create_role(session, actor=actor(), caller=caller(session), **data)
        return jsonify(serialize.role(role)), 201


@api.get("/roles/<int:role_id>")
@operation("Show a role", responses={200: "Role", 404: "Error"})
@requires(READ)
def show_role(role_id: int):
    with runtime().unit_of_work() as session:
        role = roles.get_role(session, role_id)
        data = serialize.role(role)
        data["clients"] = [c.name for c in roles.clients_using(session, role_id)]
        return jsonify(data)


@api.patch("/roles/<int:role_id>")
@operation(
    "Change a role (applies to the next request)",
    body="RoleInput",
    responses={200: "Role", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def update_role(role_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        role = roles.update_role(
            session, actor=actor(), caller=caller(session), ref=role_id, **data
        )
        return jsonify(serialize.role(role))


@api.delete("/roles/<int:role_id>")
@operation(
    "Delete a role; its clients lose every privilege",
    responses={200: "Deleted", 404: "Error", 409: "Error"},
)
@requires(WRITE)
def delete_role(role_id: int):
    with runtime().unit_of_work() as session:
        affected = roles.delete_role(session, actor=actor(), caller=caller(session), ref=role_id)
        return jsonify({"deleted": role_id, "clients_affected": [c.name for c in affected]})
