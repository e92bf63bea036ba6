"""What any JSON body is checked for before it is trusted: nesting depth and storable text.

Shared by the web layer (every request body) and the leak intake (partner alerts,
read record by record).  The nesting is measured on the raw bytes, before
``json.loads`` (which recurses), so a deep body is refused instead of raising
``RecursionError``.
"""

from __future__ import annotations

import re

# A string, or an unterminated one up to the end: a match never fails, so the scan is linear.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_INNERMOST_PAIR = re.compile(rb"\[\]|\{\}")


def nesting_problem(raw: bytes, limit: int) -> str | None:
    """``too_deep``, ``unbalanced`` or None: brackets outside strings, linear, no recursion.

    Strings are cut out, everything but brackets dropped, then each pass removes the
    innermost ``[]``/``{}`` pairs: one level per pass, at C speed.  What is left after
    ``limit`` passes is too deep if it still pairs up or holds more than ``limit``
    brackets (``[[[[…`` never closed would make a parser recurse just as deep).
    """
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return None
        brackets = _INNERMOST_PAIR.sub(b"", brackets)
    if not brackets:
        return None
    if len(brackets) > limit or _INNERMOST_PAIR.search(brackets):
        return "too_deep"
    return "unbalanced"


def text_problem(value: str, limit: int | None = None) -> str | None:
    """What PostgreSQL or a UTF-8 encoder would refuse in ``value``, or a length over ``limit``."""
    if limit is not None and len(value) > limit:
        return "too_long"
    if "\x00" in value:
        return "nul_byte"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "lone_surrogate"
    return None
