"""A full scan reads the object store itself: every pack and loose object, in parallel.

This is faster than any ``git cat-file`` pass (see ``packplan.py``), but it
reads only the common layout: SHA-1 ids, version 2 pack indexes, no alternates.
For anything else :func:`scan_store` returns None and the scan asks git.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scanner.gitcmd import run_git
from scanner.loose import loose_paths
from scanner.matcher import TokenMatcher
from scanner.objectlist import split_parts
from scanner.packindex import UnsupportedStore, read_index
from scanner.packplan import PackPlan, plan_pack
from scanner.packread import ReadResult, Share, scan_share
from scanner.workers import run_jobs

# Below this much packed data one process is faster than starting a pool.
POOL_THRESHOLD = 8 << 20
SHARES_PER_WORKER = 2


@dataclass(frozen=True)
class _StorePlan:
    packs: list[PackPlan]
    loose: list[str]

    def objects(self) -> int:
        return sum(plan.searched() for plan in self.packs) + len(self.loose)

    def packed_bytes(self) -> int:
        return sum(pack.size for pack in self.packs)


def scan_store(
    repo: Path | str,
    *,
    matcher: TokenMatcher,
    workers: int,
    start: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReadResult | None:
    """Every valid token in the object store of ``repo``; None when git must read it."""
    objects = _objects_directory(repo)
    if objects is None:
        return None
    try:
        plan = _plan_store(objects)
    except UnsupportedStore:
        return None
    if start is not None:
        start(plan.objects())
    workers = workers if plan.packed_bytes() >= POOL_THRESHOLD else 1
    shares = _shares(plan, count=workers * SHARES_PER_WORKER if workers > 1 else 1)
    jobs = [(share, matcher) for share in shares]
    results = run_jobs(scan_share, jobs, shared=plan.packs, workers=workers, progress=progress)
    found = _merge(results)
    # An object stored twice (two packs, or packed and loose) is read twice: report it once.
    found.hits = list(dict.fromkeys(found.hits))
    return found


def _objects_directory(repo: Path | str) -> Path | None:
    """The repository's ``objects`` directory, if this reader understands its layout."""
    output = run_git(repo, ["rev-parse", "--git-path", "objects", "--show-object-format"])
    path, object_format = output.decode().splitlines()[:2]
    objects = Path(repo, path)  # relative paths are relative to repo (git runs with -C)
    alternates = objects / "info" / "alternates"
    if object_format != "sha1" or (alternates.exists() and alternates.read_bytes().strip()):
        return None
    return objects


def _plan_store(objects: Path) -> _StorePlan:
    packs = []
    for index_path in sorted((objects / "pack").glob("*.idx")):
        pack_path = index_path.with_suffix(".pack")
        # Git itself reads a pack only when both files are there.
        if pack_path.exists():
            packs.append(plan_pack(pack_path, read_index(index_path)))
    return _StorePlan(packs=packs, loose=loose_paths(objects))


def _shares(plan: _StorePlan, *, count: int) -> list[Share]:
    """Cut the delta trees into ``count`` runs of about equal work, in pack order.

    A tree's work is guessed as its root's packed size times its number of
    objects: each delta resolves to about its base's size, and all are searched.
    """
    trees = []
    for number, pack in enumerate(plan.packs):
        weights, offsets, ends = pack.weights(), pack.offsets, pack.ends
        trees += [
            ((number, root), (ends[root] - offsets[root]) * weights[root]) for root in pack.roots
        ]
    shares = [Share() for _ in range(count)]
    for share, run in zip(shares, split_parts(trees, parts=count), strict=False):
        for number, root in run:
            share.roots.setdefault(number, []).append(root)
    for position, path in enumerate(plan.loose):
        shares[position % count].loose.append(path)
    return [share for share in shares if share.roots or share.loose]


def _merge(results: list[ReadResult]) -> ReadResult:
    merged = ReadResult()
    for result in results:
        merged.hits += result.hits
        merged.objects += result.objects
        merged.bytes += result.bytes
    return merged
