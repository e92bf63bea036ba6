"""Search a stream of any length in fixed-size chunks, with lines and columns right across them.

Memory stays at one chunk plus a token's length: each chunk is searched together with the
tail of the one before (a token cut in two by a chunk boundary is still found, once), and
the line count and the bytes since the last newline are carried forward.
"""

from __future__ import annotations

from collections.abc import Callable

from scanner.errors import ScanError
from scanner.findings import Finding, make_finding
from scanner.matcher import TokenMatcher

CHUNK = 1 << 20
# Longest token (10-character prefix, 8-character environment, 36-character body, two
# underscores) plus the characters before and after it that the match looks at.
KEEP = 10 + 1 + 8 + 1 + 36 + 2


def scan_chunks(
    read: Callable[[int], bytes],
    *,
    matcher: TokenMatcher,
    kind: str,
    path: str,
    chunk: int = CHUNK,
    limit: int | None = None,
) -> tuple[list[Finding], int]:
    """Findings in everything ``read`` returns until it returns ``b""``; and the byte count.

    More than ``limit`` findings is an error (``too_many_findings``): a stream of one token
    repeated must not fill memory with findings.
    """
    findings: list[Finding] = []
    carry = b""
    lines = 0  # newlines before ``carry``
    column_base = 0  # bytes between the last newline before ``carry`` and ``carry``
    low = 0  # offsets below this in ``carry`` were reported (or passed over) last time round
    total = 0
    while True:
        data = read(chunk)
        total += len(data)
        buf = carry + data
        final = not data
        cut = len(buf) if final else max(len(buf) - KEEP, low)
        for offset, token in matcher.matches(buf):
            if low <= offset < cut:
                line, column = place(buf, offset, lines, column_base)
                findings.append(make_finding(token, kind=kind, path=path, line=line, column=column))
                if limit is not None and len(findings) > limit:
                    raise ScanError(
                        f"{path}: too many tokens (stopped after {limit:,})",
                        reason="too_many_findings",
                    )
        if final:
            return findings, total
        # Keep one byte before the cut: the match looks at the character before a token.
        keep_from = max(cut - 1, 0)
        dropped_newline = buf.rfind(b"\n", 0, keep_from)
        lines += buf.count(b"\n", 0, keep_from)
        if dropped_newline >= 0:
            column_base = characters(buf[dropped_newline + 1 : keep_from])
        else:
            column_base += characters(buf[:keep_from])
        carry, low = buf[keep_from:], cut - keep_from


def characters(data: bytes) -> int:
    """UTF-8 characters in ``data``: the bytes that do not continue a multi-byte sequence."""
    return len(data.translate(None, _CONTINUATION))


_CONTINUATION = bytes(range(0x80, 0xC0))


def place(buf: bytes, offset: int, lines: int, column_base: int) -> tuple[int, int]:
    """1-based line and column of ``offset``, counting what came before ``buf``."""
    line = lines + buf.count(b"\n", 0, offset) + 1
    line_start = buf.rfind(b"\n", 0, offset) + 1
    before = characters(buf[line_start:offset])
    return line, before + 1 + (column_base if line_start == 0 else 0)
