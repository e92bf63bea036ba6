"""Scan a git repository's history: every reachable blob, commit message and tag once.

The service layer calls :func:`scan_repository`; the CLI adds output and exit codes.

Full scans read the whole object store, packs and loose objects, without git
(``objectstore.py``; git reads what that reader cannot) and attribute the (rare)
objects with tokens afterwards; objects no ref reaches (say, a blob that was
``git add``-ed and never committed) are dropped unless ``include_unreachable``.
Incremental scans read only what the new ref tips added since a saved state.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, Protocol

from scanner import objectlist
from scanner.batch import RawHit
from scanner.errors import ScanError
from scanner.findings import Finding, sort_key
from scanner.gitcmd import is_repository, run_git
from scanner.hits import first_appearances, lookup_full, lookup_range, to_findings
from scanner.matcher import DEFAULT_PREFIXES, TokenMatcher
from scanner.rawlog import RawLog
from scanner.state import ScanState, current_state, present_tips

POOL_THRESHOLD = 32 << 20
PARTS_PER_WORKER = 2
PART_BYTES = 512 << 20


@dataclass
class ScanStats:
    """How much a scan read and what it left out."""

    objects: int = 0
    bytes: int = 0
    unreachable_dropped: int = 0
    notes: list[str] = field(default_factory=list)


class ProgressSink(Protocol):
    """Told the objects to read, then the objects read as the scan goes (``progress.py``)."""

    def start(self, total: int) -> None: ...

    def advance(self, count: int) -> None: ...


class HistoryScan(NamedTuple):
    findings: list[Finding]
    state: ScanState
    stats: ScanStats


class _Reading(NamedTuple):
    """The hits of what was read, and the revisions that define reachability for them."""

    hits: list[RawHit]
    stats: ScanStats
    revs: list[str]


def scan_repository(
    path: Path | str,
    *,
    since_refs: ScanState | Mapping[str, str] | None = None,
    since_rev: str | None = None,
    prefixes: Iterable[str] = DEFAULT_PREFIXES,
    workers: int | None = None,
    include_unreachable: bool = False,
    progress: ProgressSink | None = None,
    inline_allow: bool = False,
) -> HistoryScan:
    """Find every valid token in the history of the repository at ``path``.

    ``since_refs`` (a previous scan's state) limits the scan to objects new since
    those tips; ``since_rev`` to what ``HEAD`` added since that revision.  Returns
    the findings, the state to pass next time, and statistics.  ``inline_allow``
    honours ``keyward:allow`` on a token's line (the CLI's choice; the service, which
    revokes what leaked, never lets a committed comment hide a token).
    """
    matcher = TokenMatcher(prefixes, inline_allow=inline_allow)
    if not is_repository(path):
        raise ScanError(f"not a git repository: {path}", reason="not_a_repository")
    full = since_refs is None and since_rev is None
    # The attribution log of a full scan starts first: it then runs beside the reading
    # instead of after it.
    log = RawLog(path) if full else None
    try:
        state = current_state(path)
        reader = _read_store if full else _read_range
        hits, stats, revs = reader(
            path,
            state=state,
            since_refs=since_refs,
            since_rev=since_rev,
            matcher=matcher,
            workers=workers or len(os.sched_getaffinity(0)),
            progress=progress,
        )
    except BaseException:
        _stop(log)
        raise
    if not hits:
        _stop(log)
        return HistoryScan([], state, stats)
    lookup = lookup_full(path, hits, log=log) if log else lookup_range(path, hits, revs=revs)
    findings, stats.unreachable_dropped = to_findings(hits, lookup, keep=include_unreachable)
    findings = first_appearances(path, findings)
    return HistoryScan(sorted(findings, key=sort_key), state, stats)


def _stop(log: RawLog | None) -> None:
    """Stop the background log when there is nothing to attribute."""
    if log is not None:
        log.cancel()


def _read_store(path, *, matcher, workers, progress, **_) -> _Reading:
    """Every object in the store: read directly when possible, else listed and read by git."""
    # Imported at first use, not with this module: the pack reader and the process
    # pool take about 25 ms to load, time in which the attribution log already runs.
    from scanner.objectstore import scan_store

    store = scan_store(
        path,
        matcher=matcher,
        workers=workers,
        start=progress.start if progress is not None else None,
        progress=progress.advance if progress is not None else None,
    )
    if store is not None:
        return _Reading(store.hits, ScanStats(objects=store.objects, bytes=store.bytes), ["--all"])
    return _read_listed(path, objectlist.all_objects(path), ["--all"], matcher, workers, progress)


def _read_range(path, *, state, since_refs, since_rev, matcher, workers, progress) -> _Reading:
    """What the new tips added since the saved tips or the given revision."""
    if since_rev is not None:
        old = [_resolve(path, since_rev)]
        new = ["HEAD"]
    else:
        old_state = since_refs if isinstance(since_refs, ScanState) else ScanState(dict(since_refs))
        old = present_tips(path, old_state.tips())
        new = state.tips()
        if set(new) <= set(old):
            return _Reading([], ScanStats(), [])
    # "^id" rather than "--not": git before 2.42 refuses options in --stdin mode.
    revs = [*new, *(f"^{tip}" for tip in old)]
    listed = objectlist.new_objects(path, revs=revs)
    return _read_listed(path, listed, revs, matcher, workers, progress)


def _read_listed(path, objects, revs, matcher, workers, progress) -> _Reading:
    """Read listed objects through ``git cat-file``, in a process pool when there is enough."""
    from scanner.workers import run_jobs, scan_part  # at first use, as in _read_store

    stats = ScanStats(objects=len(objects), bytes=sum(size for _, size in objects))
    # A process pool costs more than it saves on a small repository or a short range.
    workers = 1 if stats.bytes < POOL_THRESHOLD else workers
    # Several parts per worker even out the load on a large store; on a small one
    # each extra git process and cold delta cache costs more than it balances.
    per_worker = max(1, min(PARTS_PER_WORKER, stats.bytes // PART_BYTES))
    parts = objectlist.split_parts(objects, parts=workers * per_worker)
    if progress is not None:
        progress.start(stats.objects)
    advance = progress.advance if progress is not None else None
    jobs = [(part, matcher) for part in parts]
    found = run_jobs(scan_part, jobs, shared=str(path), workers=workers, progress=advance)
    return _Reading([hit for hits in found for hit in hits], stats, revs)


def _resolve(path, revision: str) -> str:
    """The commit id of ``revision``, or a ScanError that names it."""
    if revision.startswith("-"):
        raise ScanError(f"not a revision: {revision}", reason="bad_revision")
    output = run_git(
        path, ["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], ok_codes=(0, 1)
    )
    if not output.strip():
        raise ScanError(f"unknown revision: {revision}", reason="bad_revision")
    return output.decode().strip()
