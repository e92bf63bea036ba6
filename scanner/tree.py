"""Scan bytes, a single file, standard input, or a directory tree (not git history).

Binary files are scanned too: a token copied into a database file or a build
artefact is still a leak, and the search works on bytes.  Only formats whose
content is compressed (images, audio, video, archives, fonts) are skipped by
name, because a token cannot appear in them as plain text.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from scanner.errors import ScanError
from scanner.findings import FILE, Finding, make_finding, sort_key
from scanner.matcher import TokenMatcher, line_and_column

if TYPE_CHECKING:
    from scanner.archive import ArchiveLimits

MAX_FILE_SIZE = 10 << 20
# Archive names a directory scan opens (when their first bytes agree); scanner.archive,
# with tarfile and zipfile, loads only when one is met.
ARCHIVE_SUFFIXES = (".zip", ".whl", ".jar", ".war", ".ear", ".egg", ".nupkg", ".tar", ".tgz",
                    ".gz", ".bz2", ".tbz2", ".xz", ".txz", ".npm", ".crate", ".gem")  # fmt: skip
COMPRESSED_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".ico",
        ".bmp",
        ".tif",
        ".tiff",
        ".mp3",
        ".ogg",
        ".flac",
        ".mp4",
        ".mov",
        ".avi",
        ".mkv",
        ".webm",
        ".zip",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".zst",
        ".7z",
        ".rar",
        ".jar",
        ".whl",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
    }
)
SKIPPED_DIRS = frozenset({".git"})


@dataclass
class TreeStats:
    """What a tree scan read and what it passed over (path and why)."""

    files: int = 0
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def scan_bytes(data: bytes, *, matcher: TokenMatcher, kind: str, path: str | None) -> list[Finding]:
    """Findings in one buffer, with 1-based line and column."""
    findings = []
    for offset, token in matcher.matches(data):
        line, column = line_and_column(data, offset)
        findings.append(make_finding(token, kind=kind, path=path, line=line, column=column))
    return findings


def scan_file(path: Path, *, matcher: TokenMatcher, name: str | None = None) -> list[Finding]:
    """Findings in one file, reported under ``name`` (default: the path as given)."""
    data = read_file(path)
    return scan_bytes(data, matcher=matcher, kind=FILE, path=name or path.as_posix())


def read_file(path: Path) -> bytes:
    """The file's bytes, or a ScanError naming it."""
    try:
        return path.read_bytes()
    except OSError as error:
        raise ScanError(f"cannot read {path}: {error.strerror}", reason="unreadable_path") from None


def scan_tree(
    root: Path,
    *,
    matcher: TokenMatcher,
    max_size: int = MAX_FILE_SIZE,
    archives: ArchiveLimits | None = None,
    skip: Callable[[str], bool] | None = None,
) -> tuple[list[Finding], TreeStats]:
    """Findings in every regular file below ``root``, paths relative to it; skips ``.git``.

    With ``archives``, archives (by name, confirmed by their first bytes) are opened and
    searched inside within those limits, whatever their size; without, they are skipped.
    ``skip(name)`` true passes a file (or an archive member) over unread (``skip_path``).
    """
    if not root.is_dir():
        raise ScanError(f"not a directory: {root}", reason="unreadable_path")
    stats = TreeStats()
    findings: list[Finding] = []
    for path in walk_files(root):
        name = path.relative_to(root).as_posix()
        if skip is not None and skip(name):
            stats.skipped.append((name, "skip_path"))
            continue
        if archives is not None and is_shipped(path):
            findings += scan_shipped(path, name, matcher, archives, skip, stats)
            continue
        reason = skip_reason(path, max_size=max_size)
        if reason is not None:
            stats.skipped.append((name, reason))
            continue
        findings += scan_file(path, matcher=matcher, name=name)
        stats.files += 1
        stats.bytes += path.stat().st_size
    return sorted(findings, key=sort_key), stats


def walk_files(root: Path):
    """Regular files below ``root`` in a stable order; no symlinks, no ``.git``."""
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(name for name in dirnames if name not in SKIPPED_DIRS)
        for filename in sorted(filenames):
            path = Path(directory, filename)
            if path.is_file() and not path.is_symlink():
                yield path


def scan_shipped(path: Path, name: str, matcher, archives, skip, stats: TreeStats) -> list:
    """An archive in the tree; a broken one (a test fixture, say) is passed over and listed.

    Limits (bombs, depth, size) still stop the scan: they are for the user to see.
    """
    from scanner.archive import scan_archive

    try:
        found, read = scan_archive(path, matcher=matcher, name=name, limits=archives, skip=skip)
    except ScanError as error:
        if error.reason != "bad_archive":
            raise
        stats.skipped.append((name, "bad_archive"))
        return []
    stats.files += 1
    stats.bytes += read.bytes
    return found


def is_shipped(path: Path) -> bool:
    """An archive name whose content starts like one (a ``.gz`` that is not gzip is skipped)."""
    if not path.name.lower().endswith(ARCHIVE_SUFFIXES):
        return False
    from scanner.archive import is_archive

    return is_archive(path)


def skip_reason(path: Path, *, max_size: int) -> str | None:
    """Why a file is not read (``too_large``, ``compressed``), or None to read it."""
    if path.suffix.lower() in COMPRESSED_SUFFIXES:
        return "compressed"
    if path.stat().st_size > max_size:
        return "too_large"
    return None
