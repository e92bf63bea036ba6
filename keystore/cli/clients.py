"""``keyward role`` and ``keyward client``."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli.base import (
    CliContext,
    Group,
    confirm,
    confirmation,
    pass_context,
    ref,
    split_csv,
    yes_no,
)
from keystore.cli.catalogue import MAX_AGE
from keystore.models import LEAK_ACTIONS
from keystore.services import clients, keys, roles
from keystore.services.roles import UNSET


def limit_options(command):
    """--rate-limit/--rate-window/--quota-daily/--quota-monthly for clients and keys."""
    for name, text in reversed(
        [
            ("rate-limit", "Requests allowed per window."),
            ("rate-window", "Window length in seconds."),
            ("quota-daily", "Requests allowed per UTC day."),
            ("quota-monthly", "Requests allowed per UTC month."),
        ]
    ):
        command = click.option(f"--{name}", type=int, default=None, help=text)(command)
    return command


def collect_limits(options: dict) -> dict | None:
    names = {
        "rate_limit": "rate_limit",
        "rate_window": "rate_window_seconds",
        "quota_daily": "quota_daily",
        "quota_monthly": "quota_monthly",
    }
    given = {names[k]: options.pop(k) for k in list(names) if options.get(k) is not None}
    for k in names:
        options.pop(k, None)
    return given or None


@click.group("role", cls=Group)
def role_group() -> None:
    """Client roles: which endpoints a client may call."""


@role_group.command("list")
@pass_context
def role_list(ctx: CliContext) -> None:
    """List the roles."""
    with ctx.session() as session:
        rows = [serialize.role(r) for r in roles.list_roles(session)]
    ctx.emit(
        rows, [f"{r['id']:>5}  {r['name']:<24} {len(r['endpoints'])} endpoint(s)" for r in rows]
    )


@role_group.command("show")
@click.argument("role")
@pass_context
def role_show(ctx: CliContext, role: str) -> None:
    """Show a role and its endpoints."""
    with ctx.session() as session:
        data = serialize.role(roles.get_role(session, ref(role)))
    ctx.emit(
        data,
        [
            f"role {data['name']} (id {data['id']})",
            f"  {data['description']}",
            f"  max key age: {data['max_key_age_days'] or 'the environment'}",
            *(f"  - {e}" for e in data["endpoints"]),
        ],
    )


@role_group.command("create")
@click.argument("name")
@click.option(
    "--endpoint", "endpoints", multiple=True, help="Endpoint name; repeat or comma-separate."
)
@click.option("--description", default="")
@click.option(
    "--leak-action",
    type=click.Choice(LEAK_ACTIONS),
    default=None,
    help="Override the environment's leak response for this role's clients.",
)
@click.option(
    "--max-key-age", type=MAX_AGE, default=None, help="Override the environment's maximum key age."
)
@pass_context
def role_create(ctx: CliContext, name, endpoints, description, leak_action, max_key_age) -> None:
    """Create a role from endpoints of the catalogue."""
    with ctx.session() as session:
        data = serialize.role(
            roles.create_role(
                session,
                actor=ctx.actor,
                name=name,
                description=description,
                endpoints=split_csv(endpoints),
                leak_action=leak_action,
                max_key_age_days=max_key_age,
            )
        )
    ctx.emit(data, f"role {data['name']} created (id {data['id']})")


@role_group.command("update")
@click.argument("role")
@click.option("--name", default=None)
@click.option("--description", default=None)
@click.option("--endpoint", "endpoints", multiple=True, help="Replace the granted endpoints.")
@click.option("--grant", multiple=True, help="Add endpoints.")
@click.option("--deny", multiple=True, help="Remove endpoints.")
@click.option("--max-key-age", type=MAX_AGE, default=None, help="Override the maximum key age.")
@click.option("--no-max-key-age", is_flag=True, help="Use the environment's maximum key age.")
@pass_context
def role_update(ctx: CliContext, role, name, description, endpoints, grant, deny, **age) -> None:
    """Change a role; its clients see the change on their next request."""
    with ctx.session() as session:
        current = roles.get_role(session, ref(role))
        names = set(split_csv(endpoints)) if endpoints else {e.name for e in current.endpoints}
        names = (names | set(split_csv(grant))) - set(split_csv(deny))
        data = serialize.role(
            roles.update_role(
                session,
                actor=ctx.actor,
                caller=ctx.caller,
                ref=current.id,
                name=UNSET if name is None else name,
                description=UNSET if description is None else description,
                endpoints=sorted(names),
                max_key_age_days=_age_change(**age),
            )
        )
    ctx.emit(data, f"role {data['name']} updated: {', '.join(data['endpoints']) or 'no endpoints'}")


def _age_change(*, max_key_age, no_max_key_age):
    if no_max_key_age:
        return None
    return UNSET if max_key_age is None else max_key_age


@role_group.command("delete")
@click.argument("role")
@click.option("--yes", is_flag=True, help="Do not ask; required when stdin is not a terminal.")
@pass_context
def role_delete(ctx: CliContext, role: str, yes: bool) -> None:
    """Delete a role; its clients are refused every endpoint at once."""
    with ctx.session() as session:
        affected = [c.name for c in roles.clients_using(session, ref(role))]
        confirm(
            f"{len(affected)} client(s) lose all access ({', '.join(affected) or 'none'}). Delete?",
            yes=yes,
        )
        roles.delete_role(session, actor=ctx.actor, caller=ctx.caller, ref=ref(role))
    ctx.emit(
        {"deleted": role, "clients_affected": affected},
        f"role {role} deleted; {len(affected)} client(s) lost access",
    )


@click.group("client", cls=Group)
def client_group() -> None:
    """API clients: role, environments, projects, keys."""


@client_group.command("list")
@click.option("--search", default=None, help="Part of the name or contact email.")
@pass_context
def client_list(ctx: CliContext, search) -> None:
    """List the clients."""
    with ctx.session() as session:
        rows = [serialize.client(c) for c in clients.list_clients(session, search=search)]
    ctx.emit(
        rows,
        [
            f"{c['id']:>5}  {c['name']:<24} role={c['role'] or '-':<16} "
            f"enabled={yes_no(c['enabled'])} envs={','.join(c['environments'])}"
            for c in rows
        ],
    )


@client_group.command("show")
@click.argument("client")
@pass_context
def client_show(ctx: CliContext, client: str) -> None:
    """Show a client: role, environments, projects, limits and keys."""
    with ctx.session() as session:
        found = clients.get_client(session, ref(client))
        data = {**serialize.client(found), "keys": [serialize.key(k) for k in found.keys]}
    ctx.emit(
        data,
        [
            f"client {data['name']} (id {data['id']}), enabled: {yes_no(data['enabled'])}",
            f"  role: {data['role']}  contact: {data['contact_email']}",
            f"  environments: {', '.join(data['environments'])}",
            f"  projects: {', '.join(data['projects'])}",
            *(f"  key {k['id']}: {k['name']} {k['hint']} {k['state']}" for k in data["keys"]),
        ],
    )


def client_options(command):
    command = click.option("--description", default=None)(command)
    command = click.option("--contact", "contact_email", default=None)(command)
    command = click.option("--project", "projects", multiple=True)(command)
    command = click.option("--env", "environments", multiple=True)(command)
    command = click.option("--role", default=None)(command)
    return limit_options(command)


@client_group.command("create")
@click.argument("name")
@client_options
@pass_context
def client_create(ctx: CliContext, name: str, **options) -> None:
    """Register a client: --role, --env (repeat), --project (repeat), --contact."""
    limits = collect_limits(options)
    with ctx.session() as session:
        data = serialize.client(
            clients.create_client(
                session,
                actor=ctx.actor,
                name=name,
                role=None if options["role"] is None else ref(options["role"]),
                environments=split_csv(options["environments"]),
                projects=split_csv(options["projects"]),
                description=options["description"] or "",
                contact_email=options["contact_email"] or "",
                limits=limits,
            )
        )
    ctx.emit(data, f"client {data['name']} created (id {data['id']})")


@client_group.command("update")
@click.argument("client")
@click.option("--name", default=None)
@client_options
@pass_context
def client_update(ctx: CliContext, client: str, **options) -> None:
    """Change a client; only the options given are changed."""
    limits = collect_limits(options)
    changes = {k: v for k, v in options.items() if v not in (None, ())}
    for listed in ("environments", "projects"):
        if listed in changes:
            changes[listed] = split_csv(changes[listed])
    if "role" in changes:
        changes["role"] = None if changes["role"] == "-" else ref(changes["role"])
    if limits:
        changes["limits"] = limits
    with ctx.session() as session:
        data = serialize.client(
            clients.update_client(
                session, actor=ctx.actor, caller=ctx.caller, ref=ref(client), **changes
            )
        )
    ctx.emit(data, f"client {data['name']} updated")


@client_group.command("enable")
@click.argument("client")
@pass_context
def client_enable(ctx: CliContext, client: str) -> None:
    """Accept the client's keys again."""
    _set_enabled(ctx, client, enabled=True)


