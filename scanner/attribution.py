"""Name the commit and path of the few objects that hold tokens.

Only blobs with findings are looked up, in one ``git log --raw --find-object``
pass over the scanned range (git filters the diffs itself, in C).  A blob that
appears in no diff is either brought in by a merge (a second pass with ``-m``
finds it) or not reachable from the refs at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from scanner.gitcmd import run_git

# How many --find-object options one git log call carries.
BATCH = 200


PLAIN, MERGES = (), ("-m",)


def blob_origins(
    repo: Path | str, blob_ids: Iterable[str], *, revs: Sequence[str], passes=(PLAIN, MERGES)
):
    """Map each blob id to ``(commit, path)`` of the oldest commit in ``revs`` that adds it."""
    pending = sorted(set(blob_ids))
    origins: dict[str, tuple[str, str]] = {}
    for extra in passes:
        for start in range(0, len(pending), BATCH):
            chunk = pending[start : start + BATCH]
            origins.update(_log_pass(repo, chunk, revs=revs, extra=extra))
        pending = [blob for blob in pending if blob not in origins]
        if not pending:
            break
    return origins


def _log_pass(repo, blob_ids: Sequence[str], *, revs: Sequence[str], extra: Sequence[str]):
    """One ``git log`` over ``revs`` that prints only the diffs touching ``blob_ids``."""
    args = ["log", "--raw", "-z", "--no-abbrev", "--no-renames", "--root", "--format=commit %H"]
    args += [*extra, *(f"--find-object={blob}" for blob in blob_ids)]
    rev_args, stdin = rev_input(revs)
    output = run_git(repo, [*args, *rev_args], stdin=stdin)
    wanted = set(blob_ids)
    origins = {}
    # Newest first: the last commit seen adding a blob is the oldest one.
    for commit, new_blob, path in parse_raw_log(output):
        if new_blob in wanted:
            origins[new_blob] = (commit, path)
    return origins


def parse_raw_log(output: bytes):
    """Yield ``(commit, new blob id, path)`` from ``git log -z --raw --format='commit %H'``."""
    commit = None
    fields = iter(output.split(b"\0"))
    for field in fields:
        field = field.lstrip(b"\n")
        if field.startswith(b"commit "):
            commit = field[7:].decode("ascii")
        elif field.startswith(b":") and commit is not None:
            path = next(fields, b"").decode("utf-8", errors="replace")
            new_blob = field.split(b" ")[3].decode("ascii")
            yield commit, new_blob, path


def rev_input(revs: Sequence[str]) -> tuple[list[str], bytes | None]:
    """Arguments and stdin for a revision list: ids go through stdin (there may be
    thousands of tips), options such as ``--all`` on the command line (git refuses
    them in ``--stdin`` mode)."""
    options = [rev for rev in revs if rev.startswith("-")]
    ids = [rev for rev in revs if not rev.startswith("-")]
    if not ids:
        return options, None
    return [*options, "--stdin"], ("\n".join(ids) + "\n").encode("ascii")
