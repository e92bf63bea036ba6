"""Stream ``git cat-file --batch`` output through a reusable window and find tokens.

The window is one ``bytearray`` refilled with ``readinto`` straight from the pipe:
no per-object copies, memory bounded by the window (or the largest single object),
and the token search runs on slices of the window with ``find``/``match`` offsets.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from scanner.matcher import TokenMatcher, line_and_column

WINDOW = 8 << 20
SEARCHED_TYPES = (b"blob", b"commit", b"tag")
# Objects between two progress reports (a shared counter costs a lock).
REPORT_EVERY = 512


@dataclass(frozen=True, slots=True)
class RawHit:
    """A valid token inside one git object, before attribution to a commit and path."""

    object_id: str
    object_type: str
    token: str
    line: int
    column: int


class BatchWindow:
    """Walks the objects of a ``--batch`` stream: ``(id, type, begin, end)`` into ``buf``."""

    def __init__(self, fd: int, *, window: int = WINDOW) -> None:
        self._file = io.FileIO(fd, closefd=False)
        self.buf = bytearray(window)
        self._view = memoryview(self.buf)
        self.start = 0
        self.filled = 0
        self.bytes_read = 0

    def objects(self) -> Iterator[tuple[bytes, bytes, int, int]]:
        """Yield each object's id, type and content bounds; valid until the next step."""
        while True:
            newline = self.buf.find(b"\n", self.start, self.filled)
            if newline < 0:
                if not self._refill(self.filled - self.start + 1):
                    return
                continue
            header = bytes(self._view[self.start : newline]).split()
            if len(header) < 3:
                # "<id> missing": a partial clone or a pruned object; nothing to read.
                self.start = newline + 1
                continue
            end = newline + 1 + int(header[2])
            if end >= self.filled:
                if not self._refill(end + 1 - self.start):
                    return
                continue
            self.start = end + 1
            yield header[0], header[1], newline + 1, end

    def _refill(self, need: int) -> bool:
        """Make room for ``need`` bytes from ``start`` and read them; False at end of stream."""
        if len(self.buf) < need:
            self._grow(need)
        elif self.start and (self.start > len(self.buf) // 2 or self.start + need > len(self.buf)):
            self._compact()
        # Read until the whole object is in: parsing its header once, not once per pipe read.
        while self.filled - self.start < need:
            count = self._file.readinto(self._view[self.filled :])
            if not count:
                return False
            self.filled += count
            self.bytes_read += count
        return True

    def _compact(self) -> None:
        """Move the unread tail to the front (via a copy: the regions may overlap)."""
        tail = bytes(self._view[self.start : self.filled])
        self.buf[: len(tail)] = tail
        self.filled = len(tail)
        self.start = 0

    def _grow(self, need: int) -> None:
        """A single object larger than the window: a bigger window, for this stream only."""
        larger = bytearray(max(need, 2 * len(self.buf)))
        larger[: self.filled - self.start] = self._view[self.start : self.filled]
        self._view.release()
        self.buf, self._view = larger, memoryview(larger)
        self.filled -= self.start
        self.start = 0


class BatchedProgress:
    """Objects read, handed to ``progress`` in batches (a shared counter takes a lock)."""

    def __init__(self, progress) -> None:
        self.progress = progress
        self.pending = 0

    def add(self) -> None:
        self.pending += 1
        if self.pending == REPORT_EVERY:
            self.flush()

    def flush(self) -> None:
        if self.progress is not None and self.pending:
            self.progress(self.pending)
        self.pending = 0


def scan_stream(fd: int, *, matcher: TokenMatcher, progress=None, window_size=WINDOW):
    """Every valid token (:class:`RawHit`) in the blobs, commits and tags of one stream."""
    window = BatchWindow(fd, window=window_size)
    hits: list[RawHit] = []
    counter = BatchedProgress(progress)
    for object_id, object_type, begin, end in window.objects():
        if object_type in SEARCHED_TYPES and matcher.first_hint(window.buf, begin, end) >= 0:
            hits += hits_in_object(window.buf, object_id, object_type, begin, end, matcher)
        counter.add()
    counter.flush()
    return hits


def hits_in_object(
    buf, object_id: bytes, object_type: bytes, begin: int, end: int, matcher, offsets=None
):
    """The valid tokens of one object; lines of a commit or tag count from its message.

    ``offsets``, when known, are the object's :meth:`TokenMatcher.needle_offsets`.
    """
    text_start = begin
    if object_type != b"blob":
        blank = buf.find(b"\n\n", begin, end)
        text_start = begin if blank < 0 else blank + 2
    if offsets is None:
        offsets = matcher.needle_offsets(buf, begin, end)
    found = []
    for offset, token in matcher.matches_at(buf, offsets, begin, end):
        origin = text_start if offset >= text_start else begin
        line, column = line_and_column(buf, offset, origin)
        found.append(
            RawHit(object_id.decode("ascii"), object_type.decode("ascii"), token, line, column)
        )
    return found
