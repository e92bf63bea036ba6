"""What every CLI command shares: settings, one transaction, output and error handling."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property

import click
from sqlalchemy.exc import SQLAlchemyError

from keystore.config import Settings
from keystore.db import make_engine, make_session_factory, transaction
from keystore.errors import KeywardError, ValidationError
from keystore.migrate import pending, prepare
from keystore.privileges import Caller, operator
from keystore.redaction import scrub
from keystore.validate import MAX_ID

# Ids on the command line: out of range is a usage error, never a database overflow.
ID = click.IntRange(1, MAX_ID)


class CliContext:
    def __init__(self, *, as_json: bool, force_last_admin: bool = False) -> None:
        self.as_json = as_json
        self.actor = f"cli:{_login()}"
        # The operator holds everything; removing the last full admin takes an explicit flag.
        self.caller: Caller = operator(force=force_last_admin)

    @cached_property
    def settings(self) -> Settings:
        return Settings.from_env()

    @cached_property
    def engine(self):
        return make_engine(self.settings.database_url)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()

    @contextmanager
    def session(self, *, migrate: bool = True) -> Iterator:
        """One transaction; the embedded mode migrates its own SQLite file first."""
        if migrate:
            self.ensure_schema()
        with transaction(make_session_factory(self.engine)) as session:
            yield session

    def ensure_schema(self) -> None:
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


class KeywardGroup(click.Group):
    """Turns every expected failure into one line on stderr, never a traceback."""

    def make_context(self, *args, **kwargs) -> click.Context:
        try:  # the top-level options are parsed here, outside invoke()
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            _fail(f"error: {exc.format_message()}", code=exc.exit_code)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            # A usage mistake (bad option, id out of range): one line, click's exit status 2.
            _fail(f"error: {exc.format_message()}", code=exc.exit_code)
        except KeywardError as exc:
            hint = " (to do it anyway: keyward --force-last-admin ...)"
            _fail(f"error: {exc.message}{hint if exc.reason == 'last_admin' else ''}")
        except SQLAlchemyError as exc:
            _fail(f"error: database: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        except UnicodeError:
            # Arguments that are not valid UTF-8 arrive as lone surrogates: no database takes them.
            _fail("error: arguments must be valid UTF-8 text")
        except OSError as exc:
            _fail(f"error: {exc}")


def _fail(message: str, *, code: int = 1) -> None:
    # One line, and never a token (click quotes the offending value back).
    click.echo(scrub(" ".join(message.split())), err=True)
    sys.exit(code)


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
