"""``keyward key``, ``keyward check`` and ``keyward audit``."""

from __future__ import annotations

import sys

import click

from keystore import serialize
from keystore.cli.base import ID, CliContext, Command, Group, confirmation, pass_context, ref
from keystore.cli.clients import collect_limits, limit_options
from keystore.decision import Request, decide
from keystore.jwt_access import issue_jwt
from keystore.services import audit, keys
from keystore.services.roles import UNSET

EXIT_DENIED = 3


def _show_token(ctx: CliContext, key, token: str, verb: str) -> None:
    data = {**serialize.key(key), "token": token}
    ctx.emit(
        data,
        [
            f"key {key.id} {verb} for client {key.client_id}: {key.hint}",
            "token (shown once, store it now; Keyward cannot show it again):",
            f"  {token}",
        ],
    )


@click.group("key", cls=Group)
def key_group() -> None:
    """API keys (up to 10 per client)."""


@key_group.command("list")
@click.argument("client")
@pass_context
def key_list(ctx: CliContext, client: str) -> None:
    """List a client's keys."""
    with ctx.session() as session:
        rows = [serialize.key(k) for k in keys.list_keys(session, client_ref=ref(client))]
    ctx.emit(
        rows,
        [
            f"{k['id']:>5}  {k['name']:<20} {k['environment']:<6} {k['hint']}  "
            f"{k['state']:<8} last used {k['last_used_at'] or 'never'}"
            f"{'  expires by age ' + k['expires_by_age_at'] if k['expires_by_age_at'] else ''}"
            for k in rows
        ],
    )


@key_group.command("issue")
@click.argument("client")
@click.option("--name", required=True)
@click.option("--env", "environment", required=True, help="Environment tag, e.g. prod.")
@click.option("--allow", "allowed_ips", multiple=True, help="Allowed address or CIDR; repeat.")
@click.option("--block", "blocked_ips", multiple=True, help="Blocked address or CIDR; repeat.")
@click.option("--expires", "expires_at", default=None, help="ISO 8601 date-time with zone.")
@limit_options
@pass_context
def key_issue(ctx: CliContext, client: str, **options) -> None:
    """Issue a key; its token is printed once."""
    limits = collect_limits(options)
    with ctx.session() as session:
        key, token = keys.issue_key(
            session, ctx.settings, actor=ctx.actor, client_ref=ref(client), limits=limits, **options
        )
        _show_token(ctx, key, token, "issued")


@key_group.command("update")
@click.argument("key_id", type=ID)
@click.option("--name", default=None)
@click.option("--allow", "allowed_ips", multiple=True, help="Replace the allowed ranges.")
@click.option("--block", "blocked_ips", multiple=True, help="Replace the blocked ranges.")
@click.option("--clear-allow", is_flag=True, help="Allow every address again.")
@click.option("--clear-block", is_flag=True, help="Remove every block.")
@click.option("--expires", "expires_at", default=None)
@limit_options
@pass_context
def key_update(ctx: CliContext, key_id: int, clear_allow, clear_block, **options) -> None:
    """Change a key's name, address ranges, expiry or limits."""
    limits = collect_limits(options)
    changes = {k: v for k, v in options.items() if v not in (None, ())}
    if clear_allow:
        changes["allowed_ips"] = []
    if clear_block:
        changes["blocked_ips"] = []
    with ctx.session() as session:
        key = keys.update_key(
            session, actor=ctx.actor, key_id=key_id, limits=limits if limits else UNSET, **changes
        )
        data = serialize.key(key)
    ctx.emit(data, f"key {key_id} updated")


@key_group.command("regenerate")
@click.argument("key_id", type=ID)
@click.option(
    "--grace",
    "grace_seconds",
    type=int,
    default=0,
    show_default=True,
    help="Seconds the old token keeps working (at most 86400).",
)
@pass_context
def key_regenerate(ctx: CliContext, key_id: int, grace_seconds: int) -> None:
    """Give a key a new token; the old one stops now or after --grace seconds."""
    with ctx.session() as session:
        key, token = keys.regenerate_key(
            session, ctx.settings, actor=ctx.actor, key_id=key_id, grace_seconds=grace_seconds
        )
        _show_token(ctx, key, token, "regenerated")


