"""Request bodies and parameters: the one description of each input.

web.validation checks every body against it (a 422 naming the field), and the OpenAPI
document (web.schemas, web.openapi) publishes it as is.  The services keep their own
checks as the last line of defence.
"""

from __future__ import annotations

from keystore.validate import HTTP_METHODS, MAX_ID
from rotation.alert_body import MAX_TOKEN_CHARS

BOOL = {"type": "boolean"}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
# No NUL: PostgreSQL cannot store it.  (Lone surrogates, which no UTF-8 encoder takes, are
# refused in any body before this check: web.validation.check_text.)
CLEAN = r"^[^\u0000]*$"


def text(max_length: int, pattern: str = CLEAN, *, nullable: bool = False) -> dict:
    kind = ["string", "null"] if nullable else "string"
    return {"type": kind, "maxLength": max_length, "pattern": pattern}


def whole(low: int, high: int, *, nullable: bool = False) -> dict:
    return {"type": ["integer", "null"] if nullable else "integer", "minimum": low, "maximum": high}


def body(required: list[str], **props) -> dict:
    """An input object: unknown fields are refused, so a typo is never silently ignored."""
    return {
        "type": "object",
        "required": required,
        "properties": props,
        "additionalProperties": False,
    }


# A name: printable, not blank (the services strip surrounding spaces).
# Spelled out, never \s or \w: Python and ECMA regexes (the document's) disagree on those.
_SPACE = r"\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_PRINTABLE = r"[^\u0000-\u001f]"
NAME = {**text(100, rf"^{_PRINTABLE}*[^{_SPACE}]{_PRINTABLE}*$"), "minLength": 1}
DESCRIPTION = text(2000)
_NOT_AT = rf"[^@{_SPACE}]"
EMAIL = text(254, rf"^{_NOT_AT}+@{_NOT_AT}+\.{_NOT_AT}+$")
ENV_TAG = text(8, "^[a-z][a-z0-9]{0,7}$")
ENDPOINT_NAME = text(120, "^[A-Za-z][A-Za-z0-9_.:/-]{0,119}$")
LEAK_ACTION = {"enum": ["revoke", "regenerate", "notify_only"]}
# Periodic refresh: keys older than this many days are refused as expired (null: never).
MAX_KEY_AGE = {
    **whole(1, 3650, nullable=True),
    "description": "maximum key age in days (the current token's age); null for none",
}
CONSOLE_ROLE = {"enum": ["viewer", "operator", "admin"]}
# An address or CIDR range, IPv4 or IPv6 (a format of our own: web.validation checks it).
IP_RULES = {"type": "array", "maxItems": 100, "items": {"type": "string", "format": "ip-network"}}
FUTURE = {
    "type": ["string", "null"],
    "format": "date-time",
    "maxLength": 64,
    "description": "ISO 8601 with a time zone, in the future",
}


# Path and query parameters (web.guards refuses NUL and absurd lengths for all of them).
PATH_TEXT = text(200)
QUERY_TEXT = text(1000)
DATE_TIME = {"type": "string", "format": "date-time", "maxLength": 64}


def query_schema(kind: str | dict) -> dict:
    """A query parameter's schema: a full one, or "string"/"integer" for the usual bounds."""
    if isinstance(kind, dict):
        return kind
    return ID if kind == "integer" else QUERY_TEXT


