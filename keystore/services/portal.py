"""The client portal: invitations, portal users, and keys scoped to one client.

Every key a portal user touches is looked up *through their client*, so
changing an id in a URL can never reach another client's key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import passwords, validate
from keystore.config import Settings
from keystore.errors import ConflictError, NotFoundError, StateError
from keystore.models import ApiKey, Incident, PortalInvitation, PortalUser
from keystore.services import audit, browser_sessions
from keystore.services.clients import get_client

INVITATION_LIFETIME = timedelta(days=7)


def invite(
    session: Session, settings: Settings, *, actor: str, client_id: int, email: str
) -> tuple[PortalInvitation, str]:
    """Create a one-time invitation for a client's contact; returns it with its token."""
    client = get_client(session, client_id)
    email = validate.email(email, field="email", required=True).lower()
    _refuse_other_clients_user(session, email=email, client_id=client.id)
    token = secrets.token_urlsafe(32)
    invitation = PortalInvitation(
        client_id=client.id,
        email=email,
        token_digest=_digest(token, settings),
        created_by=actor,
        expires_at=datetime.now(UTC) + INVITATION_LIFETIME,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="portal.invite",
        object_type="client",
        object_id=client.id,
        summary=f"{email} invited to the portal of {client.name}",
    )
    return invitation, token


def open_invitation(session: Session, settings: Settings, *, token: str) -> PortalInvitation:
    """The unused, unexpired invitation this token belongs to."""
    invitation = session.scalar(
        select(PortalInvitation).where(PortalInvitation.token_digest == _digest(token, settings))
    )
    if invitation is None or invitation.used_at is not None:
        raise NotFoundError("this invitation link is not valid", reason="invitation_not_found")
    if invitation.expires_at <= datetime.now(UTC):
        raise StateError("this invitation link has expired", reason="invitation_expired")
    return invitation


def accept_invitation(
    session: Session, settings: Settings, *, token: str, password: str
) -> PortalUser:
    """Use an invitation once: create (or reset) the portal user with this password.

    A reset ends every portal session the user had (the caller may start a new one).
    """
    invitation = open_invitation(session, settings, token=token)
    password_hash = passwords.hash_password(passwords.check_strength(password))
    # Checked again here: the user may have been created since the invitation was sent.
    _refuse_other_clients_user(session, email=invitation.email, client_id=invitation.client_id)
    user = session.scalar(select(PortalUser).where(PortalUser.email == invitation.email))
    if user is None:
        user = PortalUser(client_id=invitation.client_id, email=invitation.email)
        session.add(user)
    else:
        browser_sessions.end_all(session, kind="portal_user", person_id=user.id)
    user.client_id, user.password_hash = invitation.client_id, password_hash
    invitation.used_at = datetime.now(UTC)
    session.flush()
    audit.record(
        session,
        actor=f"portal:{user.id}",
        action="portal.accept",
        object_type="portal_user",
        object_id=user.id,
        summary=f"{user.email} set a portal password",
    )
    return user


def _refuse_other_clients_user(session: Session, *, email: str, client_id: int) -> None:
    """A portal account belongs to one client: an invitation never moves it to another."""
    owner = session.scalar(select(PortalUser.client_id).where(PortalUser.email == email))
    if owner is not None and owner != client_id:
        raise ConflictError(
            f"{email} already has a portal account for another client",
            reason="portal_user_of_other_client",
            field="email",
        )


def authenticate(session: Session, *, email: str, password: str) -> PortalUser | None:
    """The portal user these credentials belong to, or None (same cost either way)."""
    user = session.scalar(select(PortalUser).where(PortalUser.email == str(email).strip().lower()))
    return passwords.matching(user, password)


def get_user(session: Session, user_id: int) -> PortalUser:
    user = session.get(PortalUser, user_id)
    if user is None:
        raise NotFoundError("no such portal user", reason="portal_user_not_found")
    return user


def client_keys(session: Session, *, user: PortalUser) -> list[ApiKey]:
    """The keys of the user's own client."""
    query = select(ApiKey).where(ApiKey.client_id == user.client_id).order_by(ApiKey.id)
    return list(session.scalars(query))


def client_key(session: Session, *, user: PortalUser, key_id: int) -> ApiKey:
    """One key of the user's own client; another client's key is simply not found."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.client_id == user.client_id)
    )
    if key is None:
        raise NotFoundError(f"no key {key_id}", reason="key_not_found")
    return key


def client_incidents(session: Session, *, user: PortalUser, limit: int = 20) -> list[Incident]:
    """The newest leak incidents of the user's own client."""
    query = (
        select(Incident)
        .where(Incident.client_id == user.client_id)
        .order_by(Incident.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def client_incident(session: Session, *, user: PortalUser, incident_id: int) -> Incident:
    """A leak incident of the user's own client; another client's is simply not found."""
    incident = session.scalar(
        select(Incident).where(Incident.id == incident_id, Incident.client_id == user.client_id)
    )
    if incident is None:
        raise NotFoundError(f"no incident {incident_id}", reason="incident_not_found")
    return incident


def _digest(token: str, settings: Settings) -> str:
    return hmac.new(settings.pepper_bytes, token.encode("utf-8"), hashlib.sha256).hexdigest()
