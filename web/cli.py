"""The ``keyward`` command: a table of its commands, each imported on first use.

``keyward --help`` reads the table only; ``keyward client list`` imports the store's
client commands and nothing of Flask or Celery; ``keyward scan`` (a pre-commit hook
on every commit) imports the scanner only, and runs on a plain ``pip install keyward``
(the scanner's dependencies); every other command needs the ``server`` extra and
says so instead of a traceback.
"""

from __future__ import annotations

import importlib

import click

from keystore.cli.base import JSON_META, CliContext, Group, describe, fail, wants_json
from keystore.redaction import install_scrubbing

# name → ("module:attribute", the command's one-line help).  tests/web/test_cli_tree.py
# checks each line against the command's own help, so the two cannot drift apart.
COMMANDS: dict[str, tuple[str, str]] = {
    "admin": (
        "keystore.cli.people:admin_group",
        "Workspace admins: console people with a role (viewer, operator, admin) who receive "
        "leak notifications.",
    ),
    "audit": ("keystore.cli.keys:audit_command", "Show the audit trail, newest first."),
    "bootstrap": (
        "keystore.cli.bootstrap:bootstrap_command",
        "Create the admin role and client, and print a token for the admin API (shown once).",
    ),
    "check": (
        "keystore.cli.keys:check_command",
        "Decide on a token (or JWT) as the gateway would; reads it from stdin if not given.",
    ),
    "client": (
        "keystore.cli.clients:client_group",
        "API clients: role, environments, projects, keys.",
    ),
    "endpoint": (
        "keystore.cli.catalogue:endpoint_group",
        "The endpoint catalogue that roles grant from.",
    ),
    "env": ("keystore.cli.catalogue:env_group", "Environments (dev, test, prod, ...)."),
    "incident": ("rotation.cli:incident_group", "Leak incidents (one per leaked token)."),
    "issuer": (
        "keystore.cli.auth_methods:issuer_group",
        "Trusted OpenID Connect issuers.",
    ),
    "jwt-key": (
        "keystore.cli.auth_methods:jwt_key_group",
        "Keys a client signs its own JWTs with.",
    ),
    "key": ("keystore.cli.keys:key_group", "API keys (up to 10 per client)."),
    "migrate": (
        "keystore.cli.schema:migrate_command",
        "Bring the database schema up to date and add builtin endpoints.",
    ),
    "project": ("keystore.cli.catalogue:project_group", "Projects clients can be bound to."),
    "repo": (
        "rotation.cli:repo_group",
        "Watched git repositories (scanned on a schedule for leaked tokens).",
    ),
    "role": ("keystore.cli.clients:role_group", "Client roles: which endpoints a client may call."),
    "scan": (
        "scanner.cli:scan",
        "Find Keyward tokens in TARGET: a file, '-' for stdin, a directory, a repository or a URL.",
    ),
    "serve": (
        "web.serve_command:serve_command",
        "Serve Keyward; the embedded mode migrates its database first.",
    ),
    "signing-key": (
        "keystore.cli.auth_methods:signing_key_group",
        "Keyward's own JWT signing keys (published at /.well-known/jwks.json).",
    ),
}

# ``--json`` among the raw arguments (see _json_asked).
ASKED_META = "keyward.json_asked"

# Our own packages: a ModuleNotFoundError naming anything else is a missing dependency.
OWN_PACKAGES = frozenset({"keystore", "scanner", "rotation", "web", "migrations"})


def load_command(ctx: click.Context, name: str) -> click.Command:
    module_name, attribute = COMMANDS[name][0].split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] in OWN_PACKAGES:
            raise
        fail(
            f"keyward {name} needs the server extra ({error.name} is missing): "
            "pip install 'keyward[server]'; only 'keyward scan' works without it",
            error="missing_dependency",
            reason="server_extra",
            code=2,
            as_json=_json_asked(ctx),
        )
    return getattr(module, attribute)


class KeywardGroup(Group):
    """Commands from :data:`COMMANDS`; an expected failure is one line, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return load_command(ctx, cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From the table: listing the commands imports none of them.
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:
        asked = wants_json(list(args))
        try:  # the top-level options are parsed here, outside invoke()
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.ClickException as exc:
            _fail_with(exc, as_json=asked)
        ctx.meta[ASKED_META] = asked
        return ctx

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:  # click.Abort is one too
            _fail_with(exc, as_json=_json_asked(ctx))


def _json_asked(ctx: click.Context) -> bool:
    # A subcommand's parsing errors (an unknown option) precede its --json callback:
    # the raw arguments tell whether --json was among them.
    return bool(ctx.meta.get(JSON_META) or ctx.meta.get(ASKED_META))


def _fail_with(exc: Exception, *, as_json: bool) -> None:
    described = describe(exc)
    if described is None:
        raise exc
    error, reason, message, code = described
    fail(message, error=error, reason=reason, code=code, as_json=as_json)


@click.group(cls=KeywardGroup)
@click.option(
    "--force-last-admin",
    is_flag=True,
    help="Allow removing the last client that holds every keyward.* endpoint.",
)
@click.version_option(package_name="keyward")
@click.pass_context
def main(click_ctx: click.Context, force_last_admin: bool) -> None:
    """Keyward: API clients, keys, and leak response."""
    install_scrubbing()
    click_ctx.obj = CliContext(meta=click_ctx.meta, force_last_admin=force_last_admin)
    click_ctx.call_on_close(click_ctx.obj.close)