_LIMIT = whole(1, 10**9, nullable=True)
LIMITS_INPUT = {
    **body(
        [],
        rate_limit=_LIMIT,
        rate_window_seconds=_LIMIT,
        quota_daily=_LIMIT,
        quota_monthly=_LIMIT,
    ),
    "description": "null removes a limit; rate_limit and rate_window_seconds go together",
    "dependentRequired": {
        "rate_limit": ["rate_window_seconds"],
        "rate_window_seconds": ["rate_limit"],
    },
}
_CLIENT_FIELDS = {
    "name": NAME,
    "description": text(2000, nullable=True),
    "contact_email": {"anyOf": [EMAIL, {"enum": ["", None]}]},
    "role": {"anyOf": [NAME, ID, {"type": "null"}]},
    "environments": {"type": "array", "maxItems": 100, "items": ENV_TAG},
    "projects": {"type": "array", "maxItems": 1000, "items": NAME},
    "enabled": BOOL,
    "limits": ref("LimitsInput"),
}
_KEY_FIELDS = {
    "name": NAME,
    "allowed_ips": IP_RULES,
    "blocked_ips": IP_RULES,
    "expires_at": FUTURE,
    "limits": ref("LimitsInput"),
}
_ROLE_FIELDS = {
    "name": NAME,
    "description": text(2000, nullable=True),
    "endpoints": {"type": "array", "maxItems": 1000, "items": ENDPOINT_NAME},
    "leak_action": {"enum": [*LEAK_ACTION["enum"], None]},
    "max_key_age_days": MAX_KEY_AGE,
}
_REPOSITORY_FIELDS = {
    "url": text(
        500,
        rf"^((https?|ssh|git|file)://[^{_SPACE}]+|[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+:[^{_SPACE}]+)$",
    ),
    "branches": {
        "type": "array",
        "maxItems": 100,
        "items": {**text(200, r"^[A-Za-z0-9._/-]*\*?[A-Za-z0-9._/-]*$"), "minLength": 1},
    },
    "interval_seconds": whole(60, 30 * 24 * 3600),
    "credentials_env": text(80, r"^(KEYWARD_REPO_TOKEN_[A-Z0-9_]{1,60})?$", nullable=True),
    "enabled": BOOL,
}

INPUTS = {
    "EnvironmentInput": body(
        ["tag", "name"],
        tag=ENV_TAG,
        name=NAME,
        allows_dev_only=BOOL,
        leak_action=LEAK_ACTION,
        max_key_age_days=MAX_KEY_AGE,
    ),
    "EnvironmentUpdate": body(
        [],
        name=NAME,
        allows_dev_only=BOOL,
        leak_action=LEAK_ACTION,
        max_key_age_days=MAX_KEY_AGE,
    ),
    "ProjectInput": body(["name"], name=NAME, description=DESCRIPTION),
    "EndpointInput": {
        **body(
            ["name"],
            name=ENDPOINT_NAME,
            section=text(100),
            description=DESCRIPTION,
            method={"enum": [*HTTP_METHODS, None]},
            path={**text(500, r"^/[^\u0000]*$", nullable=True)},
            dev_only=BOOL,
        ),
        # A method means nothing without a path to go with it.
        "if": {"required": ["method"], "properties": {"method": {"type": "string"}}},
        "then": {"required": ["path"], "properties": {"path": {"type": "string"}}},
    },
    "RoleCreate": body(["name"], **_ROLE_FIELDS),
    "RoleInput": body([], **_ROLE_FIELDS),
    "ClientCreate": body(["name"], **_CLIENT_FIELDS),
    "ClientInput": body([], **_CLIENT_FIELDS),
    "LimitsInput": LIMITS_INPUT,
    "KeyCreate": body(["name", "environment"], environment=ENV_TAG, **_KEY_FIELDS),
    "KeyInput": body([], **_KEY_FIELDS),
    "RegenerateInput": body([], grace_seconds=whole(0, 86400, nullable=True)),
    "JwtInput": body([], ttl_seconds=whole(1, 86400, nullable=True)),
    "AdminInput": body(
        ["name", "email"], name=NAME, email=EMAIL, notify_leaks=BOOL, role=CONSOLE_ROLE
    ),
    "AdminUpdate": body([], notify_leaks=BOOL, role=CONSOLE_ROLE),
    "VerifyInput": body(
        ["token", "endpoint"],
        token=text(4096),
        endpoint=text(200),
        environment=text(100, nullable=True),
        project=text(100, nullable=True),
        address={"type": ["string", "null"], "maxLength": 64, "format": "ip-address"},
    ),
    "RevokeRequest": body(
        ["credentials"],
        credentials={
            "type": "array",
            "minItems": 1,
            "maxItems": 1000,
            "items": text(MAX_TOKEN_CHARS),
        },
    ),
    "WebhookInput": body(
        ["name", "kind", "url"],
        name=NAME,
        kind={"enum": ["slack", "json"]},
        url=text(2000, r"^[!-~]+$"),  # printable ASCII, no spaces (the service checks the rest)
    ),
    "RepositoryCreate": body(
        ["url"], **{k: v for k, v in _REPOSITORY_FIELDS.items() if k != "enabled"}
    ),
    "RepositoryInput": body([], **{k: v for k, v in _REPOSITORY_FIELDS.items() if k != "url"}),
}
