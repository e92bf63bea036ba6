"""Resolve the delta trees of a pack, each entry inflated once, and search every object.

Work is given as :class:`Share` objects (roots of delta trees, loose objects);
a share runs in one process, and shares run in parallel (``objectstore.py``).
Inflating is much of the cost, so it uses ISA-L's inflate when installed (about
1.6x zlib's speed here).

Most objects are deltas, and most of a delta's target is copied from its base.
The compiled ``scanner._deltas`` resolves a delta and finds the token prefixes of
the target from the base's (carried through the copies) and a search of only what
the delta inserts and the few bytes around each copy's end (the proof is in
``_deltas.c``); the full search then runs only where a prefix is.  Without the
compiled module (no C compiler at install), dulwich's C ``apply_delta`` resolves
deltas and each target is searched in full: the same findings, more slowly.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.batch import BatchedProgress, RawHit, hits_in_object
from scanner.errors import ScanError
from scanner.loose import read_loose
from scanner.matcher import TokenMatcher
from scanner.packindex import SHA1_SIZE
from scanner.packplan import OFS_DELTA, REF_DELTA, TYPE_NAMES, PackPlan

try:
    from scanner import _deltas
except ImportError:  # built without a C compiler: see setup.py
    _deltas = None
try:
    # dulwich.pack would import the rest of dulwich (40 ms); its compiled module alone is instant.
    from dulwich._pack import apply_delta
except ImportError:  # dulwich installed without its compiled extensions
    from dulwich.pack import apply_delta
try:
    from isal.isal_zlib import decompress
except ImportError:  # a platform without ISA-L wheels: zlib reads the same data
    from zlib import decompress


@dataclass
class Share:
    """The work of one task: delta-tree roots per pack, and loose object files."""

    roots: dict[int, list[int]] = field(default_factory=dict)
    loose: list[str] = field(default_factory=list)


@dataclass
class ReadResult:
    """The tokens found in what was read, and how many objects and bytes that was."""

    hits: list[RawHit] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0


def scan_share(
    plans: list[PackPlan], share: Share, matcher: TokenMatcher, progress=None
) -> ReadResult:
    """Every valid token in the objects of ``share`` (the matcher travels pickled)."""
    result, counter = ReadResult(), BatchedProgress(progress)
    for number, roots in share.roots.items():
        _scan_pack(plans[number], roots, matcher=matcher, result=result, counter=counter)
    for path in share.loose:
        found = read_loose(path)
        if found is not None:
            offsets = prefix_offsets(found.content, matcher)
            object_id = lambda found=found: found.object_id  # noqa: E731
            _search(found.content, found.kind, offsets, object_id, matcher, result)
        counter.add()
    counter.flush()
    return result


def _scan_pack(plan: PackPlan, roots: list[int], *, matcher, result, counter) -> None:
    """Walk each tree depth-first: a delta is applied to its parent's content, still held,
    and its prefix offsets follow from the parent's."""
    with plan.path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        view, ends = memoryview(data), plan.ends
        try:
            for root in roots:
                kind = TYPE_NAMES[plan.kinds[root]]
                stack: list[tuple[int, bytes | None, list[int]]] = [(root, None, [])]
                while stack:
                    entry, base, base_offsets = stack.pop()
                    content = _inflate(view, plan, entry, ends[entry])
                    if base is None:
                        offsets = prefix_offsets(content, matcher)
                    else:
                        content, offsets = _resolve(
                            base, content, base_offsets, matcher=matcher, plan=plan, entry=entry
                        )
                    object_id = lambda e=entry: plan.object_id(e)  # noqa: E731
                    _search(content, kind, offsets, object_id, matcher, result)
                    counter.add()
                    for child in plan.children.get(entry, ()):
                        stack.append((child, content, offsets))
        finally:
            view.release()


def prefix_offsets(content: bytes, matcher: TokenMatcher) -> list[int]:
    """The token prefix offsets of an object read in full (the cheap prefilter first)."""
    return matcher.needle_offsets(content) if matcher.first_hint(content) >= 0 else []


def resolve_delta(
    base: bytes, delta: bytes, base_offsets: list[int], matcher: TokenMatcher
) -> tuple[bytes, list[int]]:
    """The target of ``delta`` and its token prefix offsets, given those of ``base``.

    ValueError (or dulwich's ApplyDeltaError) when the delta does not apply.
    """
    if _deltas is not None:
        return _deltas.resolve(base, delta, matcher.needles, base_offsets)
    chunks = apply_delta(base, delta)
    content = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return content, prefix_offsets(content, matcher)


def _search(content: bytes, kind: bytes, offsets, object_id: Callable[[], str], matcher, result):
    """Count one object and add its tokens (at ``offsets``, the prefixes) to ``result``.

    ``object_id`` is called only for the rare object with a ``<prefix>_`` in it.
    """
    result.objects += 1
    result.bytes += len(content)
    if offsets:
        found_id = object_id().encode("ascii")
        result.hits += hits_in_object(
            content, found_id, kind, 0, len(content), matcher, offsets=offsets
        )


def _inflate(view: memoryview, plan: PackPlan, entry: int, end: int) -> bytes:
    """The inflated data of one entry: an object's content, or a delta."""
    position = plan.offsets[entry]
    byte = view[position]
    kind, size, shift = (byte >> 4) & 7, byte & 0x0F, 4
    position += 1
    while byte & 0x80:
        byte = view[position]
        position += 1
        size |= (byte & 0x7F) << shift
        shift += 7
    if kind == OFS_DELTA:
        while view[position] & 0x80:
            position += 1
        position += 1
    elif kind == REF_DELTA:
        position += SHA1_SIZE
    try:
        content = decompress(view[position:end], bufsize=max(size, 1))
    except Exception as error:  # zlib.error and isal's IsalError share no base class
        raise _corrupt(plan, entry, "does not inflate") from error
    if len(content) != size:
        raise _corrupt(plan, entry, "inflates to the wrong size")
    return content


def _resolve(base, delta, base_offsets, *, matcher, plan: PackPlan, entry: int):
    try:
        return resolve_delta(base, delta, base_offsets, matcher)
    except Exception as error:  # dulwich's ApplyDeltaError, or ValueError from the C code
        raise _corrupt(plan, entry, "is a delta that does not apply") from error


def _corrupt(plan: PackPlan, entry: int, what: str) -> ScanError:
    message = f"{plan.path.name}: object {plan.object_id(entry)} {what}"
    return ScanError(message, reason="bad_pack")
