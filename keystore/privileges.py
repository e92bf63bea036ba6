"""Privilege containment: nobody creates, changes or obtains a credential with more than it holds.

The one rule, called by every service that hands out or changes privileges, whatever the
surface (admin API, console, portal, CLI, leak response):

* A **caller** holds **grants**: endpoint names, environment tags and project names.  An API
  client holds its role's endpoints (its own and those of its API collections), its
  environments and its projects; a portal account holds
  its own client's.  A *full admin* client (its role holds every builtin ``keyward.*``
  endpoint) stands for the operator and holds everything, as do the console's people and the
  CLI's operator: each could create a role and a client with anything in them anyway.
* A caller acts on a client (edit, enable, disable, delete it; issue, change, regenerate,
  deactivate, revoke or delete one of its keys, mint a JWT for one, pick up its replacement
  token) only if that client's grants, before and after, are within its own.  A role is created
  or changed only with endpoints the caller holds, and only while every client holding it is
  within the caller's grants.  A collection grants through its roles, so granting one is
  granting its endpoints, and changing one changes every role granting it: it is created,
  changed or granted only by a caller holding its endpoints (before and after) and every
  client of every role granting it, never by a client whose own role grants it.
* A client never changes its own role, environments, projects, limits or policy, nor the role
  it holds (nor a collection that role grants, nor a policy it or its keys are under).
* The last **working full admin** (an enabled client whose role holds every builtin endpoint,
  with an active, unexpired key in an environment it may reach) is never deleted, disabled,
  demoted or left without a working key: 409 ``last_admin``.  The CLI's operator may force it
  (``keyward --force-last-admin``); the leak response always may, because a leaked token must
  stop working (``keyward bootstrap --new-key`` then issues the admin a new one).

Address rules, expiry and per-key limits are hygiene the holder of a key may add (the portal
sets them too), so they are not compared.  A refusal changes nothing: it is raised before the
change, or the change is undone in its savepoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from keystore import key_age
from keystore.errors import ConflictError, ForbiddenError, UnavailableError
from keystore.models import Admin, ApiKey, Client, Endpoint, Environment, KeyToken
from keystore.models.catalogue import collection_endpoints, role_collections, role_endpoints
from keystore.models.clients import client_environments

# What a client may not change about itself (serialize.client's names).
OWN_FIELDS = ("role", "environments", "projects", "limits", "policy")
# The role `keyward bootstrap` creates and completes with every builtin: only those who hold
# everything may give a role this name, or bootstrap would promote a squatter's clients.
ADMIN_ROLE = "keyward-admin"
# Serialises the changes the last-admin rule judges (PostgreSQL), so two concurrent ones
# cannot each leave "one other" admin; an arbitrary constant, and a bounded wait.
_GUARD_LOCK_ID = 0x4B57_4144
_GUARD_LOCK_TIMEOUT = "5s"


@dataclass(frozen=True)
class Grants:
    """What a credential may reach; ``everything`` stands for the operator (now and later)."""

    endpoints: frozenset[str] = frozenset()
    environments: frozenset[str] = frozenset()
    projects: frozenset[str] = frozenset()
    everything: bool = False

    def lacking(self, other: Grants) -> str | None:
        """The first thing ``other`` holds that these grants do not, or None if they cover it."""
        if self.everything:
            return None
        if other.everything:
            return "every privilege"
        for kind, mine, theirs in (
            ("endpoint", self.endpoints, other.endpoints),
            ("environment", self.environments, other.environments),
            ("project", self.projects, other.projects),
        ):
            extra = sorted(theirs - mine)
            if extra:
                return f"{kind} {extra[0]!r}"
        return None


EVERYTHING = Grants(everything=True)


@dataclass(frozen=True)
class Caller:
    """Who asks a service for a change, described by what it holds (no Flask, no session)."""

    grants: Grants
    # The client whose credential acts (admin API, portal); None for people and the operator.
    client_id: int | None = None
    role_id: int | None = None
    # The operator's explicit wish to remove the last working full admin anyway.
    force: bool = False


OPERATOR = Caller(EVERYTHING)
LEAK_RESPONSE = Caller(EVERYTHING, force=True)


def operator(*, force: bool = False) -> Caller:
    """The CLI's operator or a console admin: holds everything, bound by the last-admin rule."""
    return Caller(EVERYTHING, force=force)


