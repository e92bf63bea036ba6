"""The ``keyward`` command: the store's commands, plus the scanner and the web server."""

from __future__ import annotations

import click

from keystore import serialize
from keystore.cli import KeywardGroup, pass_context, register
from keystore.cli.base import CliContext
from keystore.redaction import install_scrubbing
from keystore.services.bootstrap import bootstrap_admin
from rotation.cli import incident_group, repo_group
from scanner.cli import scan
from web.cpus import default_workers
from web.exposure import refuse_open_gateway
from web.serve import serve


@click.group(cls=KeywardGroup)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--force-last-admin",
    is_flag=True,
    help="Allow removing the last client that holds every keyward.* endpoint.",
)
@click.version_option(package_name="keyward")
@click.pass_context
def main(click_ctx: click.Context, as_json: bool, force_last_admin: bool) -> None:
    """Keyward: API clients, keys, and leak response."""
    install_scrubbing()
    click_ctx.obj = CliContext(as_json=as_json, force_last_admin=force_last_admin)
    click_ctx.call_on_close(click_ctx.obj.close)


register(main)
main.add_command(scan)
main.add_command(repo_group)
main.add_command(incident_group)


@main.command("serve")
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
    """Serve Keyward.  The embedded mode migrates its database first."""
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


@main.command("bootstrap")
@click.option("--client", "client_name", default="keyward-admin", show_default=True)
@click.option("--env", "environment", default="prod", show_default=True)
@pass_context
def bootstrap_command(ctx: CliContext, client_name: str, environment: str) -> None:
    """Create the admin role and client, and print a token for the admin API (shown once)."""
    with ctx.session() as session:
        key, token = bootstrap_admin(
            session, ctx.settings, actor=ctx.actor, client_name=client_name, environment=environment
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
