"""Run git: one place that builds the command line and turns failures into ScanError.

Arguments are always a list (never a shell string), so a path or a revision
cannot be read as shell syntax.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from scanner.errors import ScanError

# Paths are written as UTF-8 as they are, not octal-escaped, so findings name real files.
_CONFIG = ("-c", "core.quotePath=false", "-c", "safe.directory=*")


def git_executable() -> str:
    """The absolute path of git, or a ScanError if it is not installed."""
    found = shutil.which("git")
    if found is None:
        raise ScanError("git is not installed", reason="git_missing")
    return found


def git_command(repo: Path | str | None, args: Sequence[str]) -> list[str]:
    """``git -C repo <config> args``: the argument list every call uses."""
    base = [git_executable(), *_CONFIG]
    if repo is not None:
        base += ["-C", str(repo)]
    return [*base, *args]


def run_git(
    repo: Path | str | None,
    args: Sequence[str],
    *,
    stdin: bytes | None = None,
    ok_codes: Sequence[int] = (0,),
    env: Mapping[str, str] | None = None,
) -> bytes:
    """Run git to completion and return its standard output; raise ScanError if it fails.

    ``env`` adds variables (e.g. ``GIT_CONFIG_*`` carrying credentials, which then never
    appear on a command line that other users could read).
    """
    completed = subprocess.run(  # noqa: S603 - an argument list, no shell
        git_command(repo, args),
        input=stdin,
        capture_output=True,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )
    if completed.returncode not in ok_codes:
        raise ScanError(describe_failure(args=args, stderr=completed.stderr), reason="git_failed")
    return completed.stdout


def open_git(
    repo: Path | str, args: Sequence[str], *, stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE
) -> subprocess.Popen:
    """Start a git process; by default the caller reads its output from pipes."""
    return subprocess.Popen(  # noqa: S603 - an argument list, no shell
        git_command(repo, args),
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
    )


def describe_failure(*, args: Sequence[str], stderr: bytes) -> str:
    """One line: the git subcommand and the last line git wrote to stderr."""
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    detail = lines[-1] if lines else "no message"
    return f"git {args[0] if args else ''} failed: {detail}"


def is_repository(path: Path | str) -> bool:
    """True for a work tree or a bare repository (git answers rev-parse --git-dir)."""
    try:
        run_git(path, ["rev-parse", "--git-dir"])
    except ScanError:
        return False
    return True
