"""The audit trail, filterable by action, object type, object id and actor, page by page."""

from __future__ import annotations

from flask import render_template, request

from keystore.services import audit
from web.console import console
from web.console.permissions import needs
from web.paging import page_request
from web.runtime import runtime

FILTERS = ("action", "object_type", "object_id", "actor")
PAGE = 100


@console.get("/audit")
@needs("viewer")
def audit_trail():
    filters = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    with runtime().unit_of_work() as session:
        events = audit.list_events(session, page=page_request(default=PAGE), **filters)
        return render_template("console/audit.html", events=events, filters=filters)
