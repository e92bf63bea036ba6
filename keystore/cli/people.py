"""``keyward admin``: workspace admins."""

from __future__ import annotations

import sys

import click

from keystore import serialize
from keystore.cli.base import CliContext, Group, confirmation, pass_context, yes_no
from keystore.models import CONSOLE_ROLES
from keystore.services import admins


@click.group("admin", cls=Group)
def admin_group() -> None:
    """Workspace admins: console people with a role (viewer, operator, admin) who receive
    leak notifications."""


@admin_group.command("list")
@pass_context
def admin_list(ctx: CliContext) -> None:
    """List the workspace admins."""
    with ctx.session() as session:
        rows = [serialize.admin(a) for a in admins.list_admins(session)]
    ctx.emit(
        rows,
        [
            f"{a['id']:>5}  {a['email']:<32} {a['name']:<20} {a['role']:<8} "
            f"leak emails: {yes_no(a['notify_leaks'])}"
            for a in rows
        ],
    )


@admin_group.command("add")
@click.argument("name")
@click.argument("email")
@click.option("--no-notify", is_flag=True, help="Do not send leak notifications.")
@click.option(
    "--role",
    type=click.Choice(CONSOLE_ROLES),
    default="admin",
    show_default=True,
    help="Console role: viewer (read only), operator (clients, keys, incidents) or admin.",
)
@pass_context
def admin_add(ctx: CliContext, name: str, email: str, no_notify: bool, role: str) -> None:
    """Add a workspace admin with a console role (leak emails go to admins)."""
    with ctx.session() as session:
        data = serialize.admin(
            admins.create_admin(
                session,
                actor=ctx.actor,
                name=name,
                email=email,
                notify_leaks=not no_notify,
                role=role,
            )
        )
    ctx.emit(data, f"admin {data['email']} added ({data['role']})")


@admin_group.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(CONSOLE_ROLES))
@pass_context
def admin_role(ctx: CliContext, email: str, role: str) -> None:
    """Set a person's console role; the last admin stays one unless --force-last-admin."""
    with ctx.session() as session:
        data = serialize.admin(
            admins.update_admin(session, actor=ctx.actor, caller=ctx.caller, email=email, role=role)
        )
    ctx.emit(data, f"admin {data['email']}: console role {data['role']}")


@admin_group.command("notify")
@click.argument("email")
@click.option("--on/--off", "notify", required=True)
@pass_context
def admin_notify(ctx: CliContext, email: str, notify: bool) -> None:
    """Turn an admin's leak emails on or off."""
    with ctx.session() as session:
        data = serialize.admin(
            admins.update_admin(
                session, actor=ctx.actor, caller=ctx.caller, email=email, notify_leaks=notify
            )
        )
    ctx.emit(data, f"admin {data['email']}: leak emails {'on' if notify else 'off'}")


@admin_group.command("remove")
@click.argument("email")
@confirmation("Remove this admin?")
@pass_context
def admin_remove(ctx: CliContext, email: str) -> None:
    """Remove an admin; their console sessions end at once."""
    with ctx.session() as session:
        admins.delete_admin(session, actor=ctx.actor, caller=ctx.caller, email=email)
    ctx.emit({"removed": email}, f"admin {email} removed")


@admin_group.command("password")
@click.argument("email")
@pass_context
def admin_password(ctx: CliContext, email: str) -> None:
    """Set an admin's console password (prompted twice, or the first line of stdin)."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        # Scripts pipe the password in, which keeps it out of shell history and `ps`.
        password = sys.stdin.readline().rstrip("\r\n")
    with ctx.session() as session:
        admin = admins.set_password(session, actor=ctx.actor, email=email, password=password)
        data = serialize.admin(admin)
    ctx.emit(data, f"console password set for {data['email']}")
