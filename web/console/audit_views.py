"""The audit trail, filterable by action, object type, object id and actor."""

from __future__ import annotations

from flask import render_template, request

from keystore.services import audit
from web.console import console
from web.console.permissions import needs
from web.payload import query_int
from web.runtime import runtime

FILTERS = ("action", "object_type", "object_id", "actor")
PAGE = 100


@console.get("/audit")
@needs("viewer")
def audit_trail():
    filters = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    before_id = query_int("before_id")
    with runtime().unit_of_work() as session:
        events = audit.list_events(session, before_id=before_id, limit=PAGE, **filters)
        next_id = events[-1].id if len(events) == PAGE else None
        return render_template(
            "console/audit.html", events=events, filters=filters, next_id=next_id
        )
