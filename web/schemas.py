"""JSON Schemas of the API's bodies, shared by the OpenAPI document and its tests.

Request bodies live in web.inputs, which also checks them.
"""

from __future__ import annotations

from web.inputs import INPUTS

STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
STR_LIST = {"type": "array", "items": STR}
NULL_INT = {"type": ["integer", "null"]}
NULL_STR = {"type": ["string", "null"]}


def obj(required: list[str], optional: dict | None = None, **props) -> dict:
    return {"type": "object", "required": required, "properties": {**props, **(optional or {})}}


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
SCHEMAS = {
    **INPUTS,
    "Error": obj(["error", "reason", "message"], error=STR, reason=STR, message=STR, field=STR),
    "Limits": LIMITS,
    "Environment": obj(
        ["id", "tag", "name", "allows_dev_only", "leak_action"],
        id=INT,
        tag=STR,
        name=STR,
        allows_dev_only=BOOL,
        leak_action=STR,
        max_key_age_days=NULL_INT,
    ),
    "Project": obj(["id", "name", "description"], id=INT, name=STR, description=STR),
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
    "Role": obj(
        ["id", "name", "endpoints"],
        id=INT,
        name=STR,
        description=STR,
        endpoints=STR_LIST,
        leak_action={"type": ["string", "null"]},
        max_key_age_days=NULL_INT,
    ),
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
        token_issued_at=DATETIME,
        age_days={"type": ["number", "null"]},
        max_key_age_days=NULL_INT,
        expires_by_age_at=DATETIME,
    ),
    "KeyWithToken": {"allOf": [ref("Key"), obj(["token"], token=STR)]},
    "Jwt": obj(["jwt", "expires_at"], jwt=STR, expires_at=DATETIME),
    "Admin": obj(
        ["id", "name", "email", "role", "notify_leaks"],
        id=INT,
        name=STR,
        email=STR,
        role={"enum": ["viewer", "operator", "admin"]},
        notify_leaks=BOOL,
    ),
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
    "AuditPage": obj(
        ["events", "next_cursor"],
        events=array_of("AuditEvent"),
        next_cursor=NULL_STR,
        next_before_id=NULL_INT,
    ),
    "UsageRow": obj(["bucket", "outcome", "count"], bucket=STR, outcome=STR, count=INT),
    "Usage": obj(
        ["granularity", "rows"],
        granularity=STR,
        rows=array_of("UsageRow"),
        client_id=NULL_INT,
        key_id=NULL_INT,
        next_cursor=NULL_STR,
    ),
    "Deleted": obj(["deleted"], deleted={"type": ["string", "integer"]}, clients_affected=STR_LIST),
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
        channel={"enum": ["admin", "client", "webhook"]},
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
        reason={"type": ["string", "null"]},
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
    "Webhook": obj(
        ["id", "name", "kind", "url", "signed", "enabled"],
        id=INT,
        name=STR,
        kind={"enum": ["slack", "json"]},
        url=STR,
        signed=BOOL,
        enabled=BOOL,
        created_by=STR,
        created_at=DATETIME,
    ),
    "WebhookCreated": {
        "allOf": [
            ref("Webhook"),
            obj(["secret"], secret={"type": ["string", "null"]}),
        ]
    },
    "WebhookTest": obj(["delivered"], delivered=BOOL),
    "Live": obj(["status"], status=STR),
    "Health": obj(
        ["status", "verification", "database", "redis"],
        status={"enum": ["ok", "degraded", "unavailable"]},
        verification={"enum": ["full", "unlimited keys only", "none"]},
        database={"enum": ["ok", "unavailable"]},
        redis={"enum": ["ok", "unavailable", "not configured"]},
    ),
}

# The authentication methods' schemas live with them (OAuth, JWKS, client keys, issuers).
from web.schemas_auth import AUTH_SCHEMAS  # noqa: E402

SCHEMAS.update(AUTH_SCHEMAS)
