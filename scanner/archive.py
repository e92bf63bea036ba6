"""Scan what you ship: zip/whl/jar, tar (plain, gzip, bzip2, xz: sdists, npm packages) and
``docker save`` image tarballs, descending into archives inside archives.

What a member is comes from its first bytes, not its name: a docker image's layers are
tar members called ``<id>/layer.tar`` or ``blobs/sha256/<digest>``, and every layer is read.
Findings name the path inside: ``dist/pkg.whl!/pkg/settings.py``.  Nothing is extracted to
disk, so a member called ``../../etc/passwd`` or a symbolic link can reach nothing; links
and devices are not read (a link's target is a name, not content).

Hostile archives meet limits, each a clear ``ScanError``: nesting deeper than
``max_depth`` (``archive_too_deep``), more than ``max_bytes`` read out of archives in all or
more than ``max_entries`` members (``archive_too_large``), a member or stream that inflates
more than ``max_ratio`` times past ``RATIO_FLOOR`` (``archive_bomb``), and anything the
formats reject (``bad_archive``).  Memory stays at a chunk per level; a zip inside
another archive is spooled to a temporary file once it is larger than ``SPOOL_MEMORY``.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scanner.chunks import CHUNK, scan_chunks
from scanner.errors import ScanError
from scanner.findings import ARCHIVE, Finding
from scanner.matcher import TokenMatcher

SEPARATOR = "!/"
RATIO_FLOOR = 16 << 20  # a small member may compress very well (a file of zeros)
SPOOL_MEMORY = 8 << 20
SNIFF = 512
_FORMAT_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    NotImplementedError,
    RuntimeError,
    ValueError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    max_depth: int = 8
    max_bytes: int = 4 << 30
    max_ratio: int = 250
    max_entries: int = 200_000
    # A member of one token repeated (checksum and all) must not fill memory with findings.
    max_findings: int = 100_000


@dataclass
class ArchiveStats:
    """Archives opened, members read, bytes read out of them, and members passed over."""

    archives: int = 0
    entries: int = 0
    bytes: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def sniff(head: bytes) -> str | None:
    """``zip``, ``tar``, ``gzip``, ``bzip2`` or ``xz`` from the first bytes; None otherwise."""
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh") and head[3:4].isdigit():
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    return None


def is_archive(path: Path) -> bool:
    """True when the file at ``path`` starts like an archive or a compressed stream."""
    try:
        with path.open("rb") as handle:
            return sniff(handle.read(SNIFF)) is not None
    except OSError:
        return False


def scan_archive(
    path: Path,
    *,
    matcher: TokenMatcher,
    name: str,
    limits: ArchiveLimits | None = None,
    skip: Callable[[str], bool] | None = None,
) -> tuple[list[Finding], ArchiveStats]:
    """Findings in the archive at ``path`` and everything nested in it, named below ``name``.

    ``skip(member name)`` true passes a member over unopened (a configured skip glob).
    """
    walker = Walker(matcher, limits or ArchiveLimits(), skip=skip)
    try:
        with path.open("rb") as handle:
            walker.scan(handle, name, depth=0)
    except OSError as error:
        raise ScanError(f"cannot read {name}: {error.strerror}", reason="unreadable_path") from None
    return walker.findings, walker.stats


class Walker:
    """One scan's state: the matcher, the limits, what was found and read."""

    def __init__(self, matcher: TokenMatcher, limits: ArchiveLimits, *, skip=None) -> None:
        self.matcher = matcher
        self.limits = limits
        self.skipped = skip or (lambda name: False)
        self.findings: list[Finding] = []
        self.stats = ArchiveStats()

    def scan(self, stream, name: str, *, depth: int) -> None:
        """Scan ``stream`` (a file object) as whatever its first bytes say it is."""
        reader = Peek(stream)
        kind = sniff(reader.peek(SNIFF))
        if kind is None:
            self.scan_plain(reader, name)
            return
        if depth >= self.limits.max_depth:
            raise ScanError(
                f"{name}: archives nested deeper than {self.limits.max_depth} levels",
                reason="archive_too_deep",
            )
        self.stats.archives += 1
        try:
            if kind == "zip":
                source = self.seekable(stream, reader, name, depth)
                try:
                    self.scan_zip(source, name, depth)
                finally:
                    if source is not stream:
                        source.close()
            elif kind == "tar":
                self.scan_tar(reader, name, depth)
            else:
                self.scan_compressed(reader, kind, name, depth)
        except _FORMAT_ERRORS as error:
            detail = clean(str(error)[:200]) if str(error) else type(error).__name__
            raise ScanError(
                f"{name}: not a readable {kind}: {detail}", reason="bad_archive"
            ) from None

    def scan_plain(self, reader, name: str) -> None:
        """A member that is not an archive: search it in chunks."""

        def read(size: int) -> bytes:
            data = reader.read(size)
            self.charge(len(data), name)
            return data

        room = self.limits.max_findings - len(self.findings)
        found, _ = scan_chunks(read, matcher=self.matcher, kind=ARCHIVE, path=name, limit=room)
        self.findings += found

    def scan_zip(self, source, name: str, depth: int) -> None:
        """Every regular, unencrypted member of a zip (central directory order)."""
        with zipfile.ZipFile(source) as archive:
            for info in archive.infolist():
                member = f"{name}{SEPARATOR}{clean(info.filename)}"
                if info.is_dir() or is_zip_symlink(info):
                    self.skip(member, "link" if not info.is_dir() else None)
                    continue
                if info.flag_bits & 0x1:
                    self.skip(member, "encrypted")
                    continue
                if self.skipped(member):
                    self.skip(member, "skip_path")
                    continue
                self.enter(member, declared=info.file_size, packed=info.compress_size)
                with archive.open(info) as handle:
                    self.scan(handle, member, depth=depth + 1)

    def scan_tar(self, reader, name: str, depth: int) -> None:
        """Every regular member of a tar stream, in order; links and devices are not read."""
        with tarfile.open(fileobj=reader, mode="r|") as archive:
            for info in archive:
                member = f"{name}{SEPARATOR}{clean(info.name)}"
                if not info.isreg():
                    self.skip(member, None if info.isdir() else "link or special file")
                    continue
                if self.skipped(member):
                    self.skip(member, "skip_path")
                    continue
                self.enter(member, declared=info.size, packed=None)
                handle = archive.extractfile(info)
                if handle is not None:
                    self.scan(handle, member, depth=depth + 1)

    def scan_compressed(self, reader, kind: str, name: str, depth: int) -> None:
        """A gzip, bzip2 or xz stream: inflate (watching the ratio), then scan what it holds."""
        counted = Counting(reader)
        opener = {"gzip": gzip.GzipFile, "bzip2": bz2.BZ2File, "xz": lzma.LZMAFile}[kind]
        with opener(fileobj=counted) if kind == "gzip" else opener(counted) as inflated:
            guarded = Ratio(inflated, counted, limit=self.limits.max_ratio, name=name)
            self.scan(guarded, name, depth=depth + 1)

    def seekable(self, stream, reader, name: str, depth: int):
        """The file itself at the top (rewound after the sniff); a spooled copy inside."""
        if depth == 0 and stream.seekable():
            stream.seek(0)
            return stream
        return self.spool(reader, name)

    def spool(self, reader, name: str):
        """A nested zip needs seeking: copy it to memory, or to a temporary file when large."""
        spooled = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115 - returned
        while data := reader.read(CHUNK):
            self.charge(len(data), name)
            spooled.write(data)
        spooled.seek(0)
        return spooled

    def enter(self, member: str, *, declared: int, packed: int | None) -> None:
        """Count a member; refuse one whose declared size breaks a limit before reading it."""
        self.stats.entries += 1
        if self.stats.entries > self.limits.max_entries:
            raise ScanError(
                f"{member}: more than {self.limits.max_entries} archive members",
                reason="archive_too_large",
            )
        if self.stats.bytes + declared > self.limits.max_bytes:
            self.too_large(member)
        if (
            packed is not None
            and declared > RATIO_FLOOR
            and declared > packed * self.limits.max_ratio
        ):
            raise ScanError(
                f"{member}: inflates {declared // max(packed, 1):,} times (limit "
                f"{self.limits.max_ratio}): a zip bomb?",
                reason="archive_bomb",
            )

    def charge(self, count: int, name: str) -> None:
        """Bytes read out of archives, against the total limit."""
        self.stats.bytes += count
        if self.stats.bytes > self.limits.max_bytes:
            self.too_large(name)

    def too_large(self, name: str) -> None:
        raise ScanError(
            f"{name}: more than {self.limits.max_bytes:,} bytes inside archives",
            reason="archive_too_large",
        )

    def skip(self, member: str, why: str | None) -> None:
        if why is not None:
            self.stats.skipped.append((member, why))