def _key_command(name: str, operation, verb: str, help_text: str):
    @key_group.command(name, help=help_text)
    @click.argument("key_id", type=ID)
    @pass_context
    def command(ctx: CliContext, key_id: int) -> None:
        with ctx.session() as session:
            data = serialize.key(
                operation(session, actor=ctx.actor, caller=ctx.caller, key_id=key_id)
            )
        ctx.emit(data, f"key {key_id} ({data['hint']}) {verb}")

    return command


_key_command(
    "deactivate",
    lambda s, **kw: keys.set_key_active(s, active=False, **kw),
    "deactivated",
    "Refuse the key until it is reactivated.",
)
_key_command(
    "reactivate",
    lambda s, **kw: keys.set_key_active(s, active=True, **kw),
    "reactivated",
    "Accept a deactivated key again.",
)
# Final, like delete: it asks first (or takes --yes).
confirmation("Revoke the key for good? Its token stops working at once.")(
    _key_command("revoke", keys.revoke_key, "revoked", "Revoke the key for good.")
)


@key_group.command("delete")
@click.argument("key_id", type=ID)
@confirmation("Delete the key for good?")
@pass_context
def key_delete(ctx: CliContext, key_id: int) -> None:
    """Delete a key for good (its audit trail stays)."""
    with ctx.session() as session:
        keys.delete_key(session, actor=ctx.actor, caller=ctx.caller, key_id=key_id)
    ctx.emit({"deleted": key_id}, f"key {key_id} deleted")


@key_group.command("jwt")
@click.argument("key_id", type=ID)
@click.option("--ttl", type=int, default=None, help="Lifetime in seconds (default from settings).")
@pass_context
def key_jwt(ctx: CliContext, key_id: int, ttl: int | None) -> None:
    """Mint a short-lived JWT bound to the key's current token."""
    with ctx.session() as session:
        token, expires = issue_jwt(
            session, ctx.settings, actor=ctx.actor, key_id=key_id, ttl_seconds=ttl
        )
    ctx.emit({"jwt": token, "expires_at": serialize.iso(expires)}, token)


@click.command("check", cls=Command)
@click.argument("token", required=False)
@click.option("--endpoint", required=True)
@click.option("--env", "environment", default=None)
@click.option("--project", default=None)
@click.option("--address", default=None, help="The caller's IP address.")
@pass_context
def check_command(ctx: CliContext, token: str | None, **request) -> None:
    """Decide on a token (or JWT) as the gateway would; reads it from stdin if not given.

    Exit status: 0 allowed, 3 denied, 1 on bad input.
    """
    credential = (token if token is not None else sys.stdin.readline()).strip()
    with ctx.session() as session:
        decision = decide(session, ctx.settings, credential=credential, request=Request(**request))
    data = {
        "allowed": decision.allowed,
        "reason": decision.reason,
        "client_id": decision.client_id,
        "key_id": decision.key_id,
        "key_hint": decision.key_hint,
        "credential": decision.credential,
    }
    ctx.emit(
        data,
        f"{'allowed' if decision.allowed else 'denied'}: {decision.reason}"
        + (f" (client {decision.client_id}, key {decision.key_hint})" if decision.key_id else ""),
    )
    if not decision.allowed:
        sys.exit(EXIT_DENIED)


@click.command("audit", cls=Command)
@click.option("--action", default=None, help="e.g. key.revoke")
@click.option("--type", "object_type", default=None, help="client, key, role, ...")
@click.option("--object", "object_id", default=None, help="Object id.")
@click.option("--actor", default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--before-id", type=ID, default=None, help="Page: events older than this id.")
@pass_context
def audit_command(ctx: CliContext, **filters) -> None:
    """Show the audit trail, newest first."""
    with ctx.session() as session:
        rows = [serialize.audit_event(e) for e in audit.list_events(session, **filters)]
    ctx.emit(
        rows,
        [
            f"{e['id']:>6} {e['at']} {e['actor']:<16} {e['action']:<18} "
            f"{e['object_type']}:{e['object_id']} {e['summary']}"
            for e in rows
        ],
    )
