"""Scan a git repository's history: every reachable blob, commit message and tag once.

The service layer calls :func:`scan_repository`; the CLI adds output and exit codes.

Full scans read the whole object store in pack order and attribute the (rare)
objects with tokens afterwards; objects no ref reaches (say, a blob that was
``git add``-ed and never committed) are dropped unless ``include_unreachable``.
Incremental scans read only what the new ref tips added since a saved state.
"""

from __future__ import annotations

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
from scanner.workers import PARTS_PER_WORKER, default_workers, scan_parts

POOL_THRESHOLD = 32 << 20
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


@dataclass(frozen=True)
class _Plan:
    """What to read and the revisions that define reachability for attribution."""

    objects: list[tuple[bytes, int]]
    revs: list[str]
    full: bool


def scan_repository(
    path: Path | str,
    *,
    since_refs: ScanState | Mapping[str, str] | None = None,
    since_rev: str | None = None,
    prefixes: Iterable[str] = DEFAULT_PREFIXES,
    workers: int | None = None,
    include_unreachable: bool = False,
    progress: ProgressSink | None = None,
) -> HistoryScan:
    """Find every valid token in the history of the repository at ``path``.

    ``since_refs`` (a previous scan's state) limits the scan to objects new since
    those tips; ``since_rev`` to what ``HEAD`` added since that revision.  Returns
    the findings, the state to pass next time, and statistics.
    """
    matcher = TokenMatcher(prefixes)
    if not is_repository(path):
        raise ScanError(f"not a git repository: {path}", reason="not_a_repository")
    full = since_refs is None and since_rev is None
    # The attribution log of a full scan starts first: it then runs beside the listing
    # and the reading instead of after them.
    log = RawLog(path) if full else None
    try:
        state = current_state(path)
        plan = _plan(path, state=state, since_refs=since_refs, since_rev=since_rev)
    except BaseException:
        _stop(log)
        raise
    stats = ScanStats(objects=len(plan.objects), bytes=sum(size for _, size in plan.objects))
    if not plan.objects:
        _stop(log)
        log = None
    try:
        hits = _read(path, plan, stats=stats, matcher=matcher, workers=workers, progress=progress)
    except BaseException:
        _stop(log)
        raise
    if not hits:
        _stop(log)
        return HistoryScan([], state, stats)
    lookup = lookup_full(path, hits, log=log) if log else lookup_range(path, hits, revs=plan.revs)
    findings, stats.unreachable_dropped = to_findings(hits, lookup, keep=include_unreachable)
    findings = first_appearances(path, findings)
    return HistoryScan(sorted(findings, key=sort_key), state, stats)


def _stop(log: RawLog | None) -> None:
    """Stop the background log when there is nothing to attribute."""
    if log is not None:
        log.cancel()


def _read(path, plan: _Plan, *, stats: ScanStats, matcher, workers, progress) -> list[RawHit]:
    """Read the planned objects, in a process pool when there is enough to read."""
    # A process pool costs more than it saves on a small repository or a short range.
    workers = 1 if stats.bytes < POOL_THRESHOLD else workers or default_workers()
    # Several parts per worker even out the load on a large store; on a small one
    # each extra git process and cold delta cache costs more than it balances.
    per_worker = max(1, min(PARTS_PER_WORKER, stats.bytes // PART_BYTES))
    parts = objectlist.split_parts(plan.objects, parts=workers * per_worker)
    if progress is not None:
        progress.start(stats.objects)
    advance = progress.advance if progress is not None else None
    return scan_parts(path, parts, prefixes=matcher.prefixes, workers=workers, progress=advance)


def _plan(path, *, state: ScanState, since_refs, since_rev) -> _Plan:
    """Decide between a full scan, a scan since saved tips, and a scan since a revision."""
    if since_rev is not None:
        old = [_resolve(path, since_rev)]
        new = ["HEAD"]
    elif since_refs is not None:
        old_state = since_refs if isinstance(since_refs, ScanState) else ScanState(dict(since_refs))
        old = present_tips(path, old_state.tips())
        new = state.tips()
        if set(new) <= set(old):
            return _Plan(objects=[], revs=[], full=False)
    else:
        return _Plan(objects=objectlist.all_objects(path), revs=["--all"], full=True)
    # "^id" rather than "--not": git before 2.42 refuses options in --stdin mode.
    revs = [*new, *(f"^{tip}" for tip in old)]
    return _Plan(objects=objectlist.new_objects(path, revs=revs), revs=revs, full=False)


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
