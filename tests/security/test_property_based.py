"""A bounded property-based run of every documented operation, from /api/v1/openapi.json.

Schemathesis generates requests from the document itself, valid ones (positive) and
invalid ones (negative), and sends them to the app in-process (WSGI) as the bootstrap
admin, on SQLite and PostgreSQL.  Checks: never a 5xx, every response as documented
(status and body), invalid requests refused, valid requests not refused.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.fakedns import GITHUB_ADDRESS, dns

__all__ = ["dns"]

EXAMPLES = 5  # per operation and mode: 53 operations x 2 modes x 2 databases, about a minute

# Formats of our own, so generated data exercises them (web.validation checks them).
schemathesis.openapi.format(
    "ip-network",
    st.one_of(st.ip_addresses(), st.ip_addresses(v=4).map(lambda a: f"{a}/24")).map(str),
)
schemathesis.openapi.format("ip-address", st.ip_addresses().map(str))


# URLs the fetch policy allows (github.com is on the host list; both resolve publicly).
URLS = {
    "/api/v1/repositories": "https://github.com/acme/app.git",
    "/api/v1/webhooks": "https://hooks.example.com/keyward",
}
ISSUER = {
    "issuer": "https://hooks.example.com",
    "jwks_url": "https://hooks.example.com/jwks",
    "clients": ["acme"],
}
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def test_every_operation_holds_against_generated_input(
    app, connection, admin_token, world, issue, dns
):
    dns.answers["hooks.example.com"] = [GITHUB_ADDRESS]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.update(headers={"Authorization": f"Bearer {admin_token}"})
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40  # every route of the document, not a subset
    key, _ = issue()
    ids = {"client_id": world.client.id, "key_id": key.id, "role_id": world.role.id}
    seen, failures = Counter(), []
    for operation in operations:
        for mode in MODES:
            try:
                _run(operation, mode, seen, connection, ids)
            except Unsatisfiable:
                continue  # nothing to make invalid: no parameters, no body
            except (Exception, BaseExceptionGroup) as exc:  # report every operation's failure
                failures.append(f"{operation.label} [{mode.value}]: {exc}"[:2000])
    print(f"property-based run: {len(operations)} operations, {sum(seen.values())} requests")
    for status, count in sorted(seen.items()):
        print(f"  {status}: {count}")
    assert not failures, "\n\n".join(failures)
    assert not any(status >= 500 for status in seen)


def _run(operation, mode, seen: Counter, connection, ids: dict) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        grounded(case, ids)
        # Each example starts from the same world: one that deleted the admin's client
        # (a valid request) must not turn every later example into a 401.
        savepoint = connection.begin_nested()
        try:
            response = case.call_and_validate()
        finally:
            savepoint.rollback()
        seen[response.status_code] += 1

    check()


def grounded(case, ids: dict) -> None:
    """Make a valid request valid in this world too: objects and names that exist, a future expiry.

    The document can say what shape a field has, not which environments exist or
    that an expiry lies ahead; without this every valid request would be refused for
    naming nothing, and the run would say nothing about the rest of the body.
    Invalid (negative) requests are sent as generated.
    """
    if not case.meta.generation.mode.is_positive:
        return
    if case.query:  # a cursor is one a previous page gave out, not any string of its alphabet
        case.query.pop("cursor", None)
    for name, value in ids.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    body = case.body
    if not isinstance(body, dict):
        return
    fixed = {
        "environment": "prod",
        "environments": ["prod"],
        "projects": ["shop"],
        "endpoints": ["orders.list"],
        "role": "reader",
        "expires_at": (datetime.now(UTC) + timedelta(days=30)).isoformat(),
    }
    if case.operation.path.startswith("/api/v1/admins"):
        fixed.pop("role")  # a person's console role, which the document's enum already bounds
    for field, value in fixed.items():
        if field in body and body[field] is not None:
            body[field] = value
    if body.get("algorithm") in ("ES256", "RS256"):  # a real key is no shape: take a secret
        body["algorithm"] = "HS256"
        body.pop("public_key", None)
    if "url" in body:  # whether a URL may be fetched is policy and DNS, not its shape
        body["url"] = URLS.get(case.operation.path, body["url"])
    if case.operation.path == "/api/v1/issuers":  # an identity provider that exists
        body.update(ISSUER)
    limits = body.get("limits")
    if isinstance(limits, dict):
        limits.pop("rate_limit", None)
        limits.pop("rate_window_seconds", None)
