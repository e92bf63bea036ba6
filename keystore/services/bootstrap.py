"""The first admin client: everything else in the admin API needs a token to begin with."""

from __future__ import annotations

from sqlalchemy.orm import Session

from keystore.config import Settings
from keystore.errors import NotFoundError
from keystore.models import ApiKey, Role
from keystore.privileges import ADMIN_ROLE
from keystore.services import catalogue, clients, keys, roles


def bootstrap_admin(
    session: Session, settings: Settings, *, actor: str, client_name: str, environment: str
) -> tuple[ApiKey, str]:
    """Create (or complete) the all-privileges role and a client holding it; issue it a key."""
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
