"""Client roles: named sets of endpoint privileges."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import key_age, privileges, serialize, validate
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import LEAK_ACTIONS, Client, Endpoint, Role
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller
from keystore.services import audit

UNSET = object()


def list_roles(session: Session, *, page: PageRequest | None = None) -> Page:
    """By name; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Role), (SortKey(Role.name), SortKey(Role.id)), page)


def get_role(session: Session, ref: int | str) -> Role:
    """A role by id or by name."""
    column = Role.id if isinstance(ref, int) else Role.name
    role = session.scalar(select(Role).where(column == ref))
    if role is None:
        raise NotFoundError(f"no role {ref!r}", reason="role_not_found")
    return role


def create_role(
    session: Session,
    *,
    actor: str,
    name: str,
    description: str = "",
    endpoints: list[str] = (),
    leak_action: str | None = None,
    max_key_age_days: int | None = None,
    caller: Caller = OPERATOR,
) -> Role:
    """Create a role granting the named catalogue endpoints, all of which the caller holds."""
    name = validate.name(name)
    _require_unique(session, name)
    privileges.require_role_name(caller, name)
    granted = resolve_endpoints(session, endpoints)
    privileges.require_endpoints(caller, [ep.name for ep in granted], what=f"role {name!r}")
    role = Role(
        name=name,
        description=validate.text(description),
        endpoints=granted,
        leak_action=validate.choice(leak_action, LEAK_ACTIONS, field="leak_action", optional=True),
        max_key_age_days=key_age.check_days(max_key_age_days),
    )
    session.add(role)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="role.create",
        object_type="role",
        object_id=role.id,
        summary=role.name,
        after=serialize.role(role),
    )
    return role


def update_role(
    session: Session,
    *,
    actor: str,
    ref: int | str,
    name=UNSET,
    description=UNSET,
    endpoints=UNSET,
    leak_action=UNSET,
    max_key_age_days=UNSET,
    caller: Caller = OPERATOR,
) -> Role:
    """Change a role; its clients see the change on their very next request.

    Only a caller holding the role's endpoints, old and new, and everything its clients hold.
    """
    role = get_role(session, ref)
    _require_may_change(session, caller, role)
    before = serialize.role(role)
    granted = UNSET if endpoints is UNSET else resolve_endpoints(session, endpoints)
    if granted is not UNSET:
        privileges.require_endpoints(caller, [ep.name for ep in granted], what="the role")
    with privileges.keeping_an_admin(session, caller) as guard:
        if name is not UNSET and name != role.name:
            new_name = validate.name(name)
            _require_unique(session, new_name)
            privileges.require_role_name(caller, new_name)
            role.name = new_name
        if description is not UNSET:
            role.description = validate.text(description)
        if granted is not UNSET:
            role.endpoints = granted
        if leak_action is not UNSET:
            role.leak_action = validate.choice(
                leak_action, LEAK_ACTIONS, field="leak_action", optional=True
            )
        if max_key_age_days is not UNSET:
            role.max_key_age_days = key_age.check_days(max_key_age_days)
        guard.check()
        privileges.require_not_own_role(caller, role.id)
    audit.record(
        session,
        actor=actor,
        action="role.update",
        object_type="role",
        object_id=role.id,
        summary=role.name,
        before=before,
        after=serialize.role(role),
    )
    return role


def clients_using(session: Session, ref: int | str) -> list[Client]:
    """The clients that lose every privilege if the role is deleted."""
    role = get_role(session, ref)
    return list(
        session.scalars(select(Client).where(Client.role_id == role.id).order_by(Client.name))
    )


def delete_role(
    session: Session, *, actor: str, ref: int | str, caller: Caller = OPERATOR
) -> list[Client]:
    """Delete a role.  Its clients keep existing but are refused every endpoint at once."""
    role = get_role(session, ref)
    _require_may_change(session, caller, role)
    affected = clients_using(session, role.id)
    before = serialize.role(role)
    with privileges.keeping_an_admin(session, caller) as guard:
        session.delete(role)
        guard.check()
        privileges.require_not_own_role(caller, before["id"])
        for client in affected:
            session.refresh(client)
    audit.record(
        session,
        actor=actor,
        action="role.delete",
        object_type="role",
        object_id=before["id"],
        summary=f"{before['name']}; {len(affected)} client(s) lose access",
        before=before,
    )
    return affected


def _require_may_change(session: Session, caller: Caller, role: Role) -> None:
    # Changing a role changes every client holding it: the caller must hold all of theirs.
    what = f"role {role.name!r}"
    privileges.require_endpoints(caller, [ep.name for ep in role.endpoints], what=what)
    for client in clients_using(session, role.id):
        privileges.require_may_act_on(caller, client)


def resolve_endpoints(session: Session, names) -> list[Endpoint]:
    if isinstance(names, str) or not isinstance(names, list | tuple | set):
        raise ValidationError("endpoints must be a list of endpoint names", field="endpoints")
    wanted = set(names)
    found = list(session.scalars(select(Endpoint).where(Endpoint.name.in_(wanted))))
    unknown = wanted - {ep.name for ep in found}
    if unknown:
        raise ValidationError(
            f"not in the endpoint catalogue: {', '.join(sorted(map(str, unknown)))}",
            field="endpoints",
            reason="unknown_endpoint",
        )
    return sorted(found, key=lambda ep: ep.name)


def _require_unique(session: Session, name: str) -> None:
    if session.scalar(select(Role.id).where(Role.name == name)):
        raise ConflictError(f"a role named {name!r} exists already", reason="duplicate")
