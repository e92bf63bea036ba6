"""Environments, projects and the endpoint catalogue (the operator's API, declared as data)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from keystore import key_age, serialize, validate
from keystore.decision_cache import DecisionCache, cached
from keystore.errors import ConflictError, NotFoundError, ValidationError
from keystore.models import LEAK_ACTIONS, Endpoint, Environment, Project, Role
from keystore.paging import Page, PageRequest, SortKey, fetch_page
from keystore.privileges import (
    OPERATOR,
    Caller,
    Grants,
    keeping_an_admin,
    require_endpoints,
    require_within,
)
from keystore.services import audit
from keystore.tokens import is_valid_env_tag

ADMIN_SECTION = "Keyward admin API"
# Reserved for Keyward's own endpoints, so nobody can declare a look-alike of a future builtin.
RESERVED_PREFIX = "keyward."
# Keyward's own admin API is guarded by the same roles as the operator's API.
BUILTIN_ENDPOINTS = {
    "keyward.catalogue.read": "Read environments, projects and the endpoint catalogue",
    "keyward.catalogue.write": "Change environments, projects and the endpoint catalogue",
    "keyward.roles.read": "Read client roles",
    "keyward.roles.write": "Create, change and delete client roles",
    "keyward.clients.read": "Read API clients",
    "keyward.clients.write": "Create, change, enable, disable and delete API clients",
    "keyward.keys.read": "Read API keys (never their tokens)",
    "keyward.keys.write": "Issue, regenerate, deactivate, revoke and delete API keys",
    "keyward.admins.read": "Read workspace admins",
    "keyward.admins.write": "Manage workspace admins",
    "keyward.audit.read": "Read the audit trail",
    "keyward.usage.read": "Read usage figures",
    "keyward.incidents.read": "Read leak incidents",
    "keyward.incidents.write": "Act on leak incidents and pick up replacement tokens",
    "keyward.repositories.read": "Read watched repositories and scan runs",
    "keyward.repositories.write": "Manage watched repositories and start scans",
    "keyward.webhooks.read": "Read the outgoing webhooks of leak notifications (never secrets)",
    "keyward.webhooks.write": "Add, test and remove outgoing webhooks of leak notifications",
    "keyward.issuers.read": "Read trusted OpenID Connect issuers",
    "keyward.issuers.write": "Register, enable, disable and remove trusted OpenID Connect issuers",
}


def ensure_builtin_endpoints(session: Session) -> int:
    """Add the builtin endpoints a newer Keyward declares; return how many were added."""
    present = set(session.scalars(select(Endpoint.name).where(Endpoint.builtin.is_(True))))
    missing = [name for name in BUILTIN_ENDPOINTS if name not in present]
    added = [
        Endpoint(
            name=name, section=ADMIN_SECTION, description=BUILTIN_ENDPOINTS[name], builtin=True
        )
        for name in missing
    ]
    session.add_all(added)
    session.flush()
    if missing and present:
        _complete_full_roles(session, present)
    return len(missing)


def _complete_full_roles(session: Session, previous: set[str]) -> None:
    # A role that held every builtin keeps doing so when a newer Keyward adds one.
    builtins = list(session.scalars(select(Endpoint).where(Endpoint.builtin.is_(True))))
    for role in session.scalars(select(Role)):
        if previous <= {ep.name for ep in role.endpoints}:
            merged = {ep.name: ep for ep in [*role.endpoints, *builtins]}
            role.endpoints = sorted(merged.values(), key=lambda ep: ep.name)
    session.flush()


def list_environments(session: Session, *, page: PageRequest | None = None) -> Page:
    """In creation order; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Environment), (SortKey(Environment.id),), page)


def get_environment(session: Session, tag: str) -> Environment:
    env = session.scalar(select(Environment).where(Environment.tag == tag))
    if env is None:
        raise NotFoundError(f"no environment with tag {tag!r}", reason="environment_not_found")
    return env


