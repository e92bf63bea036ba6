"""``keyward bootstrap``: the first admin client and its token."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli.base import CliContext, Command, pass_context
from keystore.services.bootstrap import bootstrap_admin


@click.command("bootstrap", cls=Command)
@click.option("--client", "client_name", default="keyward-admin", show_default=True)
@click.option("--env", "environment", default="prod", show_default=True)
@click.option(
    "--new-key",
    is_flag=True,
    help="An admin client exists: issue it another full-admin key anyway.",
)
@pass_context
def bootstrap_command(ctx: CliContext, client_name: str, environment: str, new_key: bool) -> None:
    """Create the admin role and client, and print a token for the admin API (shown once).

    Refused once an admin client exists, unless --new-key says to issue another key.
    """
    with ctx.session() as session:
        key, token = bootstrap_admin(
            session,
            ctx.settings,
            actor=ctx.actor,
            client_name=client_name,
            environment=environment,
            new_key=new_key,
        )
        data = {**serialize.key(key), "token": token}
    ctx.emit(
        data,
        [
            f"admin client {client_name}: key {key.id} {key.hint}",
            "token for 'Authorization: Bearer' (shown once, store it now):",
            f"  {token}",
        ],
    )
