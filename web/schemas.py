"""JSON Schemas of the API's bodies, shared by the OpenAPI document and its tests."""

from __future__ import annotations

from keystore.validate import HTTP_METHODS, MAX_ID

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
STR_LIST = {"type": "array", "items": STR}
NULL_INT = {"type": ["integer", "null"]}


def obj(required: list[str], optional: dict | None = None, **props) -> dict:
    return {"type": "object", "required": required, "properties": {**props, **(optional or {})}}


# Request bodies: the one description of each input.  web.validation checks every body
# against it (422 naming the field), and the OpenAPI document publishes it as is.
# The services keep their own checks as the last line of defence.
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
    return {**obj(required, **props), "additionalProperties": False}


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


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> dict:
    return {"type": "array", "items": ref(name)}


LIMITS = obj(
    [],
    rate_limit=NULL_INT,
    rate_window_seconds=NULL_INT,
    quota_daily=NULL_INT,
    quota_monthly=NULL_INT,
)
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

SCHEMAS = {
    "Error": obj(["error", "reason", "message"], error=STR, reason=STR, message=STR, field=STR),
    "Limits": LIMITS,
    "Environment": obj(
        ["id", "tag", "name", "allows_dev_only", "leak_action"],
        id=INT,
        tag=STR,
        name=STR,
        allows_dev_only=BOOL,
        leak_action=STR,
    ),
    "EnvironmentInput": body(
        ["tag", "name"],
        tag=ENV_TAG,
        name=NAME,
        allows_dev_only=BOOL,
        leak_action=LEAK_ACTION,
    ),
    "Project": obj(["id", "name", "description"], id=INT, name=STR, description=STR),
    "ProjectInput": body(["name"], name=NAME, description=DESCRIPTION),
    "Endpoint": obj(
        ["id", "name", "section", "dev_only", "builtin"],
        id=INT,
        name=STR,
        section=STR,
        description=STR,
        method={"type": ["string", "null"]},
        path={"type": ["string", "null"]},
        dev_only=BOOL,
        builtin=BOOL,
    ),
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
    "Role": obj(
        ["id", "name", "endpoints"],
        id=INT,
        name=STR,
        description=STR,
        endpoints=STR_LIST,
        leak_action={"type": ["string", "null"]},
    ),
    "RoleCreate": body(["name"], **_ROLE_FIELDS),
    "RoleInput": body([], **_ROLE_FIELDS),
    "Client": obj(
        ["id", "name", "enabled", "environments", "projects", "limits"],
        id=INT,
        name=STR,
        description=STR,
        contact_email=STR,
        role={"type": ["string", "null"]},
        enabled=BOOL,
        environments=STR_LIST,
        projects=STR_LIST,
        limits=ref("Limits"),
        created_at=DATETIME,
    ),
    "ClientCreate": body(["name"], **_CLIENT_FIELDS),
    "ClientInput": body([], **_CLIENT_FIELDS),
    "LimitsInput": LIMITS_INPUT,
    "Key": obj(
        ["id", "client_id", "name", "environment", "hint", "state"],
        id=INT,
        client_id=INT,
        name=STR,
        environment=STR,
        hint=STR,
        state={"enum": ["active", "inactive", "revoked"]},
        allowed_ips=STR_LIST,
        blocked_ips=STR_LIST,
        expires_at=DATETIME,
        limits=ref("Limits"),
        last_used_at=DATETIME,
        last_used_ip={"type": ["string", "null"]},
        created_at=DATETIME,
        revoked_at=DATETIME,
    ),
    "KeyWithToken": {"allOf": [ref("Key"), obj(["token"], token=STR)]},
    "KeyCreate": body(["name", "environment"], environment=ENV_TAG, **_KEY_FIELDS),
    "KeyInput": body([], **_KEY_FIELDS),
    "RegenerateInput": body([], grace_seconds=whole(0, 86400, nullable=True)),
    "JwtInput": body([], ttl_seconds=whole(1, 86400, nullable=True)),
    "Jwt": obj(["jwt", "expires_at"], jwt=STR, expires_at=DATETIME),
    "Admin": obj(
        ["id", "name", "email", "notify_leaks"], id=INT, name=STR, email=STR, notify_leaks=BOOL
    ),
    "AdminInput": body(["name", "email"], name=NAME, email=EMAIL, notify_leaks=BOOL),
    "AuditEvent": obj(
        ["id", "at", "actor", "action", "object_type", "object_id"],
        id=INT,
        at=DATETIME,
        actor=STR,
        action=STR,
        object_type=STR,
        object_id=STR,
        summary=STR,
        before={"type": ["object", "null"]},
        after={"type": ["object", "null"]},
    ),
    "AuditPage": obj(["events"], events=array_of("AuditEvent"), next_before_id=NULL_INT),
    "UsageRow": obj(["bucket", "outcome", "count"], bucket=STR, outcome=STR, count=INT),
    "Usage": obj(
        ["granularity", "rows"],
        granularity=STR,
        rows=array_of("UsageRow"),
        client_id=NULL_INT,
        key_id=NULL_INT,
    ),
    "Deleted": obj(["deleted"], deleted={"type": ["string", "integer"]}, clients_affected=STR_LIST),
    "VerifyInput": body(
        ["token", "endpoint"],
        token=text(4096),
        endpoint=text(200),
        environment=text(100, nullable=True),
        project=text(100, nullable=True),
        address={"type": ["string", "null"], "maxLength": 64, "format": "ip-address"},
    ),
    "RateLimitState": obj(
        [],
        limit=NULL_INT,
        remaining=NULL_INT,
        reset_seconds=NULL_INT,
        retry_after=NULL_INT,
        policy={"type": ["string", "null"]},
    ),
    "Verdict": obj(
        ["allowed", "reason"],
        allowed=BOOL,
        reason=STR,
        credential=STR,
        client_id=NULL_INT,
        key_id=NULL_INT,
        key_hint={"type": ["string", "null"]},
        environment={"type": ["string", "null"]},
        rate_limit={"oneOf": [ref("RateLimitState"), {"type": "null"}]},
    ),
    "PartnerAlert": {
        "type": "array",
        "items": obj(
            ["token"],
            token=STR,
            type=STR,
            url={"type": ["string", "null"]},
            source={"type": ["string", "null"]},
        ),
    },
    "PartnerFeedback": {
        "type": "array",
        "items": obj(
            ["token_hash", "token_type", "label"],
            token_hash=STR,
            token_type=STR,
            label={"enum": ["true_positive", "false_positive"]},
        ),
    },
    "RevokeRequest": body(
        ["credentials"],
        credentials={"type": "array", "minItems": 1, "maxItems": 1000, "items": text(4096)},
    ),
    "Accepted": obj(["message"], message=STR),
    "Occurrence": obj(
        ["origin", "url", "source", "received_at"],
        id=INT,
        origin=STR,
        token_type=STR,
        url=STR,
        source=STR,
        received_at=DATETIME,
    ),
    "Notification": obj(
        ["recipient", "state"],
        recipient=STR,
        state=STR,
        attempts=INT,
        sent_at=DATETIME,
        last_error={"type": ["string", "null"]},
    ),
    "Incident": obj(
        ["id", "state", "key_id", "client_id", "token_hint"],
        id=INT,
        state=STR,
        key_id=INT,
        client_id=INT,
        token_hint=STR,
        first_origin=STR,
        action={"type": ["string", "null"]},
        action_detail=STR,
        replacement_hint={"type": ["string", "null"]},
        replacement_ready=BOOL,
        replacement_picked_up_at=DATETIME,
        received_at=DATETIME,
        owner_found_at=DATETIME,
        acted_at=DATETIME,
        notified_at=DATETIME,
        attempts=INT,
        occurrence_count=INT,
    ),
    "IncidentDetail": {
        "allOf": [
            ref("Incident"),
            obj(
                ["occurrences", "notifications"],
                occurrences=array_of("Occurrence"),
                notifications=array_of("Notification"),
            ),
        ]
    },
    "Replacement": obj(
        ["incident_id", "key_id", "hint", "token"], incident_id=INT, key_id=INT, hint=STR, token=STR
    ),
    "Repository": obj(
        ["id", "url", "branches", "interval_seconds", "enabled"],
        id=INT,
        url=STR,
        branches=STR_LIST,
        interval_seconds=INT,
        credentials_env={"type": ["string", "null"]},
        enabled=BOOL,
        last_scan_at=DATETIME,
        next_scan_at=DATETIME,
    ),
    "RepositoryCreate": body(
        ["url"], **{k: v for k, v in _REPOSITORY_FIELDS.items() if k != "enabled"}
    ),
    "RepositoryInput": body([], **{k: v for k, v in _REPOSITORY_FIELDS.items() if k != "url"}),
    "ScanRun": obj(
        ["id", "repository_id", "status", "trigger"],
        id=INT,
        repository_id=INT,
        trigger=STR,
        status=STR,
        started_at=DATETIME,
        finished_at=DATETIME,
        full_scan=BOOL,
        objects_read=INT,
        findings_count=INT,
        ours_count=INT,
        error={"type": ["string", "null"]},
        findings={
            "type": "array",
            "items": obj(
                ["kind", "hint", "fingerprint", "ours"],
                kind=STR,
                commit={"type": ["string", "null"]},
                path={"type": ["string", "null"]},
                line={"type": ["integer", "null"]},
                hint=STR,
                fingerprint=STR,
                ours=BOOL,
            ),
        },
    ),
    "Live": obj(["status"], status=STR),
    "Health": obj(["status", "database", "redis"], status=STR, database=STR, redis=STR),
}
