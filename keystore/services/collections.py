"""API collections: named groups of catalogue endpoints that roles grant as one.

A role grants its own endpoints and those of its collections; the decision reads
both on every request, so a change to a collection reaches every client of every
role granting it on its next request.  That makes changing a collection the same
as changing each of those roles, and it is guarded the same way
(:mod:`keystore.privileges`): the caller holds the collection's endpoints before
and after and everything the affected clients hold, a client never changes a
collection its own role grants, and the last working full admin is never demoted.

Deleting a collection a role grants is refused (409 ``collection_in_use``, naming
the roles): it would silently take endpoints away from their clients.  Deleting an
endpoint removes it from every collection, as from every role (audited).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import privileges, serialize, validate
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import ApiCollection, Role
from keystore.models.catalogue import role_collections
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import OPERATOR, Caller
from keystore.services import audit
from keystore.services.roles import UNSET, require_may_change_role, resolve_endpoints


def list_collections(session: Session, *, page: PageRequest | None = None) -> Page:
    """By name; everything, or one ``page`` (keystore.paging)."""
    order = (SortKey(ApiCollection.name), SortKey(ApiCollection.id))
    return fetch_page(session, select(ApiCollection), order, page)


def get_collection(session: Session, ref: int | str) -> ApiCollection:
    """A collection by id or by name."""
    column = ApiCollection.id if isinstance(ref, int) else ApiCollection.name
    found = session.scalar(select(ApiCollection).where(column == ref))
    if found is None:
        raise NotFoundError(f"no API collection {ref!r}", reason="collection_not_found")
    return found


def roles_granting(session: Session, collection: ApiCollection) -> list[Role]:
    return list(
        session.scalars(
            select(Role)
            .join(role_collections, role_collections.c.role_id == Role.id)
            .where(role_collections.c.collection_id == collection.id)
            .order_by(Role.name)
        )
    )


def create_collection(
    session: Session,
    *,
    actor: str,
    name: str,
    description: str = "",
    endpoints: list[str] = (),
    caller: Caller = OPERATOR,
) -> ApiCollection:
    """Create a collection of endpoints the caller holds (nobody is granted it yet)."""
    name = validate.name(name)
    _require_unique(session, name)
    members = resolve_endpoints(session, endpoints)
    privileges.require_endpoints(caller, [ep.name for ep in members], what=f"collection {name!r}")
    collection = ApiCollection(name=name, description=validate.text(description), endpoints=members)
    session.add(collection)
    session.flush()
    _record(session, actor, "collection.create", collection, after=serialize.collection(collection))
    return collection


def update_collection(
    session: Session,
    *,
    actor: str,
    ref: int | str,
    name=UNSET,
    description=UNSET,
    endpoints=UNSET,
    add=(),
    remove=(),
    caller: Caller = OPERATOR,
) -> ApiCollection:
    """Rename, describe, replace the endpoints of, or add and remove endpoints from a
    collection; every role granting it changes with it, from the next request on."""
    collection = get_collection(session, ref)
    granting = roles_granting(session, collection)
    _require_may_change(session, caller, collection, granting)
    before = serialize.collection(collection)
    members = _new_members(session, collection, endpoints=endpoints, add=add, remove=remove)
    privileges.require_endpoints(caller, [ep.name for ep in members], what="the collection")
    with privileges.keeping_an_admin(session, caller) as guard:
        if name is not UNSET and name != collection.name:
            new_name = validate.name(name)
            _require_unique(session, new_name)
            collection.name = new_name
        if description is not UNSET:
            collection.description = validate.text(description)
        collection.endpoints = members
        guard.check()
    _record(
        session,
        actor,
        "collection.update",
        collection,
        before=before,
        after=serialize.collection(collection),
        roles=granting,
    )
    return collection


def delete_collection(
    session: Session, *, actor: str, ref: int | str, caller: Caller = OPERATOR
) -> None:
    """Delete a collection no role grants (409 ``collection_in_use`` names those that do)."""
    collection = get_collection(session, ref)
    privileges.require_endpoints(
        caller, [ep.name for ep in collection.endpoints], what="the collection"
    )
    granting = roles_granting(session, collection)
    if granting:
        raise ConflictError(
            f"API collection {collection.name!r} is granted by role(s) "
            f"{', '.join(repr(r.name) for r in granting)}; take it out of them first",
            reason="collection_in_use",
        )
    before = serialize.collection(collection)
    session.delete(collection)
    session.flush()
    _record(session, actor, "collection.delete", collection, before=before, object_id=before["id"])


def _require_may_change(session: Session, caller: Caller, collection, granting) -> None:
    privileges.require_endpoints(
        caller, [ep.name for ep in collection.endpoints], what=f"collection {collection.name!r}"
    )
    for role in granting:
        require_may_change_role(session, caller, role)
        privileges.require_not_own_role(caller, role.id)


def _new_members(session: Session, collection, *, endpoints, add, remove) -> list:
    names = (
        {ep.name for ep in collection.endpoints} if endpoints is UNSET else set(_names(endpoints))
    )
    names = (names | set(_names(add))) - set(_names(remove))
    return resolve_endpoints(session, sorted(names))


def _names(values) -> list[str]:
    if isinstance(values, str) or not isinstance(values, list | tuple | set):
        raise ValidationError("endpoints must be a list of endpoint names", field="endpoints")
    return list(values)


def _record(session, actor, action, collection, *, roles=(), object_id=None, **change) -> None:
    summary = collection.name
    if roles:
        summary += f"; granted by role(s) {', '.join(r.name for r in roles)}"
    audit.record(
        session,
        actor=actor,
        action=action,
        object_type="collection",
        object_id=object_id or collection.id,
        summary=summary,
        **change,
    )


def _require_unique(session: Session, name: str) -> None:
    if session.scalar(select(ApiCollection.id).where(ApiCollection.name == name)):
        raise ConflictError(f"an API collection named {name!r} exists already", reason="duplicate")
