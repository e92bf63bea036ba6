"""``keyward env``, ``keyward project``, ``keyward endpoint``."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli.base import CliContext, Group, confirmation, pass_context, yes_no
from keystore.key_age import MAX_DAYS
from keystore.models import LEAK_ACTIONS
from keystore.services import catalogue, keys

MAX_AGE = click.IntRange(1, MAX_DAYS)
MAX_AGE_HELP = "Days a key's token may live; older keys are refused as expired (periodic refresh)."


@click.group("env", cls=Group)
def env_group() -> None:
    """Environments (dev, test, prod, ...)."""


@env_group.command("list")
@pass_context
def env_list(ctx: CliContext) -> None:
    """List the environments and their leak action."""
    with ctx.session() as session:
        envs = [serialize.environment(e) for e in catalogue.list_environments(session)]
    ctx.emit(
        envs,
        [
            f"{e['tag']:<8} {e['name']:<20} dev-only endpoints: "
            f"{yes_no(e['allows_dev_only'])}  on leak: {e['leak_action']}  "
            f"max key age: {_days(e['max_key_age_days'])}"
            for e in envs
        ],
    )


@env_group.command("add")
@click.argument("tag")
@click.argument("name")
@click.option("--allow-dev-only", is_flag=True, help="Let dev-only endpoints answer here.")
@click.option("--leak-action", type=click.Choice(LEAK_ACTIONS), default="revoke", show_default=True)
@click.option("--max-key-age", type=MAX_AGE, default=None, help=MAX_AGE_HELP)
@pass_context
def env_add(ctx: CliContext, tag: str, name: str, allow_dev_only, leak_action, max_key_age) -> None:
    """Declare an environment; TAG becomes part of its tokens."""
    with ctx.session() as session:
        env = serialize.environment(
            catalogue.create_environment(
                session,
                actor=ctx.actor,
                tag=tag,
                name=name,
                allows_dev_only=allow_dev_only,
                leak_action=leak_action,
                max_key_age_days=max_key_age,
            )
        )
    ctx.emit(env, f"environment {env['tag']} created")


@env_group.command("update")
@click.argument("tag")
@click.option("--name", default=None)
@click.option("--allow-dev-only/--refuse-dev-only", default=None)
@click.option("--leak-action", type=click.Choice(LEAK_ACTIONS), default=None)
@click.option("--max-key-age", type=MAX_AGE, default=None, help=MAX_AGE_HELP)
@click.option("--no-max-key-age", is_flag=True, help="Keys of this environment never age out.")
@pass_context
def env_update(ctx: CliContext, tag, name, allow_dev_only, leak_action, max_key_age, **rest):
    """Change an environment; a maximum key age applies from the next request on."""
    changes = {
        "name": name,
        "allows_dev_only": allow_dev_only,
        "leak_action": leak_action,
        "max_key_age_days": max_key_age,
    }
    changes = {field: value for field, value in changes.items() if value is not None}
    if rest["no_max_key_age"]:
        changes["max_key_age_days"] = None
    with ctx.session() as session:
        env = serialize.environment(
            catalogue.update_environment(
                session, actor=ctx.actor, caller=ctx.caller, tag=tag, **changes
            )
        )
    ctx.emit(
        env, f"environment {env['tag']} updated; max key age: {_days(env['max_key_age_days'])}"
    )


def _days(days: int | None) -> str:
    return f"{days} days" if days else "none"


@click.group("project", cls=Group)
def project_group() -> None:
    """Projects clients can be bound to."""


@project_group.command("list")
@pass_context
def project_list(ctx: CliContext) -> None:
    """List the projects."""
    with ctx.session() as session:
        projects = [serialize.project(p) for p in catalogue.list_projects(session)]
    ctx.emit(projects, [f"{p['id']:>5}  {p['name']}  {p['description']}" for p in projects])


@project_group.command("add")
@click.argument("name")
@click.option("--description", default="")
@pass_context
def project_add(ctx: CliContext, name: str, description: str) -> None:
    """Add a project."""
    with ctx.session() as session:
        proj = serialize.project(
            catalogue.create_project(session, actor=ctx.actor, name=name, description=description)
        )
    ctx.emit(proj, f"project {proj['name']} created (id {proj['id']})")


@project_group.command("delete")
@click.argument("name")
@confirmation("Clients lose this project at once. Delete it?")
@pass_context
def project_delete(ctx: CliContext, name: str) -> None:
    """Delete a project; its clients lose it at once."""
    with ctx.session() as session:
        catalogue.delete_project(session, actor=ctx.actor, name=name)
    ctx.emit({"deleted": name}, f"project {name} deleted")


@project_group.command("revoke-keys")
@click.argument("name")
@confirmation("Revoke every key of every client of this project, for good?")
@pass_context
def project_revoke_keys(ctx: CliContext, name: str) -> None:
    """Revoke all keys of all clients of a project."""
    with ctx.session() as session:
        revoked = [
            serialize.key(k)
            for k in keys.revoke_project_keys(
                session, actor=ctx.actor, caller=ctx.caller, project=name
            )
        ]
    ctx.emit(revoked, f"{len(revoked)} key(s) revoked")


@click.group("endpoint", cls=Group)
def endpoint_group() -> None:
    """The endpoint catalogue that roles grant from."""


@endpoint_group.command("list")
@pass_context
def endpoint_list(ctx: CliContext) -> None:
    """List the endpoint catalogue by section."""
    with ctx.session() as session:
        eps = [serialize.endpoint(e) for e in catalogue.list_endpoints(session)]
    ctx.emit(
        eps,
        [
            f"{e['name']:<32} {e['method'] or '':<6} {e['path'] or '':<28} "
            f"{'dev-only ' if e['dev_only'] else ''}{e['section']}"
            for e in eps
        ],
    )


@endpoint_group.command("add")
@click.argument("name")
@click.option("--section", default="", help="Heading the console groups it under.")
@click.option("--description", default="")
@click.option("--method", default=None, help="HTTP method, for gateways that send method + URI.")
@click.option("--path", default=None, help="Path pattern such as /orders/{id}.")
@click.option("--dev-only", is_flag=True, help="Refuse it outside environments allowing dev-only.")
@pass_context
def endpoint_add(ctx: CliContext, **options) -> None:
    """Declare an endpoint of your API."""
    with ctx.session() as session:
        ep = serialize.endpoint(catalogue.declare_endpoint(session, actor=ctx.actor, **options))
    ctx.emit(ep, f"endpoint {ep['name']} declared")


@endpoint_group.command("remove")
@click.argument("name")
@confirmation("Every role loses this endpoint at once. Remove it?")
@pass_context
def endpoint_remove(ctx: CliContext, name: str) -> None:
    """Remove an endpoint; every role loses it at once."""
    with ctx.session() as session:
        catalogue.delete_endpoint(session, actor=ctx.actor, name=name)
    ctx.emit({"removed": name}, f"endpoint {name} removed")
