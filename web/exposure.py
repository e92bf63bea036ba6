"""Who may ask the public port's operator-only endpoints: gateways and metrics scrapers.

``/v1/verify`` and ``/v1/auth`` tell whether a credential is live; ``/metrics``
counts incidents and refusals.  Production refuses to start with the gateway
endpoints open to anyone, unless the operator says so (``KEYWARD_GATEWAY_OPEN``),
and warns when ``/metrics`` is open.  Shared secrets are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging

from keystore.config import Settings
from keystore.errors import ConfigError, KeywardError

log = logging.getLogger("keyward.web")


class Unauthenticated(KeywardError):
    status = 401
    error = "unauthorized"


def secret_matches(given: str | None, expected: str) -> bool:
    """Constant time whatever was sent: equal-length digests are compared, not the strings."""
    given_digest = hashlib.sha256((given or "").encode("utf-8", "surrogatepass")).digest()
    expected_digest = hashlib.sha256(expected.encode("utf-8", "surrogatepass")).digest()
    # An empty expected secret never matches (it would let an empty header through).
    return hmac.compare_digest(given_digest, expected_digest) and bool(expected)


def gateway_needs_token(settings: Settings) -> bool:
    """Whether a gateway must show a token: always when one is set, and in production."""
    if settings.gateway_token is not None:
        return True
    return settings.mode == "production" and not settings.gateway_open


def refuse_open_gateway(settings: Settings) -> None:
    """Production without a gateway token starts only if the operator asked for it."""
    if gateway_needs_token(settings) and settings.gateway_token is None:
        raise ConfigError(
            "KEYWARD_GATEWAY_TOKEN is required in production mode: without it anyone may "
            "ask /v1/verify and /v1/auth about any credential (set KEYWARD_GATEWAY_OPEN=true "
            "to serve them open on purpose)"
        )


def check_exposure(settings: Settings) -> None:
    """At start-up: refuse an open gateway in production unless asked, warn about the rest."""
    refuse_open_gateway(settings)
    if settings.mode != "production":
        return
    if settings.gateway_token is None:
        log.warning(
            "KEYWARD_GATEWAY_OPEN=true and no KEYWARD_GATEWAY_TOKEN: "
            "/v1/verify and /v1/auth answer anyone who can reach this port"
        )
    if settings.metrics_token is None:
        log.warning("KEYWARD_METRICS_TOKEN is not set: /metrics answers anyone")
