"""The ``keyward`` command: the store's commands, plus the scanner and the web server."""

from __future__ import annotations

import click

from keystore.cli import KeywardGroup, register
from keystore.cli.base import CliContext


@click.group(cls=KeywardGroup)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.version_option(package_name="keyward")
@click.pass_context
def main(click_ctx: click.Context, as_json: bool) -> None:
    """Keyward: API clients, keys, and leak response."""
    click_ctx.obj = CliContext(as_json=as_json)
    click_ctx.call_on_close(click_ctx.obj.close)


register(main)