def create_environment(
    session: Session,
    *,
    actor: str,
    tag: str,
    name: str,
    allows_dev_only: bool = False,
    leak_action: str = "revoke",
    max_key_age_days: int | None = None,
) -> Environment:
    """Declare an environment; its tag becomes part of every token issued in it."""
    if not isinstance(tag, str) or not is_valid_env_tag(tag):
        raise ValidationError("tag must match [a-z][a-z0-9]{0,7}", field="tag")
    if session.scalar(select(Environment.id).where(Environment.tag == tag)):
        raise ConflictError(f"environment {tag!r} exists already", reason="duplicate")
    env = Environment(
        tag=tag,
        name=validate.name(name),
        allows_dev_only=bool(allows_dev_only),
        leak_action=validate.choice(leak_action, LEAK_ACTIONS, field="leak_action"),
        max_key_age_days=key_age.check_days(max_key_age_days),
    )
    session.add(env)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="environment.create",
        object_type="environment",
        object_id=env.id,
        summary=env.tag,
        after=serialize.environment(env),
    )
    return env


def update_environment(
    session: Session, *, actor: str, tag: str, caller: Caller = OPERATOR, **changes
) -> Environment:
    """Change an environment's name, dev-only rule, leak action or maximum key age.

    Applies from the next request on: a shorter maximum age expires the keys already
    older than it at once (the decision judges age at request time), but never the last
    working full admin's (409 ``last_admin``).  The tag is part of every token issued in
    the environment, so it never changes.  Only a caller holding the environment: the
    change applies to every client there.
    """
    env = get_environment(session, tag)
    require_within(caller, Grants(environments=frozenset({env.tag})), what="the environment")
    before = serialize.environment(env)
    checks = {
        "name": validate.name,
        "allows_dev_only": _boolean,
        "leak_action": lambda v: validate.choice(v, LEAK_ACTIONS, field="leak_action"),
        "max_key_age_days": key_age.check_days,
    }
    unknown = sorted(set(changes) - set(checks))
    if unknown:
        raise ValidationError(f"unknown field {unknown[0]!r}", field=unknown[0])
    with keeping_an_admin(session, caller):
        for field, value in changes.items():
            setattr(env, field, checks[field](value))
    audit.record(
        session,
        actor=actor,
        action="environment.update",
        object_type="environment",
        object_id=env.id,
        summary=env.tag,
        before=before,
        after=serialize.environment(env),
    )
    return env


def _boolean(value) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("allows_dev_only must be true or false", field="allows_dev_only")
    return value


def list_projects(session: Session, *, page: PageRequest | None = None) -> Page:
    """By name; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Project), (SortKey(Project.name), SortKey(Project.id)), page)


def get_project(session: Session, name: str) -> Project:
    proj = session.scalar(select(Project).where(Project.name == name))
    if proj is None:
        raise NotFoundError(f"no project named {name!r}", reason="project_not_found")
    return proj


def create_project(session: Session, *, actor: str, name: str, description: str = "") -> Project:
    name = validate.name(name)
    if session.scalar(select(Project.id).where(Project.name == name)):
        raise ConflictError(f"project {name!r} exists already", reason="duplicate")
    proj = Project(name=name, description=validate.text(description))
    session.add(proj)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="project.create",
        object_type="project",
        object_id=proj.id,
        summary=proj.name,
        after=serialize.project(proj),
    )
    return proj


def delete_project(session: Session, *, actor: str, name: str, caller: Caller = OPERATOR) -> None:
    """Delete a project; clients lose it at once, so requests naming it are refused.

    Only a caller holding the project: nobody takes away what it does not hold.
    """
    proj = get_project(session, name)
    require_within(caller, Grants(projects=frozenset({proj.name})), what="the project")
    audit.record(
        session,
        actor=actor,
        action="project.delete",
        object_type="project",
        object_id=proj.id,
        summary=proj.name,
        before=serialize.project(proj),
    )
    session.delete(proj)
    session.flush()


ENDPOINT_ORDER = (SortKey(Endpoint.section), SortKey(Endpoint.name), SortKey(Endpoint.id))


def list_endpoints(session: Session, *, page: PageRequest | None = None) -> Page:
    """By section and name; everything, or one ``page`` (keystore.paging)."""
    return fetch_page(session, select(Endpoint), ENDPOINT_ORDER, page)


def get_endpoint(session: Session, name: str) -> Endpoint:
    ep = session.scalar(select(Endpoint).where(Endpoint.name == name))
    if ep is None:
        raise NotFoundError(
            f"no endpoint named {name!r} in the catalogue", reason="endpoint_not_found"
        )
    return ep


def declare_endpoint(
    session: Session,
    *,
    actor: str,
    name: str,
    section: str = "",
    description: str = "",
    method: str | None = None,
    path: str | None = None,
    dev_only: bool = False,
) -> Endpoint:
    """Add an endpoint of the operator's API to the catalogue."""
    name = validate.endpoint_name(name)
    if name.lower().startswith(RESERVED_PREFIX):
        raise ValidationError(
            f"endpoint names starting with {RESERVED_PREFIX!r} are Keyward's own",
            field="name",
            reason="reserved_name",
        )
    if session.scalar(select(Endpoint.id).where(Endpoint.name == name)):
        raise ConflictError(f"endpoint {name!r} exists already", reason="duplicate")
    method, path = _http_shape(method, path)
    ep = Endpoint(
        name=name,
        section=validate.text(section, field="section", max_length=100),
        description=validate.text(description),
        method=method,
        path=path,
        dev_only=bool(dev_only),
    )
    session.add(ep)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="endpoint.create",
        object_type="endpoint",
        object_id=ep.id,
        summary=ep.name,
        after=serialize.endpoint(ep),
    )
    return ep


