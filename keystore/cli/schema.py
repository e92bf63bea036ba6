"""``keyward migrate``."""

from __future__ import annotations

import click

from keystore.cli.base import CliContext, Command, pass_context
from keystore.migrate import prepare


@click.command("migrate", cls=Command)
@pass_context
def migrate_command(ctx: CliContext) -> None:
    """Bring the database schema up to date and add builtin endpoints."""
    added = prepare(ctx.engine)
    url = ctx.engine.url.render_as_string(hide_password=True)
    ctx.emit(
        {"database": url, "builtin_endpoints_added": added},
        f"database {url} is up to date ({added} builtin endpoint(s) added)",
    )
