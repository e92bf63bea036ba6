"""Decide what a ``keyward scan`` target is and run the matching scan.

A path to a repository (its top level, or a bare repository) scans the history
by default; any other directory scans its files; ``-`` reads stdin; a URL is
mirrored into a cache and its history scanned.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from scanner.config import PathFilter, ScanConfig
from scanner.errors import ScanError
from scanner.findings import STDIN, Finding
from scanner.history import scan_repository
from scanner.matcher import DEFAULT_PREFIXES, TokenMatcher
from scanner.progress import Progress
from scanner.remote import FetchOptions, default_cache_dir, is_url, mirror
from scanner.staged import scan_staged
from scanner.state import ScanState, load_state
from scanner.tree import scan_bytes, scan_file, scan_tree


@dataclass(frozen=True)
class Request:
    """The scan the command line asks for."""

    target: str
    staged: bool = False
    since_rev: str | None = None
    history: bool | None = None
    state_file: Path | None = None
    prefixes: tuple[str, ...] = DEFAULT_PREFIXES
    max_file_size: int = 10 << 20
    cache_dir: Path | None = None
    include_unreachable: bool = False
    jobs: int | None = None
    inline_allow: bool = True
    skip_paths: tuple[str, ...] = ()
    archive_depth: int = 8
    archive_max_bytes: int = 4 << 30
    archive_max_ratio: int = 250

    @property
    def archive_limits(self):
        """The archive limits (the archive modules load only when an archive is met)."""
        from scanner.archive import ArchiveLimits

        return ArchiveLimits(
            max_depth=self.archive_depth,
            max_bytes=self.archive_max_bytes,
            max_ratio=self.archive_max_ratio,
        )

    @classmethod
    def from_options(cls, options: dict) -> Request:
        """Pick the request's fields out of the click options."""
        names = cls.__dataclass_fields__.keys()
        values = {name: options[name] for name in names if options.get(name) is not None}
        values["prefixes"] = tuple(options.get("prefixes") or DEFAULT_PREFIXES)
        return cls(**values)

    def configured(self, config: ScanConfig) -> Request:
        """With the configuration's extra prefixes, and its skip globs unless given here."""
        return replace(
            self,
            prefixes=tuple(dict.fromkeys(self.prefixes + config.extra_prefixes)),
            skip_paths=tuple(self.skip_paths or config.skip_paths),
        )


def same(path: str | None) -> str | None:
    """A history's or staged scan's paths are already relative to the top level."""
    return path


@dataclass
class Outcome:
    """Findings, statistics for the JSON report, and the state to save (history scans)."""

    findings: list[Finding]
    stats: dict = field(default_factory=dict)
    state: ScanState | None = None
    # The directory reports are relative to (the repository's top level when there is
    # one), and how a finding's path becomes a path below it.
    root: Path | None = None
    repo_path: Callable[[str | None], str | None] = same


def collect(request: Request) -> Outcome:
    """Run the scan the request describes."""
    matcher = TokenMatcher(request.prefixes, inline_allow=request.inline_allow)
    target = request.target
    if target == "-":
        data = sys.stdin.buffer.read()
        found = scan_bytes(data, matcher=matcher, kind=STDIN, path="-")
        return Outcome(found, {"mode": "stdin", "bytes": len(data)}, repo_path=lambda _: None)
    if is_url(target):
        repo = mirror(
            target,
            cache_dir=request.cache_dir or default_cache_dir(),
            options=FetchOptions(own_config=True),
        )
        return scan_history(repo, request)
    path = Path(target)
    if request.staged:
        found = scan_staged(path, matcher=matcher)
        return Outcome(found, {"mode": "staged"}, root=top_level(path))
    if path.is_file():
        return scan_one_file(path, request, matcher)
    if not path.is_dir():
        raise ScanError(f"no such file or directory: {target}", reason="unreadable_path")
    if wants_history(path, request):
        return scan_history(path, request)
    root = top_level(path)
    prefix = relative_prefix(path, root)
    skips = PathFilter(request.skip_paths)
    findings, stats = scan_tree(
        path,
        matcher=matcher,
        max_size=request.max_file_size,
        archives=request.archive_limits,
        skip=(lambda name: skips.skips(prefix + name)) if skips else None,
    )
    summary = {"mode": "tree", "files": stats.files, "bytes": stats.bytes}
    by_path = sum(1 for _, why in stats.skipped if why == "skip_path")
    summary.update(skipped=len(stats.skipped) - by_path, skipped_by_path=by_path)
    outcome = Outcome(findings, summary, root=root)
    outcome.repo_path = lambda name: None if name is None else prefix + name
    return outcome


def scan_one_file(path: Path, request: Request, matcher: TokenMatcher) -> Outcome:
    """One file (an archive is opened and searched inside); its place below the top level."""
    root = top_level(path.parent)
    place = relative_prefix(path.parent, root) + path.name
    given = path.as_posix()
    # Loaded here, not with the module: the pre-commit hook never needs tarfile and zipfile.
    from scanner.archive import is_archive, scan_archive

    if is_archive(path):
        skips = PathFilter(request.skip_paths)
        findings, read = scan_archive(
            path,
            matcher=matcher,
            name=given,
            limits=request.archive_limits,
            skip=(lambda name: skips.skips(place + name[len(given) :])) if skips else None,
        )
        stats = {"mode": "archive", "entries": read.entries, "bytes": read.bytes}
        outcome = Outcome(findings, {**stats, "skipped": len(read.skipped)}, root=root)
    else:
        findings = scan_file(path, matcher=matcher)
        outcome = Outcome(findings, {"mode": "file", "bytes": path.stat().st_size}, root=root)
    outcome.repo_path = lambda name: None if name is None else place + name[len(given) :]
    return outcome


def top_level(start: Path) -> Path:
    """The repository's top level above ``start`` (a bare repository itself), else ``start``."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if is_repository_root(directory):
            return directory
    return start


def relative_prefix(path: Path, root: Path) -> str:
    """``path`` below ``root`` as ``"a/b/"`` (empty at the root itself)."""
    relative = os.path.relpath(path.resolve(), root)
    return "" if relative == "." else Path(relative).as_posix() + "/"


def wants_history(path: Path, request: Request) -> bool:
    """History for a repository's top level unless ``--no-history``; ``--since`` implies it."""
    if request.since_rev is not None or request.state_file is not None:
        return True
    if request.history is not None:
        return request.history
    return is_repository_root(path)


def is_repository_root(path: Path) -> bool:
    """A work tree's top level (has ``.git``) or a bare repository (HEAD and objects/)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def scan_history(repo: Path, request: Request) -> Outcome:
    """Full, since-revision or since-state history scan, with a progress bar on a terminal."""
    previous = load_state(request.state_file) if request.state_file is not None else None
    progress = Progress()
    try:
        result = scan_repository(
            repo,
            since_refs=previous,
            since_rev=request.since_rev,
            prefixes=request.prefixes,
            workers=request.jobs,
            include_unreachable=request.include_unreachable,
            progress=progress,
            inline_allow=request.inline_allow,
        )
    finally:
        progress.close()
    stats = result.stats
    summary = {"mode": "history", "objects": stats.objects, "bytes": stats.bytes}
    summary["unreachable_dropped"] = stats.unreachable_dropped
    root = repo.resolve() if not is_url(str(repo)) else None
    return Outcome(result.findings, summary, result.state, root=root)
