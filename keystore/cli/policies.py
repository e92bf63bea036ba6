"""``keyward collection`` (API collections) and ``keyward policy`` (named policies)."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli.base import CliContext, Group, pass_context, ref, split_csv
from keystore.cli.clients import collect_limits, limit_options
from keystore.services import collections, policies
from keystore.services.roles import UNSET


@click.group("collection", cls=Group)
def collection_group() -> None:
    """API collections: named groups of endpoints that roles grant as one."""


def _collection(session, found) -> dict:
    granting = collections.roles_granting(session, found)
    return {**serialize.collection(found), "roles": [r.name for r in granting]}


@collection_group.command("list")
@pass_context
def collection_list(ctx: CliContext) -> None:
    """List API collections and the roles granting each."""
    with ctx.session() as session:
        rows = [_collection(session, c) for c in collections.list_collections(session)]
    ctx.emit(
        rows,
        [
            f"{c['id']:>5}  {c['name']:<24} {len(c['endpoints'])} endpoint(s), "
            f"roles: {', '.join(c['roles']) or '-'}"
            for c in rows
        ],
    )


@collection_group.command("show")
@click.argument("collection")
@pass_context
def collection_show(ctx: CliContext, collection: str) -> None:
    """Show a collection's endpoints and the roles granting it."""
    with ctx.session() as session:
        data = _collection(session, collections.get_collection(session, ref(collection)))
    ctx.emit(
        data,
        [
            f"collection {data['name']} (id {data['id']}), granted by: "
            f"{', '.join(data['roles']) or 'no role'}",
            *(f"  - {e}" for e in data["endpoints"]),
        ],
    )


@collection_group.command("create")
@click.argument("name")
@click.option("--endpoint", "endpoints", multiple=True, help="Endpoint; repeat or comma-separate.")
@click.option("--description", default="")
@pass_context
def collection_create(ctx: CliContext, name: str, endpoints, description: str) -> None:
    """Create a collection of endpoints (nobody is granted it yet)."""
    with ctx.session() as session:
        data = _collection(
            session,
            collections.create_collection(
                session,
                actor=ctx.actor,
                caller=ctx.caller,
                name=name,
                description=description,
                endpoints=split_csv(endpoints),
            ),
        )
    ctx.emit(data, f"collection {data['name']} created (id {data['id']})")


@collection_group.command("update")
@click.argument("collection")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option("--endpoint", "endpoints", multiple=True, help="Replace the endpoints.")
@click.option("--add", multiple=True, help="Add endpoints.")
@click.option("--remove", multiple=True, help="Remove endpoints.")
@pass_context
def collection_update(ctx: CliContext, collection, name, description, endpoints, add, remove):
    """Change a collection; every role granting it changes on the next request."""
    with ctx.session() as session:
        changed = collections.update_collection(
            session,
            actor=ctx.actor,
            caller=ctx.caller,
            ref=ref(collection),
            name=UNSET if name is None else name,
            description=UNSET if description is None else description,
            endpoints=split_csv(endpoints) if endpoints else UNSET,
            add=split_csv(add),
            remove=split_csv(remove),
        )
        data = _collection(session, changed)
    ctx.emit(data, f"collection {data['name']}: {', '.join(data['endpoints']) or 'no endpoints'}")


@collection_group.command("delete")
@click.argument("collection")
@pass_context
def collection_delete(ctx: CliContext, collection: str) -> None:
    """Delete a collection no role grants."""
    with ctx.session() as session:
        collections.delete_collection(
            session, actor=ctx.actor, caller=ctx.caller, ref=ref(collection)
        )
    ctx.emit({"deleted": collection}, f"collection {collection} deleted")


@click.group("policy", cls=Group)
def policy_group() -> None:
    """Named policies: limits and address rules clients and keys take by name."""


def _policy(session, found) -> dict:
    clients, keys = policies.holders(session, found)
    return {
        **serialize.policy(found),
        "clients": [c.name for c in clients],
        "keys": [k.id for k in keys],
    }


