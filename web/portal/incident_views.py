"""A leak of one of the client's keys: what happened, and the one-time replacement pick-up.

The leak email sends the client's contact here; the replacement token is shown once
(``Cache-Control: no-store``), destroyed in the same step and the pick-up audited.
"""

from __future__ import annotations

from flask import g, render_template, url_for

from keystore.services import portal as portal_service
from rotation import incidents
from web.forms import FormErrors, run_form
from web.portal import actor, portal
from web.runtime import runtime
from web.token_page import token_page


@portal.get("/incidents/<int:incident_id>")
def incident_show(incident_id: int):
    return _page(incident_id, errors=FormErrors())


@portal.post("/incidents/<int:incident_id>/replacement")
def incident_pickup(incident_id: int):
    def work(session):
        user = portal_service.get_user(session, g.portal_user_id)
        # Scoped first: another client's incident is not found, whatever its id.
        portal_service.client_incident(session, user=user, incident_id=incident_id)
        incident, token = incidents.pick_up_replacement(
            session, runtime().settings, actor=actor(), incident_id=incident_id
        )
        return {
            "hint": incident.replacement_hint,
            "name": f"incident {incident.id}",
            "token": token,
        }

    issued, errors = run_form(work)
    if errors:
        return _page(incident_id, errors=errors)
    back = url_for("portal.incident_show", incident_id=incident_id)
    return token_page("portal/token.html", issued=issued, back=back)


def _page(incident_id: int, *, errors: FormErrors):
    with runtime().unit_of_work() as session:
        user = portal_service.get_user(session, g.portal_user_id)
        incident = portal_service.client_incident(session, user=user, incident_id=incident_id)
        return render_template(
            "portal/incident.html", incident=incident, client=user.client, errors=errors
        ), errors.status
