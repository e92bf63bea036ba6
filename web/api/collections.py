"""API collections: named groups of endpoints that roles grant as one."""

from flask import jsonify

from keystore import serialize
from keystore.services import collections
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.collections.read", "keyward.collections.write"
CHANGED = {200: "Collection", 403: "Error", 404: "Error", 409: "Error", 422: "Error"}


def _shown(session, collection) -> dict:
    granting = collections.roles_granting(session, collection)
    return {**serialize.collection(collection), "roles": [r.name for r in granting]}


@api.get("/collections")
@operation("List API collections", responses={200: "Collection[]"}, paged=True)
@requires(READ)
def list_collections():
    with runtime().unit_of_work() as session:
        page = collections.list_collections(session, page=page_request())
        return page_response(page, lambda c: _shown(session, c))


@api.post("/collections")
@operation(
    "Create an API collection of endpoints you hold",
    body="CollectionCreate",
    responses={201: "Collection", 403: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def create_collection():
    data = json_object()
    with runtime().unit_of_work() as session:
        made = collections.create_collection(session, actor=actor(), caller=caller(session), **data)
        return jsonify(_shown(session, made)), 201


@api.get("/collections/<int:collection_id>")
@operation(
    "Show an API collection and the roles granting it", responses={200: "Collection", 404: "Error"}
)
@requires(READ)
def show_collection(collection_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(_shown(session, collections.get_collection(session, collection_id)))


@api.patch("/collections/<int:collection_id>")
@operation(
    "Change an API collection (every role granting it changes from the next request)",
    body="CollectionInput",
    responses=CHANGED,
)
@requires(WRITE)
def update_collection(collection_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        changed = collections.update_collection(
            session, actor=actor(), caller=caller(session), ref=collection_id, **data
        )
        return jsonify(_shown(session, changed))


@api.post("/collections/<int:collection_id>/endpoints")
@operation(
    "Add endpoints to and remove endpoints from an API collection",
    body="CollectionEndpointsInput",
    responses=CHANGED,
)
@requires(WRITE)
def change_collection_endpoints(collection_id: int):
    data = json_object()
    with runtime().unit_of_work() as session:
        changed = collections.update_collection(
            session,
            actor=actor(),
            caller=caller(session),
            ref=collection_id,
            add=data.get("add", ()),
            remove=data.get("remove", ()),
        )
        return jsonify(_shown(session, changed))


@api.delete("/collections/<int:collection_id>")
@operation(
    "Delete an API collection no role grants (409 collection_in_use names the roles)",
    responses={200: "Deleted", 403: "Error", 404: "Error", 409: "Error"},
)
@requires(WRITE)
def delete_collection(collection_id: int):
    with runtime().unit_of_work() as session:
        collections.delete_collection(
            session, actor=actor(), caller=caller(session), ref=collection_id
        )
    return jsonify({"deleted": collection_id})