def delete_endpoint(session: Session, *, actor: str, name: str, caller: Caller = OPERATOR) -> None:
    """Remove an endpoint; every role loses it at once.  Builtins cannot be removed.

    Only a caller holding the endpoint: removing one can hand its requests to a broader
    pattern, and nobody takes away what it does not hold.
    """
    ep = get_endpoint(session, name)
    if ep.builtin:
        raise ValidationError("builtin endpoints cannot be removed", reason="builtin", field="name")
    require_endpoints(caller, [ep.name], what="the endpoint")
    audit.record(
        session,
        actor=actor,
        action="endpoint.delete",
        object_type="endpoint",
        object_id=ep.id,
        summary=ep.name,
        before=serialize.endpoint(ep),
    )
    session.delete(ep)
    session.flush()


def _http_shape(method, path) -> tuple[str | None, str | None]:
    if method is None and path is None:
        return None, None
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 500:
        raise ValidationError("path must start with / (e.g. /orders/{id})", field="path")
    method = (method or "*").upper()
    validate.choice(method, validate.HTTP_METHODS, field="method")
    return method, path


def match_endpoint(
    session: Session, *, method: str, uri: str, cache: DecisionCache | None = None
) -> str | None:
    """The catalogue endpoint whose method and path pattern fit a request, most specific first.

    For gateways that only know the original method and URI (nginx ``auth_request``).  The
    patterns are read and compiled once per change of the catalogue when ``cache`` is given.
    """
    path = uri.split("?", 1)[0].split("#", 1)[0] or "/"
    method = method.upper()
    routes = cached(cache, session, ("catalogue",), lambda: _routes(session))
    fitting = [
        (route.rank, route.name)
        for route in routes
        if route.method in ("*", method) and route.pattern.match(path)
    ]
    return max(fitting)[1] if fitting else None


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    method: str
    pattern: re.Pattern
    # Most specific first: an exact method, then the longest literal path.
    rank: tuple[bool, int]


def _routes(session: Session) -> tuple[Route, ...]:
    rows = session.execute(
        select(Endpoint.name, Endpoint.method, Endpoint.path).where(Endpoint.path.is_not(None))
    )
    return tuple(
        Route(
            name=row.name,
            method=row.method,
            pattern=_path_regex(row.path),
            rank=(row.method != "*", len(_PLACEHOLDER_RE.sub("", row.path))),
        )
        for row in rows
    )


_PLACEHOLDER_RE = re.compile(r"\{[^/{}]+\}")


@lru_cache(maxsize=1024)
def _path_regex(pattern: str) -> re.Pattern:
    # {name} matches one path segment; everything else is literal.
    parts = _PLACEHOLDER_RE.split(pattern)
    return re.compile("\\A" + "[^/]+".join(re.escape(p) for p in parts) + "/?\\Z")
