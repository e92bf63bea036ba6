"""Which git objects a history scan reads, and how they are split between workers.

A full scan lists every object in pack order (``--unordered``): reading objects in
the order they are stored keeps git's delta-base cache warm.  An incremental scan
asks ``rev-list`` for the commits and blobs reachable from the new tips and not
from the old ones.  Trees are never read: they hold names and ids, not content.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from scanner.gitcmd import run_git

T = TypeVar("T")
_CHECK_FORMAT = "--batch-check=%(objectname) %(objecttype) %(objectsize)"


def all_objects(repo: Path | str) -> list[tuple[bytes, int]]:
    """Every blob, commit and tag in the object store, in pack order, with its size."""
    listing = run_git(repo, ["cat-file", "--batch-all-objects", "--unordered", _CHECK_FORMAT])
    seen: set[bytes] = set()
    objects = []
    for row in listing.splitlines():
        object_id, object_type, size = row.split(b" ")
        # An object stored in two packs is listed twice: read it once.
        if object_type != b"tree" and object_id not in seen:
            seen.add(object_id)
            objects.append((object_id, int(size)))
    return objects


def new_objects(repo: Path | str, *, revs: Sequence[str]) -> list[tuple[bytes, int]]:
    """Commits and blobs reachable from ``revs`` (``^id`` excludes; sizes unknown: 1)."""
    if not any(not rev.startswith("^") for rev in revs):
        return []
    listing = run_git(
        repo,
        [
            "rev-list",
            "--objects",
            "--no-object-names",
            "--filter=object:type=blob",
            "--missing=allow-any",
            "--stdin",
        ],
        stdin=("\n".join(revs) + "\n").encode("ascii"),
    )
    return [(object_id, 1) for object_id in listing.split()]


def split_parts(objects: list[tuple[T, int]], *, parts: int) -> list[list[T]]:
    """Cut the list of ``(item, size)`` into ``parts`` runs of about the same total size."""
    total = sum(size for _, size in objects) or 1
    runs: list[list[T]] = [[]]
    done = 0
    for object_id, size in objects:
        if done >= total * len(runs) / parts and len(runs) < parts:
            runs.append([])
        runs[-1].append(object_id)
        done += size
    return [run for run in runs if run]
