"""Redis failures as Keyward errors, so callers handle one family of exceptions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis

from keystore.errors import UnavailableError


@contextmanager
def redis_calls(doing: str) -> Iterator[None]:
    """Turn any Redis error inside the block into ``UnavailableError(reason="redis_unavailable")``.

    The web layer chooses what that means (fail closed with a 503, or let the
    request through uncounted); the store does not guess.
    """
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise UnavailableError(
            f"Redis did not answer while {doing} ({type(exc).__name__})",
            reason="redis_unavailable",
        ) from exc
