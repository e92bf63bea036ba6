"""Run git: one place that builds the command line and turns failures into ScanError.

Arguments are always a list (never a shell string), so a path or a revision
cannot be read as shell syntax.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from scanner.errors import ScanError

# Paths are written as UTF-8 as they are, not octal-escaped, so findings name real files.
_CONFIG = ("-c", "core.quotePath=false", "-c", "safe.directory=*")


class GitFailure(ScanError):
    """git exited with an error; ``stderr`` keeps all it said (for logs and classification)."""

    def __init__(self, message: str, *, stderr: str) -> None:
        super().__init__(message, reason="git_failed")
        self.stderr = stderr


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
    timeout: float | None = None,
) -> bytes:
    """Run git to completion and return its standard output; raise ScanError if it fails.

    ``env`` adds variables (e.g. ``GIT_CONFIG_*`` carrying credentials, which then never
    appear on a command line that other users could read).  With ``timeout``, git runs in
    its own process group and the whole group (git-remote-https, ssh) is killed when the
    time is up: a server that accepts and never answers cannot hold a worker.
    """
    process = subprocess.Popen(  # noqa: S603 - an argument list, no shell
        git_command(repo, args),
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=None if env is None else {**os.environ, **env},
        start_new_session=timeout is not None,
    )
    try:
        stdout, stderr = process.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        raise ScanError(
            f"git {args[0] if args else ''} did not finish within {timeout:g} s", reason="timeout"
        ) from None
    except BaseException:
        kill_group(process)
        raise
    if process.returncode not in ok_codes:
        raise GitFailure(
            describe_failure(args=args, stderr=stderr),
            stderr=stderr.decode("utf-8", errors="replace"),
        )
    return stdout


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process and its children, then reap it (pipes closed, no zombie)."""
    try:
        if os.getpgid(process.pid) == process.pid:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except ProcessLookupError:
        pass
    # A grandchild outside the group may hold a pipe open: stop waiting for it.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=5)


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
