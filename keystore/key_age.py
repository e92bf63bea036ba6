"""Periodic refresh: how old a key is, and when it stops working for its age.

A key's clock is its current token: its age is counted from the moment that token was
issued, so a regeneration (a new token) starts the clock again.  The maximum age comes
from the client's role if it sets one, else from the key's environment; with neither,
keys never age out.  The decision (``keystore.decision``) refuses a token past its
maximum age as ``expired`` at request time; no job is needed for that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from keystore import validate
from keystore.models import ApiKey, Role

# Ten years: longer is "never", which is what no maximum says.
MAX_DAYS = 3650


@dataclass(frozen=True)
class KeyAge:
    issued_at: datetime | None  # the current token's issue time
    max_age_days: int | None
    expires_at: datetime | None  # when the key expires by age (None: it never does)

    def age_days(self, now: datetime | None = None) -> float | None:
        if self.issued_at is None:
            return None
        return ((now or datetime.now(UTC)) - self.issued_at).total_seconds() / 86400


def max_age_days(*, environment_days: int | None, role_days: int | None) -> int | None:
    """The role's maximum if it sets one, else the environment's."""
    return role_days if role_days is not None else environment_days


def max_age_column(*, role_id, environment_days):
    """The same rule in SQL, for the decision's one query and the reminder scan."""
    role_days = select(Role.max_key_age_days).where(Role.id == role_id).scalar_subquery()
    return func.coalesce(role_days, environment_days)


def expiry(issued_at: datetime | None, days: int | None) -> datetime | None:
    if issued_at is None or days is None:
        return None
    return issued_at + timedelta(days=days)


def of_key(key: ApiKey) -> KeyAge:
    """The age facts of a key (its newest token is the current one)."""
    role = key.client.role
    days = max_age_days(
        environment_days=key.environment.max_key_age_days,
        role_days=role.max_key_age_days if role is not None else None,
    )
    current = max(key.tokens, key=lambda row: row.id or 0, default=None)
    issued_at = current.created_at if current is not None else None
    return KeyAge(issued_at=issued_at, max_age_days=days, expires_at=expiry(issued_at, days))


def check_days(value, *, field: str = "max_key_age_days") -> int | None:
    """A maximum age in whole days (1 to 3650), or None for none."""
    return validate.positive_int(value, field=field, maximum=MAX_DAYS)
