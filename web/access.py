"""The gate every credential passes: decide, apply limits, count usage, measure.

Used by the gateway endpoints and by the admin API's own authentication.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from keystore.db import SessionOnDemand, retrying_read
from keystore.decision import UNAUTHENTICATED, Decision, Request, decide
from keystore.errors import UnavailableError
from keystore.ratelimit import LimitResult, scopes_for
from web.metrics import DECISION_SECONDS, DECISIONS, RATE_LIMIT_HITS, USAGE_LOST
from web.runtime import Runtime

log = logging.getLogger("keyward.web")


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    limit: LimitResult | None = None

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def reason(self) -> str:
        return self.decision.reason

    @property
    def status(self) -> int:
        if self.allowed:
            return 200
        if self.reason in ("rate_limited", "quota_exceeded"):
            return 429
        # "Who are you?" (401) rather than "not this" (403).
        return 401 if self.reason in UNAUTHENTICATED else 403


def check(rt: Runtime, *, surface: str, credential: str | None, request: Request) -> Outcome:
    """Decide on a credential, then enforce rate limits and quotas, then count it."""
    started = time.perf_counter()
    if not credential:
        outcome = Outcome(Decision(False, "missing"))
    else:
        decision = retrying_read(lambda: _decide(rt, credential, request))
        outcome = _limit(rt, decision) if decision.allowed else Outcome(decision)
    _count(rt, outcome, surface=surface, address=request.address)
    DECISION_SECONDS.labels(surface).observe(time.perf_counter() - started)
    return outcome


def _decide(rt: Runtime, credential: str, request: Request) -> Decision:
    with SessionOnDemand(rt.read_sessions) as session:
        return decide(
            session, rt.settings, credential=credential, request=request, cache=rt.decision_cache
        )


def _limit(rt: Runtime, decision: Decision) -> Outcome:
    # Without Redis a limited key is refused (503), never let through unlimited.
    scopes = [scope for scope in scopes_for(decision) if not scope.limits.empty]
    if not scopes:
        return Outcome(decision)
    result = rt.limiter.hit(scopes)
    if result.allowed:
        return Outcome(decision, result)
    RATE_LIMIT_HITS.labels(result.exceeded).inc()
    return Outcome(replace(decision, allowed=False, reason=result.exceeded), result)


def _count(rt: Runtime, outcome: Outcome, *, surface: str, address: str | None) -> None:
    DECISIONS.labels(surface, outcome.reason).inc()
    decision = outcome.decision
    # A stranger's attempt (a forged JWT, a revoked or old token) is counted by reason
    # above, never against the key it names: no usage row, no last use.
    if not decision.authenticated or decision.client_id is None or decision.key_id is None:
        return
    try:
        rt.usage.record(
            client_id=decision.client_id,
            key_id=decision.key_id,
            outcome=outcome.reason,
            address=address,
        )
    except UnavailableError:
        # Usage figures are worth less than the request: count the loss, answer anyway.
        USAGE_LOST.inc()
        log.warning("usage not recorded: Redis unavailable")
