"""Leak incidents: the list, each one's trail, and the one-time pick-up of a replacement token."""

from flask import jsonify, request

from keystore import serialize
from keystore.errors import ValidationError
from keystore.models import INCIDENT_STATES
from rotation import incidents
from web.api import actor, api, caller
from web.auth import requires
from web.openapi import operation
from web.paging import page_request, page_response
from web.payload import query_int
from web.runtime import runtime


@api.get("/incidents")
@operation(
    "Leak incidents, open ones first",
    query={
        "state": {"enum": list(INCIDENT_STATES)},
        "client_id": "integer",
        "before_id": "integer",
    },
    responses={200: "Incident[]", 422: "Error"},
    paged=True,
)
@requires("keyward.incidents.read")
def list_incidents():
    state = request.args.get("state")
    if state is not None and state not in INCIDENT_STATES:
        raise ValidationError(f"state must be one of {', '.join(INCIDENT_STATES)}", field="state")
    with runtime().unit_of_work() as session:
        found = incidents.list_incidents(
            session,
            state=state,
            client_id=query_int("client_id"),
            before_id=query_int("before_id"),
            page=page_request(),
        )
        return page_response(found, serialize.incident)


@api.get("/incidents/<int:incident_id>")
@operation(
    "An incident's trail: reports, action, emails, with times",
    responses={200: "IncidentDetail", 404: "Error"},
)
@requires("keyward.incidents.read")
def show_incident(incident_id: int):
    with runtime().unit_of_work() as session:
        return jsonify(serialize.incident_detail(incidents.get_incident(session, incident_id)))


@api.post("/incidents/<int:incident_id>/replacement")
@operation(
    "Pick up the replacement token, once; it is destroyed in the same step",
    responses={200: "Replacement", 404: "Error", 409: "Error"},
)
@requires("keyward.incidents.write")
def pick_up_replacement(incident_id: int):
    rt = runtime()
    with rt.unit_of_work() as session:
        incident, token = incidents.pick_up_replacement(
            session, rt.settings, actor=actor(), caller=caller(session), incident_id=incident_id
        )
        body = {
            "incident_id": incident.id,
            "key_id": incident.key_id,
            "hint": incident.replacement_hint,
            "token": token,
        }
    return jsonify(body), 200, {"Cache-Control": "no-store"}
