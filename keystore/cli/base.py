"""What every CLI command shares: settings, one transaction, output and error handling.

Imported by every command (``keyward --help`` and ``keyward scan`` included), so it
loads only click and keystore's plain-Python modules; the database, the migrations
and the privilege rule are imported when a command first uses them.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

import click

from keystore.errors import KeywardError, ValidationError
from keystore.redaction import scrub
from keystore.validate import MAX_ID

# Ids on the command line: out of range is a usage error, never a database overflow.
ID = click.IntRange(1, MAX_ID)

# ``--json`` may follow any group or command; the flag lands in the context chain's
# shared ``meta`` so output and errors of the whole invocation agree.
JSON_META = "keyward.json"


class CliContext:
    def __init__(self, *, meta: dict, force_last_admin: bool = False) -> None:
        self.meta = meta
        self.actor = f"cli:{_login()}"
        self.force_last_admin = force_last_admin

    @property
    def as_json(self) -> bool:
        return bool(self.meta.get(JSON_META))

    @cached_property
    def caller(self):
        """The operator holds everything; removing the last full admin takes an explicit flag."""
        from keystore.privileges import operator

        return operator(force=self.force_last_admin)

    @cached_property
    def settings(self):
        from keystore.config import Settings

        return Settings.from_env()

    @cached_property
    def engine(self):
        from keystore.db import make_engine

        engine = make_engine(self.settings.database_url)
        _announce_new_database(engine, self.settings, as_json=self.as_json)
        return engine

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    @contextmanager
    def session(self, *, migrate: bool = True) -> Iterator:
        """One transaction; the embedded mode migrates its own SQLite file first."""
        from keystore.db import make_session_factory, transaction

        if migrate:
            self.ensure_schema()
        with transaction(make_session_factory(self.engine)) as session:
            yield session

    def ensure_schema(self) -> None:
        from keystore.migrate import pending, prepare

        if not pending(self.engine):
            return
        if not self.settings.embedded:
            raise KeywardError(
                "the database schema is not up to date; run `keyward migrate`",
                reason="schema_outdated",
            )
        prepare(self.engine)

    def emit(self, data, human: str | list[str]) -> None:
        """Print ``data`` as JSON with --json, else the human text."""
        if self.as_json:
            click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))
            return
        for line in [human] if isinstance(human, str) else human:
            click.echo(line)


pass_context = click.make_pass_decorator(CliContext)


def _set_json(ctx: click.Context, _param, value: bool) -> None:
    if value:
        ctx.meta[JSON_META] = True


def _json_option() -> click.Option:
    return click.Option(
        ["--json"],
        is_flag=True,
        expose_value=False,
        is_eager=True,  # before the other values, so their errors come out as JSON too
        callback=_set_json,
        help="Print JSON (errors: one JSON object on stderr).",
    )


class Command(click.Command):
    """A command that takes ``--json`` wherever it stands."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(_json_option())


class Group(click.Group):
    """A group whose commands and subgroups all take ``--json``."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(_json_option())


def fail(message: str, *, error: str, reason: str, code: int = 1, as_json: bool = False) -> None:
    """End the command: one line ``error: ...``, or with --json one object, on stderr."""
    # One line, and never a token (click quotes the offending value back).
    message = scrub(" ".join(message.split()))
    if as_json:
        line = json.dumps({"error": error, "reason": reason, "message": message})
    else:
        line = f"error: {message}"
    click.echo(line, err=True)
    sys.exit(code)


def wants_json(args: list[str]) -> bool:
    """``--json`` among the options (before a ``--``): for errors raised while parsing them."""
    return "--json" in (args[: args.index("--")] if "--" in args else args)


def describe(exc: BaseException) -> tuple[str, str, str, int] | None:
    """``(error, reason, message, exit code)`` for an expected failure, else None."""
    if isinstance(exc, click.ClickException):
        # A usage mistake (bad option, id out of range): click's exit status 2.
        return "usage", "usage", exc.format_message(), exc.exit_code
    if isinstance(exc, click.Abort):
        return "aborted", "aborted", "aborted, nothing changed", 1
    if isinstance(exc, KeywardError):
        hint = " (to do it anyway: keyward --force-last-admin ...)"
        message = exc.message + (hint if exc.reason == "last_admin" else "")
        return exc.error, exc.reason, message, 1
    database = sys.modules.get("sqlalchemy.exc")  # loaded if the command used the database
    if database is not None and isinstance(exc, database.SQLAlchemyError):
        name = type(exc).__name__
        return "database", "database", f"database: {name}: {str(exc).splitlines()[0]}", 1
    if isinstance(exc, UnicodeError):
        # Arguments that are not valid UTF-8 arrive as lone surrogates: no database takes them.
        return "invalid", "bad_text", "arguments must be valid UTF-8 text", 1
    if isinstance(exc, OSError):
        return "os_error", "os_error", str(exc), 1
    return None


def confirm(prompt: str, *, yes: bool) -> None:
    """Ask on a terminal; elsewhere (scripts, pipes) only ``--yes`` confirms."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError("this cannot be undone: confirm with --yes (stdin is no terminal)")
    click.confirm(prompt, abort=True)


def confirmation(prompt: str):
    """``--yes`` for a command that cannot be undone; without it, ask (on a terminal only)."""
    return click.option(
        "--yes",
        is_flag=True,
        expose_value=False,
        callback=lambda _ctx, _param, yes: confirm(prompt, yes=yes),
        help="Do not ask; required when stdin is not a terminal.",
    )


# Where earlier Keyward versions kept its embedded database: relative to the current directory.
LEGACY_DATABASE = os.path.join("keyward-data", "keyward.db")


def _announce_new_database(engine, settings, *, as_json: bool) -> None:
    """Say so on stderr when this command is about to create an embedded database.

    A new empty database where the operator expected theirs (another data directory)
    would otherwise show only as "no role 'reader'" errors.
    """
    path = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not path or path == ":memory:":
        return
    if os.path.exists(path):
        return
    message = (
        f"creating a new embedded database at {path} "
        f"(data directory {settings.data_dir}; set KEYWARD_DATA_DIR to use another)"
    )
    if os.path.exists(LEGACY_DATABASE) and os.path.abspath(LEGACY_DATABASE) != path:
        message += (
            f"; ./{LEGACY_DATABASE} is a database of an older Keyward (its default data "
            "directory was ./keyward-data): KEYWARD_DATA_DIR=./keyward-data keeps using it"
        )
    notice(message, reason="new_database", as_json=as_json)


def notice(message: str, *, reason: str, as_json: bool) -> None:
    """Tell the operator something on stderr: ``keyward: ...``, or with --json one object."""
    if as_json:
        click.echo(json.dumps({"notice": reason, "message": message}), err=True)
    else:
        click.echo(f"keyward: {message}", err=True)


def _login() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def split_csv(values: tuple[str, ...]) -> list[str]:
    """Accept ``--env dev --env prod`` and ``--env dev,prod`` alike."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def ref(value: str) -> int | str:
    """Objects are named by id (digits) or by name."""
    if not (value.isascii() and value.isdigit()):
        return value
    if len(value) > 10 or not 1 <= int(value) <= MAX_ID:
        raise ValidationError(f"an id is a whole number from 1 to {MAX_ID}", reason="bad_id")
    return int(value)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"
