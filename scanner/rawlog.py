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
import threading
from pathlib import Path

from scanner.errors import ScanError
from scanner.gitcmd import describe_failure, open_git

LOG_ARGS = ["log", "--all", "--raw", "-z", "--no-abbrev", "--no-renames", "--root"]
# After a new blob id in a raw entry: a space, a status letter (A, M, T, C...) and NUL.
_STATUS = re.compile(rb" [ACMT][0-9]*\0")


class RawLog:
    """``git log --all --raw -z --format='commit %H'`` collected on a thread."""

    def __init__(self, repo: Path | str) -> None:
        self._process = open_git(repo, [*LOG_ARGS, "--format=commit %H"], stdin=None)
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, 19)
        self._chunks: list[bytes] = []
        self._errors: list[bytes] = []
        self._threads = [
            threading.Thread(target=self._drain, args=(self._process.stdout, self._chunks)),
            threading.Thread(target=self._drain, args=(self._process.stderr, self._errors)),
        ]
        for thread in self._threads:
            thread.start()
        self.output = b""

    @staticmethod
    def _drain(stream, into: list[bytes]) -> None:
        into.extend(iter(lambda: stream.read(1 << 20), b""))

    def wait(self) -> RawLog:
        """Let git finish (at normal priority now: the scan is over) and keep the output."""
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, self._process.pid, 0)
        self._finish()
        if self._process.returncode != 0:
            message = describe_failure(args=["log"], stderr=b"".join(self._errors))
            raise ScanError(message, reason="git_failed")
        self.output = b"".join(self._chunks)
        return self

    def cancel(self) -> None:
        """Stop git: the scan found nothing to attribute."""
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        self._finish()

    def _finish(self) -> None:
        for thread in self._threads:
            thread.join()
        self._process.wait()
        self._process.stdout.close()
        self._process.stderr.close()

    def has_commit(self, commit: str) -> bool:
        """True when ``commit`` is reachable from a ref (``--all`` listed it)."""
        return self.output.find(b"commit " + commit.encode("ascii") + b"\0") >= 0

    def origin(self, blob: str) -> tuple[str, str] | None:
        """``(commit, path)`` of the oldest commit whose diff adds ``blob``.

        The log lists the newest commits first, so the search runs backwards.
        """
        needle = b" " + blob.encode("ascii")
        position = self.output.rfind(needle)
        while position >= 0:
            status = _STATUS.match(self.output, position + len(needle))
            if status is not None:
                return self._entry_at(position, status.end())
            position = self.output.rfind(needle, 0, position)
        return None

    def _entry_at(self, position: int, path_start: int) -> tuple[str, str]:
        """The commit owning the raw entry at ``position`` and the entry's path."""
        path_end = self.output.find(b"\0", path_start)
        commit_at = self.output.rfind(b"commit ", 0, position) + len(b"commit ")
        commit = self.output[commit_at : commit_at + 40].decode("ascii")
        return commit, self.output[path_start:path_end].decode("utf-8", errors="replace")