@client_group.command("disable")
@click.argument("client")
@pass_context
def client_disable(ctx: CliContext, client: str) -> None:
    """Disable a client; its keys and JWTs are refused at once."""
    _set_enabled(ctx, client, enabled=False)


def _set_enabled(ctx: CliContext, client: str, *, enabled: bool) -> None:
    with ctx.session() as session:
        data = serialize.client(
            clients.set_enabled(
                session, actor=ctx.actor, caller=ctx.caller, ref=ref(client), enabled=enabled
            )
        )
    ctx.emit(data, f"client {data['name']} {'enabled' if enabled else 'disabled'}")


@client_group.command("delete")
@click.argument("client")
@confirmation("The client and all its keys are deleted for good. Continue?")
@pass_context
def client_delete(ctx: CliContext, client: str) -> None:
    """Delete a client and all its keys, for good."""
    with ctx.session() as session:
        clients.delete_client(session, actor=ctx.actor, caller=ctx.caller, ref=ref(client))
    ctx.emit({"deleted": client}, f"client {client} deleted")


@client_group.command("revoke-keys")
@click.argument("client")
@confirmation("Revoke every key of this client, for good?")
@pass_context
def client_revoke_keys(ctx: CliContext, client: str) -> None:
    """Revoke every key of the client, for good."""
    with ctx.session() as session:
        revoked = [
            serialize.key(k)
            for k in keys.revoke_client_keys(
                session, actor=ctx.actor, caller=ctx.caller, client_ref=ref(client)
            )
        ]
    ctx.emit(revoked, f"{len(revoked)} key(s) revoked")
