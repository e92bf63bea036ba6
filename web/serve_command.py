"""``keyward serve``: the embedded server, or production's gunicorn started from Python."""

from __future__ import annotations

import click

from keystore.cli.base import CliContext, Command, pass_context
from web.cpus import default_workers
from web.exposure import refuse_open_gateway
from web.serve import serve


@click.command("serve", cls=Command)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Processes (default 1 embedded; with Redis 2 x the CPUs this container may use + 1).",
)
@click.option("--threads", type=click.IntRange(1, 256), default=8, show_default=True)
@pass_context
def serve_command(ctx: CliContext, host: str, port: int, workers: int | None, threads: int):
    """Serve Keyward; the embedded mode migrates its database first."""
    settings = ctx.settings
    if settings.embedded and workers not in (None, 1):
        raise click.UsageError("the embedded mode keeps limits in memory: one worker only")
    # Said here, in one line, rather than by every gunicorn worker failing to boot.
    refuse_open_gateway(settings)
    # Embedded: migrate now; production: refuse to serve an outdated schema.
    ctx.ensure_schema()
    click.echo(
        f"Keyward on http://{host}:{port} ({settings.mode} mode, "
        f"{ctx.engine.url.render_as_string(hide_password=True)})",
        err=True,
    )
    serve(
        settings,
        host=host,
        port=port,
        workers=workers or (1 if settings.embedded else default_workers()),
        threads=threads,
    )
