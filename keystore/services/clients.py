"""API clients: who may call, in which environments and projects, under which role."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keystore import privileges, serialize, validate
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import Client, Environment, Project
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller
from keystore.services import audit
from keystore.services.roles import UNSET, get_role

LIMIT_FIELDS = ("rate_limit", "rate_window_seconds", "quota_daily", "quota_monthly")


def list_clients(
    session: Session, *, search: str | None = None, page: PageRequest | None = None
) -> Page:
    """By name; everything, or one ``page`` (keystore.paging)."""
    query = select(Client)
    if search:
        pattern = f"%{search.strip()}%"
        query = query.where(or_(Client.name.ilike(pattern), Client.contact_email.ilike(pattern)))
    return fetch_page(session, query, (SortKey(Client.name), SortKey(Client.id)), page)


def get_client(session: Session, ref: int | str) -> Client:
    """A client by id or by name."""
    column = Client.id if isinstance(ref, int) else Client.name
    client = session.scalar(select(Client).where(column == ref))
    if client is None:
        raise NotFoundError(f"no client {ref!r}", reason="client_not_found")
    return client


def create_client(
    session: Session,
    *,
    actor: str,
    name: str,
    role: int | str | None,
    environments: list[str],
    projects: list[str] = (),
    description: str = "",
    contact_email: str = "",
    enabled: bool = True,
    limits: dict | None = None,
    caller: Caller = OPERATOR,
) -> Client:
    """Register a client bound to a role, environments and projects the caller holds."""
    name = validate.name(name)
    _require_unique(session, name)
    client = Client(
        name=name,
        description=validate.text(description),
        contact_email=validate.email(contact_email),
        role=None if role is None else get_role(session, role),
        environments=resolve_environments(session, environments),
        projects=resolve_projects(session, projects),
        enabled=bool(enabled),
    )
    apply_limits(client, limits or {})
    privileges.require_may_act_on(caller, client)
    session.add(client)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="client.create",
        object_type="client",
        object_id=client.id,
        summary=client.name,
        after=serialize.client(client),
    )
    return client


def update_client(
    session: Session, *, actor: str, ref: int | str, caller: Caller = OPERATOR, **changes
) -> Client:
    """Edit a client; the next check sees the change (nothing is cached).

    The caller must hold what the client holds, before and after; a client never changes
    its own privileges, and the last working full admin is never demoted.
    """
    client = get_client(session, ref)
    privileges.require_may_act_on(caller, client)
    before = serialize.client(client)
    with privileges.keeping_an_admin(session, caller) as guard:
        _apply_changes(session, client, changes)
        guard.check()
        _require_allowed_change(caller, client, before)
    audit.record(
        session,
        actor=actor,
        action="client.update",
        object_type="client",
        object_id=client.id,
        summary=client.name,
        before=before,
        after=serialize.client(client),
    )
    return client


def set_enabled(
    session: Session, *, actor: str, ref: int | str, enabled: bool, caller: Caller = OPERATOR
) -> Client:
    """Enable or disable a client; a disabled client's keys and JWTs fail at once."""
    client = get_client(session, ref)
    privileges.require_may_act_on(caller, client)
    if client.enabled != enabled:
        with privileges.keeping_an_admin(session, caller):
            client.enabled = enabled
        audit.record(
            session,
            actor=actor,
            action="client.enable" if enabled else "client.disable",
            object_type="client",
            object_id=client.id,
            summary=client.name,
        )
    return client


def delete_client(
    session: Session, *, actor: str, ref: int | str, caller: Caller = OPERATOR
) -> None:
    """Delete a client and all its keys; their tokens are refused from the next request on."""
    client = get_client(session, ref)
    privileges.require_may_act_on(caller, client)
    hints = [key.hint for key in client.keys]
    before = serialize.client(client)
    with privileges.keeping_an_admin(session, caller):
        session.delete(client)
    audit.record(
        session,
        actor=actor,
        action="client.delete",
        object_type="client",
        object_id=before["id"],
        summary=f"{before['name']}; keys {', '.join(hints) or 'none'}",
        before=before,
    )


def apply_limits(obj, limits: dict) -> None:
    """Set rate limit and quotas from a dict; ``None`` removes a limit."""
    if not isinstance(limits, dict):
        raise ValidationError("limits must be an object", field="limits")
    unknown = set(limits) - set(LIMIT_FIELDS)
    if unknown:
        raise ValidationError(f"unknown limit {sorted(unknown)[0]!r}", field="limits")
    for field, value in limits.items():
        setattr(obj, field, validate.positive_int(value, field=field))
    if (obj.rate_limit is None) != (obj.rate_window_seconds is None):
        raise ValidationError(
            "rate_limit and rate_window_seconds go together", field="rate_window_seconds"
        )


def resolve_environments(session: Session, tags) -> list[Environment]:
    return _resolve(session, Environment, Environment.tag, tags, field="environments")


def resolve_projects(session: Session, names) -> list[Project]:
    return _resolve(session, Project, Project.name, names, field="projects")


def _resolve(session: Session, model, column, values, *, field: str) -> list:
    if isinstance(values, str) or not isinstance(values, list | tuple | set):
        raise ValidationError(f"{field} must be a list", field=field)
    wanted = set(values)
    found = list(session.scalars(select(model).where(column.in_(wanted))))
    unknown = wanted - {getattr(row, column.key) for row in found}
    if unknown:
        raise ValidationError(
            f"unknown {field}: {', '.join(sorted(map(str, unknown)))}", field=field
        )
    return found


def _require_allowed_change(caller: Caller, client: Client, before: dict) -> None:
    # Widening is named as such first, even when a client tries it on itself.
    privileges.require_may_act_on(caller, client)
    privileges.require_not_own(caller, client.id, before, serialize.client(client))


def _apply_changes(session: Session, client: Client, changes: dict) -> None:
    setters = {
        "name": lambda v: _rename(session, client, v),
        "description": lambda v: setattr(client, "description", validate.text(v)),
        "contact_email": lambda v: setattr(client, "contact_email", validate.email(v)),
        "role": lambda v: setattr(client, "role", None if v is None else get_role(session, v)),
        "environments": lambda v: setattr(client, "environments", resolve_environments(session, v)),
        "projects": lambda v: setattr(client, "projects", resolve_projects(session, v)),
        "enabled": lambda v: setattr(client, "enabled", bool(v)),
        "limits": lambda v: apply_limits(client, v),
    }
    for field, value in changes.items():
        if value is UNSET:
            continue
        if field not in setters:
            raise ValidationError(f"unknown field {field!r}", field=field)
        setters[field](value)


def _rename(session: Session, client: Client, name) -> None:
    name = validate.name(name)
    if name != client.name:
        _require_unique(session, name)
        client.name = name


def _require_unique(session: Session, name: str) -> None:
    if session.scalar(select(Client.id).where(Client.name == name)):
        raise ConflictError(f"a client named {name!r} exists already", reason="duplicate")
