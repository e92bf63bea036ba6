"""Environments, projects and the endpoint catalogue."""

from flask import jsonify

from keystore import serialize
from keystore.services import catalogue
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import json_object
from web.runtime import runtime

READ, WRITE = "keyward.catalogue.read", "keyward.catalogue.write"


@api.get("/environments")
@operation("List environments", responses={200: "Environment[]"}, paged=True)
@requires(READ)
def list_environments():
    with runtime().unit_of_work() as session:
        found = catalogue.list_environments(session, page=page_request())
        return page_response(found, serialize.environment)


@api.post("/environments")
@operation(
    "Declare an environment",
    body="EnvironmentInput",
    responses={201: "Environment", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def create_environment():
    data = json_object()
    with runtime().unit_of_work() as session:
        env = catalogue.create_environment(
            session,
            actor=actor(),
            tag=data["tag"],
            name=data["name"],
            allows_dev_only=data.get("allows_dev_only", False),
            leak_action=data.get("leak_action", "revoke"),
            max_key_age_days=data.get("max_key_age_days"),
        )
        return jsonify(serialize.environment(env)), 201


@api.patch("/environments/<tag>")
@operation(
    "Change an environment (a maximum key age applies from the next request)",
    body="EnvironmentUpdate",
    responses={200: "Environment", 404: "Error", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def update_environment(tag: str):
    data = json_object()
    with runtime().unit_of_work() as session:
        env = catalogue.update_environment(
            session, actor=actor(), caller=caller(session), tag=tag, **data
        )
        return jsonify(serialize.environment(env))


@api.get("/projects")
@operation("List projects", responses={200: "Project[]"}, paged=True)
@requires(READ)
def list_projects():
    with runtime().unit_of_work() as session:
        found = catalogue.list_projects(session, page=page_request())
        return page_response(found, serialize.project)


@api.post("/projects")
@operation(
    "Create a project", body="ProjectInput", responses={201: "Project", 409: "Error", 422: "Error"}
)
@requires(WRITE)
def create_project():
    data = json_object()
    with runtime().unit_of_work() as session:
        proj = catalogue.create_project(
            session,
            actor=actor(),
            name=data["name"],
            description=data.get("description", ""),
        )
        return jsonify(serialize.project(proj)), 201


@api.delete("/projects/<name>")
@operation("Delete a project (clients lose it at once)", responses={200: "Deleted", 404: "Error"})
@requires(WRITE)
def delete_project(name: str):
    with runtime().unit_of_work() as session:
        catalogue.delete_project(session, actor=actor(), caller=caller(session), name=name)
    return jsonify({"deleted": name})


@api.get("/endpoints")
@operation("The endpoint catalogue", responses={200: "Endpoint[]"}, paged=True)
@requires(READ)
def list_endpoints():
    with runtime().unit_of_work() as session:
        found = catalogue.list_endpoints(session, page=page_request())
        return page_response(found, serialize.endpoint)


@api.post("/endpoints")
@operation(
    "Declare an endpoint of your API",
    body="EndpointInput",
    responses={201: "Endpoint", 409: "Error", 422: "Error"},
)
@requires(WRITE)
def declare_endpoint():
    data = json_object()
    with runtime().unit_of_work() as session:
        ep = catalogue.declare_endpoint(
            session,
            actor=actor(),
            name=data["name"],
            section=data.get("section", ""),
            description=data.get("description", ""),
            method=data.get("method"),
            path=data.get("path"),
            dev_only=data.get("dev_only", False),
        )
        return jsonify(serialize.endpoint(ep)), 201


@api.delete("/endpoints/<name>")
@operation(
    "Remove an endpoint (every role loses it at once)",
    responses={200: "Deleted", 404: "Error", 422: "Error"},
)
@requires(WRITE)
def delete_endpoint(name: str):
    with runtime().unit_of_work() as session:
        catalogue.delete_endpoint(session, actor=actor(), caller=caller(session), name=name)
    return jsonify({"deleted": name})
