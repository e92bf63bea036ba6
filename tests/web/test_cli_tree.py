"""The ``keyward`` command tree: every command documented, ``--json`` everywhere, a true table."""

from __future__ import annotations

import click
import pytest

from web.cli import COMMANDS, main


def walk(group: click.Group, ctx: click.Context, path: tuple[str, ...] = ()):
    """Every (path, command) below ``group``, loading the lazy ones."""
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from walk(command, click.Context(command, parent=ctx), (*path, name))


def tree():
    ctx = click.Context(main)
    return list(walk(main, ctx))


def test_the_tree_is_complete():
    names = {" ".join(path) for path, _ in tree()}
    # A few commands from every module of the table, so a broken loader cannot pass empty.
    assert {
        "client list",
        "key revoke",
        "scan",
        "serve",
        "repo scan",
        "signing-key rotate",
    } <= names
    assert len(names) > 60


@pytest.mark.parametrize(("path", "command"), tree(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_has_help(path, command):
    assert (command.help or "").strip(), f"keyward {' '.join(path)} has no help text"


@pytest.mark.parametrize(("path", "command"), tree(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_takes_json(path, command):
    assert any("--json" in getattr(param, "opts", ()) for param in command.params), path


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_says_what_the_command_says(name):
    """``keyward --help`` reads the table; it must match the command's own first sentence."""
    command = main.get_command(click.Context(main), name)
    assert command.name == name
    assert command.get_short_help_str(limit=1000) == COMMANDS[name][1]
