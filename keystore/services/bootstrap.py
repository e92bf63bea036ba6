"""The first admin client: everything else in the admin API needs a token to begin with."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.errors import ConflictError, NotFoundError
from keystore.models import ApiKey, Client, Role
from keystore.privileges import ADMIN_ROLE, holds_every_builtin
from keystore.services import catalogue, clients, keys, roles


def bootstrap_admin(
    session: Session,
    settings: Settings,
    *,
    actor: str,
    client_name: str,
    environment: str,
    new_key: bool = False,
) -> tuple[ApiKey, str]:
    """Create (or complete) the all-privileges role and a client holding it; issue it a key.

    Once an admin client exists, a second full-admin token is issued only on purpose
    (``new_key``): run twice by mistake, bootstrap must not hand out another one.
    """
    admins = admin_clients(session)
    if admins and not new_key:
        raise ConflictError(
            f"an admin client exists already ({', '.join(admins)}); its keys: "
            f"`keyward key list {admins[0]}`; to issue another full-admin key on purpose: "
            "`keyward bootstrap --new-key`",
            reason="admin_exists",
        )
    role = _admin_role(session, actor=actor)
    try:
        client = clients.get_client(session, client_name)
    except NotFoundError:
        client = clients.create_client(
            session,
            actor=actor,
            name=client_name,
            role=role.id,
            environments=[env.tag for env in catalogue.list_environments(session)],
            description="Keyward administration (created by keyward bootstrap)",
        )
    return keys.issue_key(
        session, settings, actor=actor, client_ref=client.id, name="admin", environment=environment
    )


def admin_clients(session: Session) -> list[str]:
    """Names of the clients holding the admin role or every builtin endpoint."""
    admin_role = select(Role.id).where(Role.name == ADMIN_ROLE).scalar_subquery()
    return list(
        session.scalars(
            select(Client.name)
            .where(or_(Client.role_id == admin_role, holds_every_builtin(Client.role_id)))
            .order_by(Client.id)
        )
    )


def _admin_role(session: Session, *, actor: str) -> Role:
    builtin = sorted(catalogue.BUILTIN_ENDPOINTS)
    try:
        role = roles.get_role(session, ADMIN_ROLE)
    except NotFoundError:
        return roles.create_role(
            session,
            actor=actor,
            name=ADMIN_ROLE,
            endpoints=builtin,
            description="Every operation of Keyward's admin API",
        )
    if {ep.name for ep in role.endpoints} != set(builtin):
        roles.update_role(session, actor=actor, ref=role.id, endpoints=builtin)
    return role
