"""Client roles: named sets of endpoint privileges."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import key_age, privileges, serialize, validate
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import LEAK_ACTIONS, ApiCollection, Client, Endpoint, Role
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
    collections: list[str] = (),
    leak_action: str | None = None,
    max_key_age_days: int | None = None,
    caller: Caller = OPERATOR,
) -> Role:
    """Create a role granting the named catalogue endpoints and API collections, all of whose
    endpoints the caller holds."""
    name = validate.name(name)
    _require_unique(session, name)
    privileges.require_role_name(caller, name)
    granted = resolve_endpoints(session, endpoints)
    grouped = resolve_collections(session, collections)
    privileges.require_endpoints(caller, _endpoint_names(granted, grouped), what=f"role {name!r}")
    role = Role(
        name=name,
        description=validate.text(description),
        endpoints=granted,
        collections=grouped,
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
    collections=UNSET,
    leak_action=UNSET,
    max_key_age_days=UNSET,
    caller: Caller = OPERATOR,
) -> Role:
    """Change a role; its clients see the change on their very next request.

    Only a caller holding the role's endpoints (its own and its collections'), old and new,
    and everything its clients hold.
    """
    role = get_role(session, ref)
    require_may_change_role(session, caller, role)
    before = serialize.role(role)
    granted = UNSET if endpoints is UNSET else resolve_endpoints(session, endpoints)
    grouped = UNSET if collections is UNSET else resolve_collections(session, collections)
    for given in (granted, grouped):
        if given is not UNSET:
            privileges.require_endpoints(caller, _endpoint_names(given), what="the role")
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
        if grouped is not UNSET:
            role.collections = grouped
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
    require_may_change_role(session, caller, role)
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


def require_may_change_role(session: Session, caller: Caller, role: Role) -> None:
    # Changing a role changes every client holding it: the caller must hold all of theirs.
    what = f"role {role.name!r}"
    privileges.require_endpoints(caller, [ep.name for ep in role.granted_endpoints], what=what)
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


def resolve_collections(session: Session, names) -> list[ApiCollection]:
    if isinstance(names, str) or not isinstance(names, list | tuple | set):
        raise ValidationError("collections must be a list of collection names", field="collections")
    wanted = set(names)
    found = list(session.scalars(select(ApiCollection).where(ApiCollection.name.in_(wanted))))
    unknown = wanted - {c.name for c in found}
    if unknown:
        raise ValidationError(
            f"no such API collection: {', '.join(sorted(map(str, unknown)))}",
            field="collections",
            reason="unknown_collection",
        )
    return sorted(found, key=lambda c: c.name)


def _endpoint_names(items, grouped=()) -> list[str]:
    """The endpoint names of endpoints and of collections' endpoints, together."""
    names = set()
    for item in [*items, *grouped]:
        if isinstance(item, ApiCollection):
            names.update(ep.name for ep in item.endpoints)
        else:
            names.add(item.name)
    return sorted(names)


def _require_unique(session: Session, name: str) -> None:
    if session.scalar(select(Role.id).where(Role.name == name)):
        raise ConflictError(f"a role named {name!r} exists already", reason="duplicate")