class Peek:
    """A read-only stream that can show its first bytes without losing them."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.buffer = b""

    def peek(self, size: int) -> bytes:
        while len(self.buffer) < size:
            data = self.stream.read(size - len(self.buffer))
            if not data:
                break
            self.buffer += data
        return self.buffer[:size]

    def read(self, size: int = -1) -> bytes:
        if self.buffer:
            if size < 0 or size > len(self.buffer):
                rest = self.stream.read(-1 if size < 0 else size - len(self.buffer))
                data, self.buffer = self.buffer + rest, b""
                return data
            data, self.buffer = self.buffer[:size], self.buffer[size:]
            return data
        return self.stream.read(size)


class Counting:
    """Counts the compressed bytes a decompressor takes from its source."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size)
        self.count += len(data)
        return data


class Ratio:
    """Reads inflated bytes and stops a stream that grows past ``limit`` times its input."""

    def __init__(self, inflated, source: Counting, *, limit: int, name: str) -> None:
        self.inflated = inflated
        self.source = source
        self.limit = limit
        self.name = name
        self.out = 0

    def read(self, size: int = -1) -> bytes:
        data = self.inflated.read(CHUNK if size < 0 else min(size, CHUNK))
        self.out += len(data)
        if self.out > RATIO_FLOOR and self.out > self.limit * max(self.source.count, 1):
            raise ScanError(
                f"{self.name}: inflates more than {self.limit} times: a compression bomb?",
                reason="archive_bomb",
            )
        return data


def is_zip_symlink(info: zipfile.ZipInfo) -> bool:
    """A zip member made by Unix zip from a symbolic link (``S_IFLNK`` in the high bits)."""
    return (info.external_attr >> 16) & 0o170000 == 0o120000


def clean(name: str) -> str:
    """A member name fit for one report line: no control characters, no leading slash."""
    printable = "".join(char if char.isprintable() else "?" for char in name)
    return printable.lstrip("/") or "?"
