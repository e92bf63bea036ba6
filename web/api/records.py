"""The audit trail, usage figures and workspace admins."""

from flask import jsonify, request

from keystore import serialize
from keystore.errors import ValidationError
from keystore.services import admins, audit
from keystore.usage import usage_report
from web.api import actor, api, caller
from web.auth import requires
from web.inputs import DATE_TIME
from web.openapi import operation
from web.paging import next_link, page_request
from web.payload import json_object, query_datetime, query_int
from web.runtime import runtime

AUDIT_QUERY = {
    "action": "string",
    "type": "string",
    "object": "string",
    "actor": "string",
    "since": DATE_TIME,
    "until": DATE_TIME,
    "before_id": "integer",
}


@api.get("/audit")
@operation(
    "The audit trail, newest first",
    query=AUDIT_QUERY,
    responses={200: "AuditPage", 422: "Error"},
    paged=True,
)
@requires("keyward.audit.read")
def list_audit():
    with runtime().unit_of_work() as session:
        events = audit.list_events(
            session,
            action=request.args.get("action"),
            object_type=request.args.get("type"),
            object_id=request.args.get("object"),
            actor=request.args.get("actor"),
            since=query_datetime("since"),
            until=query_datetime("until"),
            before_id=query_int("before_id"),
            page=page_request(),
        )
        page = [serialize.audit_event(e) for e in events]
    # next_before_id: the older convention, kept for existing scripts.
    next_id = page[-1]["id"] if events.next_cursor else None
    body = {"events": page, "next_cursor": events.next_cursor, "next_before_id": next_id}
    return jsonify(body), 200, next_link(events)


@api.get("/usage")
@operation(
    "Requests by outcome per hour or day, for a client or a key",
    query={
        "client_id": "integer",
        "key_id": "integer",
        "granularity": {"enum": ["hour", "day"]},
        "since": DATE_TIME,
        "until": DATE_TIME,
    },
    responses={200: "Usage", 422: "Error"},
    paged=True,
)
@requires("keyward.usage.read")
def show_usage():
    granularity = request.args.get("granularity", "hour")
    if granularity not in ("hour", "day"):
        raise ValidationError("granularity must be hour or day", field="granularity")
    client_id, key_id = query_int("client_id"), query_int("key_id")
    rt = runtime()
    with rt.unit_of_work() as session:
        # Fold what is still buffered in first, so the figures are current.
        rt.usage.flush(session)
    with rt.unit_of_work() as session:
        rows = usage_report(
            session,
            client_id=client_id,
            key_id=key_id,
            granularity=granularity,
            since=query_datetime("since"),
            until=query_datetime("until"),
            page=page_request(),
        )
    body = {"granularity": granularity, "client_id": client_id, "key_id": key_id, "rows": rows}
    return jsonify({**body, "next_cursor": rows.next_cursor}), 200, next_link(rows)


@api.get("/admins")
@operation("List workspace admins", responses={200: "Admin[]"})
@requires("keyward.admins.read")
def list_admins():
    with runtime().unit_of_work() as session:
        return jsonify([serialize.admin(a) for a in admins.list_admins(session)])


@api.post("/admins")
@operation(
    "Add a workspace admin", body="AdminInput", responses={201: "Admin", 409: "Error", 422: "Error"}
)
@requires("keyward.admins.write")
def create_admin():
    data = json_object()
    with runtime().unit_of_work() as session:
        admin = admins.create_admin(
            session,
            actor=actor(),
            caller=caller(session),
            name=data["name"],
            email=data["email"],
            notify_leaks=data.get("notify_leaks", True),
            role=data.get("role", "admin"),
        )
        return jsonify(serialize.admin(admin)), 201


@api.patch("/admins/<email>")
@operation(
    "Change a workspace admin's console role or leak emails (the last admin stays one)",
    body="AdminUpdate",
    responses={200: "Admin", 404: "Error", 409: "Error", 422: "Error"},
)
@requires("keyward.admins.write")
def update_admin(email: str):
    data = json_object()
    with runtime().unit_of_work() as session:
        admin = admins.update_admin(
            session, actor=actor(), caller=caller(session), email=email, **data
        )
        return jsonify(serialize.admin(admin))


@api.delete("/admins/<email>")
@operation(
    "Remove a workspace admin (never the last console admin)",
    responses={200: "Deleted", 404: "Error", 409: "Error"},
)
@requires("keyward.admins.write")
def delete_admin(email: str):
    with runtime().unit_of_work() as session:
        admins.delete_admin(session, actor=actor(), caller=caller(session), email=email)
    return jsonify({"deleted": email})