def grants_of(client: Client) -> Grants:
    """What a client holds, as stored now."""
    granted = client.role.granted_endpoints if client.role else ()
    return Grants(
        endpoints=frozenset(ep.name for ep in granted),
        environments=frozenset(env.tag for env in client.environments),
        projects=frozenset(proj.name for proj in client.projects),
    )


def caller_for_client(session: Session, client_id: int) -> Caller:
    """The caller a client's credential makes: its own grants, or everything for a full admin."""
    client = session.get(Client, client_id)
    if client is None:
        # Deleted since its credential was checked: it holds nothing any more.
        return Caller(Grants(), client_id=client_id)
    full = session.scalar(select(holds_every_builtin(client.role_id)))
    return Caller(
        EVERYTHING if full else grants_of(client), client_id=client.id, role_id=client.role_id
    )


def require_within(caller: Caller, grants: Grants, *, what: str) -> None:
    """Refuse (403 ``privilege_exceeded``) unless the caller holds all of ``grants``."""
    lacking = caller.grants.lacking(grants)
    if lacking:
        raise ForbiddenError(
            f"{what} holds {lacking}, which you do not hold; "
            "nobody may grant, use or change more than it holds itself",
            reason="privilege_exceeded",
        )


def require_may_act_on(caller: Caller, client: Client) -> None:
    """Refuse acting on a client that holds something the caller does not."""
    require_within(caller, grants_of(client), what=f"client {client.name!r}")


def require_endpoints(caller: Caller, names, *, what: str) -> None:
    require_within(caller, Grants(endpoints=frozenset(names)), what=what)


def require_everything(caller: Caller, *, what: str) -> None:
    """For what stands for the operator itself (the console's people)."""
    require_within(caller, EVERYTHING, what=what)


def require_role_name(caller: Caller, name: str) -> None:
    if name == ADMIN_ROLE:
        require_everything(caller, what=f"a role named {ADMIN_ROLE!r}")


def require_not_own(
    caller: Caller, client_id: int, before: dict, after: dict, *, fields=OWN_FIELDS
) -> None:
    """Refuse (403 ``own_privileges``) a client changing its own role, environments, projects
    or limits; ``before``/``after`` are :mod:`keystore.serialize` dicts of it or its key."""
    if caller.client_id != client_id:
        return
    for field in fields:
        if before[field] != after[field]:
            raise ForbiddenError(
                f"a client cannot change its own {field}; another admin must",
                reason="own_privileges",
                field=field,
            )


def require_not_own_role(caller: Caller, role_id: int) -> None:
    if caller.client_id is not None and caller.role_id == role_id:
        raise ForbiddenError(
            "a client cannot change or delete the role it holds; another admin must",
            reason="own_privileges",
        )


def keeping_an_admin(session: Session, caller: Caller) -> LastAdminGuard:
    """``with keeping_an_admin(session, caller) as guard:`` around a change; see below."""
    return LastAdminGuard(session, caller)