def _policy_lines(p: dict) -> list[str]:
    rate = f"{p['rate_limit']}/{p['rate_window_seconds']}s" if p["rate_limit"] else "-"
    return [
        f"policy {p['name']} (id {p['id']}): rate {rate}, daily {p['quota_daily'] or '-'}, "
        f"monthly {p['quota_monthly'] or '-'}",
        f"  allowed: {', '.join(p['allowed_ips']) or 'any'}",
        f"  blocked: {', '.join(p['blocked_ips']) or 'none'}",
        f"  clients: {', '.join(p['clients']) or '-'}; keys: "
        f"{', '.join(map(str, p['keys'])) or '-'}",
    ]


def policy_options(command):
    """--allow/--block (addresses, CIDRs or first-last ranges, comma-separated) and limits."""
    command = click.option(
        "--block", "blocked_ips", multiple=True, help="Blocked addresses or ranges."
    )(command)
    command = click.option(
        "--allow", "allowed_ips", multiple=True, help="Allowed addresses or ranges."
    )(command)
    command = click.option("--description", default=None)(command)
    return limit_options(command)


def _settings(options: dict) -> dict:
    limits = collect_limits(options) or {}
    given = {k: v for k, v in options.items() if v not in (None, ())}
    return {**given, **limits}


@policy_group.command("list")
@pass_context
def policy_list(ctx: CliContext) -> None:
    """List policies and who is under each."""
    with ctx.session() as session:
        rows = [_policy(session, p) for p in policies.list_policies(session)]
    ctx.emit(rows, [line for p in rows for line in _policy_lines(p)])


@policy_group.command("show")
@click.argument("policy")
@pass_context
def policy_show(ctx: CliContext, policy: str) -> None:
    """Show a policy and the clients and keys under it."""
    with ctx.session() as session:
        data = _policy(session, policies.get_policy(session, ref(policy)))
    ctx.emit(data, _policy_lines(data))


@policy_group.command("create")
@click.argument("name")
@policy_options
@pass_context
def policy_create(ctx: CliContext, name: str, **options) -> None:
    """Create a policy, e.g. --rate-limit 100 --rate-window 60 --allow 10.0.0.1-10.0.0.9."""
    with ctx.session() as session:
        created = policies.create_policy(session, actor=ctx.actor, name=name, **_settings(options))
        data = _policy(session, created)
    ctx.emit(data, f"policy {data['name']} created (id {data['id']})")


@policy_group.command("update")
@click.argument("policy")
@click.option("--name", default=None)
@policy_options
@click.option("--clear-allow", is_flag=True, help="Allow every address again.")
@click.option("--clear-block", is_flag=True, help="Remove every block.")
@click.option("--clear-limits", is_flag=True, help="Remove the rate limit and quotas.")
@pass_context
def policy_update(ctx: CliContext, policy: str, clear_allow, clear_block, clear_limits, **options):
    """Change a policy; everyone under it sees the change on the next request."""
    # Cleared first, so "--clear-limits --quota-daily 5" leaves just the quota.
    changes = dict.fromkeys(policies.LIMIT_FIELDS) if clear_limits else {}
    if clear_allow:
        changes["allowed_ips"] = []
    if clear_block:
        changes["blocked_ips"] = []
    changes.update(_settings(options))
    with ctx.session() as session:
        changed = policies.update_policy(
            session, actor=ctx.actor, caller=ctx.caller, ref=ref(policy), **changes
        )
        data = _policy(session, changed)
    ctx.emit(data, f"policy {data['name']} updated")


@policy_group.command("delete")
@click.argument("policy")
@pass_context
def policy_delete(ctx: CliContext, policy: str) -> None:
    """Delete a policy no client or key names."""
    with ctx.session() as session:
        policies.delete_policy(session, actor=ctx.actor, ref=ref(policy))
    ctx.emit({"deleted": policy}, f"policy {policy} deleted")
