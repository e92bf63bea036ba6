"""Named policies: limits and address rules that clients and keys name."""

from flask import jsonify

from keystore import serialize
from keystore.services import policies
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.policies.read", "keyward.policies.write"


def _shown(session, policy) -> dict:
    clients, keys = policies.holders(session, policy)
    return {
        **serialize.policy(policy),
        "clients": [c.name for c in clients],
        "keys": [k.id for k in keys],
    }


@api.get("/policies")
@operation("List named policies", responses={200: "Policy[]"}, paged=True)
@requires(READ)
def list_policies():
    with runtime().unit_of_work() as session:
        page = policies.list_policies(session, page=page_request())
        return page_response(page, lambda p: _shown(session, p))


@api.post("/policies")
@operation(
    "Create a named policy (limits and address rules)",
    body="PolicyCreate",
    responses={201: "Policy", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def create_policy():
    data = json_object()
    with runtime().unit_of_work() as session:
        made = policies.create_policy(session, actor=actor(), **data)
        return jsonify(_shown(session, made)), 201


@api.get("/policies/<int:policy_id>")
@operation("Show a policy and who is under it", responses={200: "Policy", 404: "Error"})
@requires(READ)
def show_policy(policy_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(_shown(session, policies.get_policy(session, policy_id)))


@api.patch("/policies/<int:policy_id>")
@operation(
    "Change a policy (applies to every client and key under it from the next request)",
    body="PolicyInput",
    responses={200: "Policy", 403: "Error", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def update_policy(policy_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        changed = policies.update_policy(
            session, actor=actor(), caller=caller(session), ref=policy_id, **data
        )
        return jsonify(_shown(session, changed))


@api.delete("/policies/<int:policy_id>")
@operation(
    "Delete a policy nobody names (409 policy_in_use names its clients and keys)",
    responses={200: "Deleted", 404: "Error", 409: "Error"},
)
@requires(WRITE)
def delete_policy(policy_id: int):
    with runtime().unit_of_work() as session:
        policies.delete_policy(session, actor=actor(), ref=policy_id)
    return jsonify({"deleted": policy_id})
