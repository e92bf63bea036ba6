"""The whole history's ``git log --raw``, read in the background during a full scan.

Naming the commit and path of a blob needs a walk of every commit's diff.  Run
after the scan it adds its full time; started at the beginning with the lowest
CPU priority it mostly runs on the core a finishing worker leaves idle, so a full
scan's attribution costs little wall time.  When the scan finds nothing it is
stopped.  Lookups are byte searches in the output, not a parse of all of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from scanner.errors import ScanError
from scanner.gitcmd import describe_failure, open_git

LOG_ARGS = ["log", "--all", "--raw", "-z", "--no-abbrev", "--no-renames", "--root"]
# Blob ids searched for in one pass of the log.
_GROUP = 64
_HEX = re.compile(rb"[0-9a-f]+")


class RawLog:
    """``git log --all --raw -z --format='commit %H'``, written to an unnamed temporary file.

    A file rather than a pipe: nothing has to drain it, so the scan forks its
    worker processes from a parent that runs no extra threads.
    """

    def __init__(self, repo: Path | str) -> None:
        # Closed by wait() or cancel(), which every scan calls.
        self._out = tempfile.TemporaryFile()  # noqa: SIM115
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = open_git(
            repo, [*LOG_ARGS, "--format=commit %H"], stdin=None, stdout=self._out, stderr=self._err
        )
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, 19)
        self.output = b""

    def wait(self) -> RawLog:
        """Let git finish (at normal priority if allowed: the scan is over), keep the output."""
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, 0)
        self._process.wait()
        self.output, errors = self._read(self._out), self._read(self._err)
        if self._process.returncode != 0:
            raise ScanError(describe_failure(args=["log"], stderr=errors), reason="git_failed")
        return self

    def cancel(self) -> None:
        """Stop git: the scan found nothing to attribute."""
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        self._process.wait()
        self._out.close()
        self._err.close()

    @staticmethod
    def _read(file) -> bytes:
        with file:
            file.seek(0)
            return file.read()

    def has_commit(self, commit: str) -> bool:
        """True when ``commit`` is reachable from a ref (``--all`` listed it)."""
        return self.output.find(b"commit " + commit.encode("ascii") + b"\0") >= 0

    def origins(self, blobs: Iterable[str]) -> dict[str, tuple[str, str]]:
        """``(commit, path)`` of the oldest commit whose diff adds each blob, where one does.

        One regex pass per group of blobs (searching once per blob costs a pass each);
        the log lists the newest commits first, so the last match is the oldest.
        """
        wanted = sorted(blob.encode("ascii") for blob in blobs)
        found: dict[str, tuple[str, str]] = {}
        for start in range(0, len(wanted), _GROUP):
            group = b"|".join(wanted[start : start + _GROUP])
            # A raw entry's new blob id: then a space, a status letter (A, M, T...) and NUL.
            entries = re.compile(rb" (" + group + rb") [ACMT][0-9]*\0")
            last = {match.group(1): match for match in entries.finditer(self.output)}
            for blob, match in last.items():
                found[blob.decode("ascii")] = self._entry_at(match.start(), match.end())
        return found

    def _entry_at(self, position: int, path_start: int) -> tuple[str, str]:
        """The commit owning the raw entry at ``position`` and the entry's path."""
        path_end = self.output.find(b"\0", path_start)
        commit_at = self.output.rfind(b"commit ", 0, position) + len(b"commit ")
        # 40 hex digits, or 64 in a SHA-256 repository.
        commit = _HEX.match(self.output, commit_at).group().decode("ascii")
        return commit, self.output[path_start:path_end].decode("utf-8", errors="replace")
