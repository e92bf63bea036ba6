"""Leak incidents: the list (open first), a timeline per incident, the one-time pick-up."""

from __future__ import annotations

from flask import render_template, url_for
from sqlalchemy import select

from keystore.models import ApiKey, Client, PortalUser, Webhook
from rotation import incidents
from web.console import actor, caller, console
from web.console.permissions import needs
from web.forms import run_form
from web.runtime import runtime
from web.token_page import token_page


@console.get("/incidents")
@needs("viewer")
def incidents_list():
    with runtime().unit_of_work() as session:
        found = incidents.list_incidents(session, limit=200)
        names = _client_names(session, {incident.client_id for incident in found})
        return render_template("console/incidents.html", incidents=found, names=names)


@console.get("/incidents/<int:incident_id>")
@needs("viewer")
def incident_show(incident_id: int):
    return _incident_page(incident_id, errors={})


@console.post("/incidents/<int:incident_id>/replacement")
@needs("operator")
def incident_pickup(incident_id: int):
    def work(session):
        incident, token = incidents.pick_up_replacement(
            session, runtime().settings, actor=actor(), caller=caller(), incident_id=incident_id
        )
        return {
            "hint": incident.replacement_hint,
            "name": f"incident {incident.id}",
            "token": token,
        }

    issued, errors = run_form(work)
    if errors:
        return _incident_page(incident_id, errors=errors), errors.status
    back = url_for("console.incident_show", incident_id=incident_id)
    return token_page("console/token.html", issued=issued, back=back)


def _incident_page(incident_id: int, *, errors: dict):
    with runtime().unit_of_work() as session:
        incident = incidents.get_incident(session, incident_id)
        client = session.get(Client, incident.client_id)
        contact = (client.contact_email or "").lower() if client else ""
        return render_template(
            "console/incident.html",
            incident=incident,
            key=session.get(ApiKey, incident.key_id),
            client=client,
            contact=contact,
            contact_portal=bool(contact) and _portal_account(session, client.id, contact),
            hook_names=dict(session.execute(select(Webhook.id, Webhook.name)).all()),
            timeline=timeline(incident),
            errors=errors,
        )


def _portal_account(session, client_id: int, email: str) -> bool:
    query = select(PortalUser.id).where(
        PortalUser.client_id == client_id,
        PortalUser.email == email,
        PortalUser.password_hash.is_not(None),
    )
    return session.scalar(query) is not None


def timeline(incident) -> list[tuple]:
    """What happened, in order: reports, owner found, action, notifications."""
    events = [
        (o.received_at, "reported", f"{o.origin}: {o.source or 'unknown source'}", o.url)
        for o in incident.occurrences
    ]
    if incident.owner_found_at:
        events.append((incident.owner_found_at, "owner found", f"key {incident.key_id}", ""))
    if incident.acted_at:
        events.append(
            (incident.acted_at, "action", f"{incident.action}: {incident.action_detail}", "")
        )
    for note in incident.notifications:
        what = f"{'webhook' if note.channel == 'webhook' else 'email'} {note.state}"
        events.append((note.sent_at or note.claimed_at, what, note.recipient, ""))
    return sorted(events, key=lambda event: (event[0] is None, event[0] or incident.received_at))


def _client_names(session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(select(Client.id, Client.name).where(Client.id.in_(ids)))
    return dict(rows.all())
