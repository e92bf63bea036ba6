"""Plain dicts of the models, for JSON output, the API and audit before/after.

No function here can reach a token: only digests are stored, and those are never shown.
"""

from __future__ import annotations

from datetime import datetime

from keystore import key_age
from keystore.models import (
    Admin,
    ApiKey,
    AuditEvent,
    Client,
    Endpoint,
    Environment,
    Incident,
    Project,
    Role,
    ScanRun,
    WatchedRepository,
    Webhook,
)


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def limits(obj: Client | ApiKey) -> dict:
    return {
        "rate_limit": obj.rate_limit,
        "rate_window_seconds": obj.rate_window_seconds,
        "quota_daily": obj.quota_daily,
        "quota_monthly": obj.quota_monthly,
    }


def environment(env: Environment) -> dict:
    return {
        "id": env.id,
        "tag": env.tag,
        "name": env.name,
        "allows_dev_only": env.allows_dev_only,
        "leak_action": env.leak_action,
        "max_key_age_days": env.max_key_age_days,
    }


def project(proj: Project) -> dict:
    return {"id": proj.id, "name": proj.name, "description": proj.description}


def endpoint(ep: Endpoint) -> dict:
    return {
        "id": ep.id,
        "name": ep.name,
        "section": ep.section,
        "description": ep.description,
        "method": ep.method,
        "path": ep.path,
        "dev_only": ep.dev_only,
        "builtin": ep.builtin,
    }


def role(r: Role) -> dict:
    return {
        "id": r.id,
        "name": r.name,
        "description": r.description,
        "endpoints": [ep.name for ep in r.endpoints],
        "leak_action": r.leak_action,
        "max_key_age_days": r.max_key_age_days,
    }


def client(c: Client) -> dict:
    return {
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "contact_email": c.contact_email,
        "role": c.role.name if c.role else None,
        "enabled": c.enabled,
        "environments": [env.tag for env in c.environments],
        "projects": [p.name for p in c.projects],
        "limits": limits(c),
        "created_at": iso(c.created_at),
    }


def key(k: ApiKey) -> dict:
    return {
        "id": k.id,
        "client_id": k.client_id,
        "name": k.name,
        "environment": k.environment.tag,
        "hint": k.hint,
        "state": k.state,
        "allowed_ips": list(k.allowed_ips),
        "blocked_ips": list(k.blocked_ips),
        "expires_at": iso(k.expires_at),
        "limits": limits(k),
        "last_used_at": iso(k.last_used_at),
        "last_used_ip": k.last_used_ip,
        "created_at": iso(k.created_at),
        "revoked_at": iso(k.revoked_at),
        **key_age_fields(k),
    }


def key_age_fields(k: ApiKey) -> dict:
    """The periodic-refresh view of a key: its current token's age against the maximum."""
    age = key_age.of_key(k)
    days = age.age_days()
    return {
        "token_issued_at": iso(age.issued_at),
        "age_days": None if days is None else round(days, 2),
        "max_key_age_days": age.max_age_days,
        "expires_by_age_at": iso(age.expires_at),
    }


def admin(a: Admin) -> dict:
    return {
        "id": a.id,
        "name": a.name,
        "email": a.email,
        "role": a.role,
        "notify_leaks": a.notify_leaks,
    }


def audit_event(e: AuditEvent) -> dict:
    return {
        "id": e.id,
        "at": iso(e.at),
        "actor": e.actor,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "summary": e.summary,
        "before": e.before,
        "after": e.after,
    }


def incident(i: Incident) -> dict:
    return {
        "id": i.id,
        "state": i.state,
        "key_id": i.key_id,
        "client_id": i.client_id,
        "token_hint": i.token_hint,
        "first_origin": i.first_origin,
        "action": i.action,
        "action_detail": i.action_detail,
        "replacement_hint": i.replacement_hint,
        "replacement_ready": i.replacement_sealed is not None,
        "replacement_picked_up_at": iso(i.replacement_picked_up_at),
        "received_at": iso(i.received_at),
        "owner_found_at": iso(i.owner_found_at),
        "acted_at": iso(i.acted_at),
        "notified_at": iso(i.notified_at),
        "attempts": i.attempts,
        "occurrence_count": len(i.occurrences),
    }


def incident_detail(i: Incident) -> dict:
    return {
        **incident(i),
        "occurrences": [
            {
                "id": o.id,
                "origin": o.origin,
                "token_type": o.token_type,
                "url": o.url,
                "source": o.source,
                "received_at": iso(o.received_at),
            }
            for o in i.occurrences
        ],
        "notifications": [
            {
                "recipient": n.recipient,
                "channel": n.channel,
                "state": n.state,
                "attempts": n.attempts,
                "sent_at": iso(n.sent_at),
                "last_error": n.last_error,
            }
            for n in i.notifications
        ],
    }


def repository(repo: WatchedRepository) -> dict:
    return {
        "id": repo.id,
        "url": repo.url,
        "branches": list(repo.branches),
        "interval_seconds": repo.interval_seconds,
        "credentials_env": repo.credentials_env,
        "enabled": repo.enabled,
        "last_scan_at": iso(repo.last_scan_at),
        "next_scan_at": iso(repo.next_scan_at),
    }


def scan_run(run: ScanRun, *, findings: bool = False) -> dict:
    data = {
        "id": run.id,
        "repository_id": run.repository_id,
        "trigger": run.trigger,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "full_scan": run.full_scan,
        "objects_read": run.objects_read,
        "findings_count": run.findings_count,
        "ours_count": run.ours_count,
        "error": run.error,
        "reason": run.reason,
    }
    if findings:
        data["findings"] = [
            {
                "kind": f.kind,
                "commit": f.commit,
                "path": f.path,
                "line": f.line,
                "hint": f.hint,
                "fingerprint": f.fingerprint,
                "ours": f.ours,
            }
            for f in run.findings
        ]
    return data


def webhook(hook: Webhook) -> dict:
    """Never the URL's path (it can be the credential, as Slack's is) nor the secret."""
    return {
        "id": hook.id,
        "name": hook.name,
        "kind": hook.kind,
        "url": hook.url_display,
        "signed": hook.secret_sealed is not None,
        "enabled": hook.enabled,
        "created_by": hook.created_by,
        "created_at": iso(hook.created_at),
    }
