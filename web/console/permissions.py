"""Who may do what in the console: every route declares the console role it needs.

People who sign in to the console have a role (``keystore.models.CONSOLE_ROLES``):
``viewer`` reads, ``operator`` also manages clients, keys and incidents, ``admin`` does
everything, including people and settings (roles, webhooks, identity providers).  A view
declares its requirement with :func:`needs`, for every method or per method; the console's
guard refuses a person below it (403), and a route that declares nothing is refused to
everyone (a test enumerates the routes, so none ships without a declaration).
"""

from __future__ import annotations

from keystore.errors import ForbiddenError
from keystore.models import CONSOLE_ROLES

PUBLIC = "public"  # the sign-in page: no person yet
RANK = {role: rank for rank, role in enumerate(CONSOLE_ROLES)}


def needs(role: str | None = None, *, get: str | None = None, post: str | None = None):
    """``@needs("operator")`` for every method, or ``@needs(get="viewer", post="admin")``."""
    declared = {"GET": get or role, "POST": post or role}
    for value in declared.values():
        if value is not None and value != PUBLIC and value not in RANK:
            raise ValueError(f"unknown console role {value!r}")

    def mark(view):
        view.console_needs = {method: r for method, r in declared.items() if r}
        return view

    return mark


def requirement(view, method: str) -> str | None:
    """The role ``view`` declares for ``method`` (HEAD as GET), or None if it declares none."""
    declared = getattr(view, "console_needs", None) or {}
    return declared.get("GET" if method == "HEAD" else method)


def may(role: str, needed: str) -> bool:
    return needed == PUBLIC or RANK.get(role, -1) >= RANK[needed]


def check(role: str, needed: str | None) -> None:
    """Refuse (403 ``console_role``) unless ``role`` reaches ``needed``."""
    if needed is None:
        raise ForbiddenError(
            "this page declares no console role; nobody may use it", reason="undeclared"
        )
    if not may(role, needed):
        raise ForbiddenError(
            f"your console role ({role}) may not do this; it takes {needed}",
            reason="console_role",
        )
