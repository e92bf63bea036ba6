"""Workspace admins: the people who run Keyward and are told about leaks."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import passwords, serialize, validate
from keystore.errors import ConflictError, NotFoundError
from keystore.models import CONSOLE_ROLES, Admin
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import (
    OPERATOR,
    Caller,
    require_another_console_admin,
    require_everything,
)
from keystore.services import audit, browser_sessions

# A console person may be given everything (the admin role), so only a full admin manages them.
_PERSON = "a workspace admin (the console can do everything)"
UNSET = object()


def list_admins(session: Session, *, page: PageRequest | None = None) -> Page:
    """By email; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Admin), (SortKey(Admin.email), SortKey(Admin.id)), page)


def leak_recipients(session: Session) -> list[Admin]:
    """Admins who asked to receive leak notifications."""
    return list(
        session.scalars(select(Admin).where(Admin.notify_leaks.is_(True)).order_by(Admin.id))
    )


def get_admin_by_id(session: Session, admin_id: int) -> Admin:
    admin = session.get(Admin, admin_id)
    if admin is None:
        raise NotFoundError(f"no admin {admin_id}", reason="admin_not_found")
    return admin


def get_admin(session: Session, email: str) -> Admin:
    admin = session.scalar(select(Admin).where(Admin.email == email.strip().lower()))
    if admin is None:
        raise NotFoundError(f"no admin with email {email!r}", reason="admin_not_found")
    return admin


def create_admin(
    session: Session,
    *,
    actor: str,
    name: str,
    email: str,
    notify_leaks: bool = True,
    role: str = "admin",
    caller: Caller = OPERATOR,
) -> Admin:
    """Add a workspace admin with a console role (``viewer``, ``operator`` or ``admin``);
    the console password is set separately.  Only a full admin may."""
    require_everything(caller, what=_PERSON)
    email = validate.email(email, field="email", required=True).lower()
    role = validate.choice(role, CONSOLE_ROLES, field="role")
    if session.scalar(select(Admin.id).where(Admin.email == email)):
        raise ConflictError(f"an admin with email {email!r} exists already", reason="duplicate")
    admin = Admin(name=validate.name(name), email=email, notify_leaks=bool(notify_leaks), role=role)
    session.add(admin)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="admin.create",
        object_type="admin",
        object_id=admin.id,
        summary=email,
        after=serialize.admin(admin),
    )
    return admin


def update_admin(
    session: Session,
    *,
    actor: str,
    email: str,
    notify_leaks=UNSET,
    role=UNSET,
    caller: Caller = OPERATOR,
) -> Admin:
    """Change a person's leak emails or console role; the role applies to their next request.

    The last console ``admin`` keeps the role (409 ``last_admin``).
    """
    require_everything(caller, what=_PERSON)
    admin = get_admin(session, email)
    before = serialize.admin(admin)
    if notify_leaks is not UNSET:
        admin.notify_leaks = bool(notify_leaks)
    if role is not UNSET and role != admin.role:
        role = validate.choice(role, CONSOLE_ROLES, field="role")
        if admin.role == "admin":
            require_another_console_admin(session, caller, admin.id)
        admin.role = role
    session.flush()
    changed_role = before["role"] != admin.role
    audit.record(
        session,
        actor=actor,
        action="admin.role" if changed_role else "admin.update",
        object_type="admin",
        object_id=admin.id,
        summary=f"{admin.email}: {before['role']} -> {admin.role}" if changed_role else admin.email,
        before=before,
        after=serialize.admin(admin),
    )
    return admin


def delete_admin(session: Session, *, actor: str, email: str, caller: Caller = OPERATOR) -> None:
    require_everything(caller, what=_PERSON)
    admin = get_admin(session, email)
    if admin.role == "admin":
        require_another_console_admin(session, caller, admin.id)
    audit.record(
        session,
        actor=actor,
        action="admin.delete",
        object_type="admin",
        object_id=admin.id,
        summary=admin.email,
        before=serialize.admin(admin),
    )
    browser_sessions.end_all(session, kind="admin", person_id=admin.id)
    session.delete(admin)
    session.flush()


def set_password(session: Session, *, actor: str, email: str, password: str) -> Admin:
    """Give an admin a console password; only its scrypt hash is stored.

    Every console session of the admin ends: whoever held the old password, or a
    cookie copied under it, must sign in again with the new one.
    """
    admin = get_admin(session, email)
    admin.password_hash = passwords.hash_password(passwords.check_strength(password))
    browser_sessions.end_all(session, kind="admin", person_id=admin.id)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="admin.password",
        object_type="admin",
        object_id=admin.id,
        summary=admin.email,
    )
    return admin


def authenticate(session: Session, *, email: str, password: str) -> Admin | None:
    """The admin these credentials belong to, or None (same cost either way)."""
    admin = session.scalar(select(Admin).where(Admin.email == str(email).strip().lower()))
    return passwords.matching(admin, password)