class LastAdminGuard:
    """Run a change in a savepoint; undo it and refuse (409 ``last_admin``) if it leaves no
    working full admin where there was one.  Judged on the outcome, so every way of demoting
    (delete, disable, role change or deletion, revoking keys ...) is covered alike.

    ``check()`` judges early, so that "last admin" is the reason given before any other.
    """

    def __init__(self, session: Session, caller: Caller) -> None:
        self.session, self.caller = session, caller
        self._had = self._savepoint = None

    def __enter__(self) -> LastAdminGuard:
        if not self.caller.force:
            _serialise(self.session)
            self._had = working_full_admins(self.session) > 0
            self._savepoint = self.session.begin_nested()
        return self

    def check(self) -> None:
        self.session.flush()
        if self._had and working_full_admins(self.session) == 0:
            raise ConflictError(
                "this would leave no client holding every keyward.* endpoint with a working "
                "key, locking everyone out of the admin API; make another client a full admin "
                "first",
                reason="last_admin",
            )

    def __exit__(self, kind, error, traceback) -> None:
        if self._savepoint is None:
            if kind is None:
                self.session.flush()
            return
        if kind is None:
            try:
                self.check()
            except BaseException:
                self._savepoint.rollback()
                raise
            self._savepoint.commit()
        else:
            self._savepoint.rollback()


def require_another_console_admin(session: Session, caller: Caller, person_id: int) -> None:
    """The console's last ``admin`` person is never demoted or removed (409 ``last_admin``):
    nobody could manage people or settings in the console any more.  Serialised like the
    clients' rule; the CLI's operator may force it (``--force-last-admin``)."""
    if caller.force:
        return
    _serialise(session)
    others = session.scalar(
        select(func.count(Admin.id)).where(Admin.role == "admin", Admin.id != person_id)
    )
    if not others:
        raise ConflictError(
            "this is the last console admin: make another person an admin first",
            reason="last_admin",
        )


def _serialise(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        return  # SQLite runs one writer at a time anyway
    try:
        session.execute(text(f"SET LOCAL lock_timeout = '{_GUARD_LOCK_TIMEOUT}'"))
        session.execute(select(func.pg_advisory_xact_lock(_GUARD_LOCK_ID)))
        session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    except OperationalError:
        raise UnavailableError(
            "another change to administrators is in progress; retry", reason="busy"
        ) from None


def working_full_admins(session: Session) -> int:
    """How many enabled full-admin clients have a key that works now (active, unexpired, its
    current token younger than the maximum key age, in an environment the client may reach)."""
    now = datetime.now(UTC)
    reachable = ApiKey.environment_id.in_(
        select(client_environments.c.environment_id).where(
            client_environments.c.client_id == ApiKey.client_id
        )
    )
    max_age = key_age.max_age_column(
        role_id=Client.role_id, environment_days=Environment.max_key_age_days
    )
    keys = session.execute(
        select(Client.id, KeyToken.created_at, max_age)
        .join(ApiKey, ApiKey.client_id == Client.id)
        .join(KeyToken, KeyToken.key_id == ApiKey.id)
        .join(Environment, Environment.id == ApiKey.environment_id)
        .where(
            Client.enabled.is_(True),
            holds_every_builtin(Client.role_id),
            ApiKey.state == "active",
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
            KeyToken.valid_until.is_(None),
            reachable,
        )
    ).all()
    # Age is judged here rather than in SQL: date arithmetic differs between the dialects,
    # and full admins' keys are few.
    return len(
        {
            client_id
            for client_id, issued, days in keys
            if days is None or issued + timedelta(days=days) > now
        }
    )


def holds_every_builtin(role_id):
    # Compared with the catalogue's builtin rows, which migrations keep in step with the code.
    # Held directly or through one of the role's collections: both grant alike.
    builtin = Endpoint.builtin.is_(True)
    total = select(func.count(Endpoint.id)).where(builtin).scalar_subquery()
    direct = select(role_endpoints.c.endpoint_id).where(role_endpoints.c.role_id == role_id)
    collected = select(collection_endpoints.c.endpoint_id).where(
        collection_endpoints.c.collection_id == role_collections.c.collection_id,
        role_collections.c.role_id == role_id,
    )
    held = (
        select(func.count(Endpoint.id))
        .where(builtin, or_(Endpoint.id.in_(direct), Endpoint.id.in_(collected)))
        .scalar_subquery()
    )
    return and_(total > 0, held == total)
