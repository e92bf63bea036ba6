"""``keyward migrate``."""

from __future__ import annotations

import click

from keystore.cli.base import CliContext, pass_context
from keystore.db import make_session_factory, transaction
from keystore.migrate import upgrade
from keystore.services.catalogue import ensure_builtin_endpoints


@click.command("migrate")
@pass_context
def migrate_command(ctx: CliContext) -> None:
    """Bring the database schema up to date and add builtin endpoints."""
    upgrade(ctx.engine)
    with transaction(make_session_factory(ctx.engine)) as session:
        added = ensure_builtin_endpoints(session)
    url = ctx.engine.url.render_as_string(hide_password=True)
    ctx.emit(
        {"database": url, "builtin_endpoints_added": added},
        f"database {url} is up to date ({added} builtin endpoint(s) added)",
    )
