"""``keyward incident``: the leak incidents and their trail."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli.base import ID, CliContext, Group, pass_context
from keystore.models import INCIDENT_STATES
from keystore.services import incidents


@click.group("incident", cls=Group)
def incident_group() -> None:
    """Leak incidents (one per leaked token)."""


@incident_group.command("list")
@click.option("--state", type=click.Choice(INCIDENT_STATES), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@pass_context
def incident_list(ctx: CliContext, state: str | None, limit: int) -> None:
    """List leak incidents, newest first."""
    with ctx.session() as session:
        rows = [
            serialize.incident(i)
            for i in incidents.list_incidents(session, state=state, limit=limit)
        ]
    ctx.emit(
        rows,
        [
            f"{i['id']:>5}  {i['state']:<9} {i['token_hint']}  client {i['client_id']}  "
            f"{i['action'] or '-':<11} {i['occurrence_count']} report(s)  "
            f"received {i['received_at']}"
            for i in rows
        ],
    )


@incident_group.command("show")
@click.argument("incident_id", type=ID)
@pass_context
def incident_show(ctx: CliContext, incident_id: int) -> None:
    """The trail: received -> owner found -> acted -> notified, with every report and email."""
    with ctx.session() as session:
        data = serialize.incident_detail(incidents.get_incident(session, incident_id))
    lines = [
        f"incident {data['id']}: {data['token_hint']} (key {data['key_id']}, "
        f"client {data['client_id']}) — {data['state']}",
        f"  received     {data['received_at']} (first from {data['first_origin']})",
        f"  owner found  {data['owner_found_at'] or '-'}",
        f"  acted        {data['acted_at'] or '-'}  {data['action'] or ''}: "
        f"{data['action_detail']}",
        f"  notified     {data['notified_at'] or '-'}",
        "  reports:",
    ]
    lines += [
        f"    {o['received_at']} {o['origin']:<7} {o['source'] or '-':<20} {o['url']}"
        for o in data["occurrences"]
    ]
    lines += ["  emails:"] + [
        f"    {n['recipient']:<32} {n['state']:<8} {n['sent_at'] or ''}"
        for n in data["notifications"]
    ]
    ctx.emit(data, lines)


@incident_group.command("pickup")
@click.argument("incident_id", type=ID)
@pass_context
def incident_pickup(ctx: CliContext, incident_id: int) -> None:
    """Print the replacement token of a regenerated key, once."""
    with ctx.session() as session:
        incident, token = incidents.pick_up_replacement(
            session, ctx.settings, actor=ctx.actor, incident_id=incident_id
        )
        data = {
            "incident_id": incident.id,
            "key_id": incident.key_id,
            "hint": incident.replacement_hint,
            "token": token,
        }
    ctx.emit(data, ["replacement token (shown once, store it now):", f"  {token}"])
