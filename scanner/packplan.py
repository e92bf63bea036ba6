"""Plan the reading of one pack: its entries and the forest of their delta chains.

A pack stores most objects as deltas against a base, in chains up to fifty deep.
``git cat-file`` resolves the chain of each object it prints, helped by a cache
of recent bases.  Seen as a forest instead (each base the parent of its deltas),
a pack resolves with every entry inflated exactly once and no cache: walk each
tree depth-first, holding only the contents on the current path.  The trees are
independent, so worker processes share them out.  Trees of git ``tree`` objects
are never walked: they hold names and ids, nothing worth searching.

Only headers are read here, one byte for most entries; the workers inflate.
"""

from __future__ import annotations

import functools
import mmap
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import ScanError
from scanner.packindex import SHA1_SIZE, PackIndex, big_endian

COMMIT, TREE, BLOB, TAG, OFS_DELTA, REF_DELTA = 1, 2, 3, 4, 6, 7
TYPE_NAMES = {COMMIT: b"commit", TREE: b"tree", BLOB: b"blob", TAG: b"tag"}
SEARCHED_KINDS = frozenset((COMMIT, BLOB, TAG))
_NO_BASE = -1


@dataclass
class PackPlan:
    """Entries of one pack in pack order (``k``) and the delta forest over them."""

    path: Path
    size: int
    index: PackIndex
    offsets: list[int]
    positions: list[int]
    bases: list[int]
    kinds: list[int]
    roots: list[int] = field(default_factory=list)

    def object_id(self, entry: int) -> str:
        return self.index.object_id(self.positions[entry])

    @functools.cached_property
    def ends(self) -> list[int]:
        """Where each entry's data ends: at the next entry, or at the pack's checksum."""
        return [*self.offsets[1:], self.size - SHA1_SIZE]

    def searched(self) -> int:
        """How many entries hold a commit, blob or tag (what the workers will search)."""
        return self.kinds.count(COMMIT) + self.kinds.count(BLOB) + self.kinds.count(TAG)

    @functools.cached_property
    def children(self) -> dict[int, list[int]]:
        """The deltas of each base.  Built in each worker process, which share the work."""
        children: dict[int, list[int]] = {}
        for entry, (base, kind) in enumerate(zip(self.bases, self.kinds, strict=True)):
            if base != _NO_BASE and kind in SEARCHED_KINDS:
                children.setdefault(base, []).append(entry)
        return children

    def weights(self) -> list[int]:
        """How many objects the delta tree under each entry holds.

        One backward pass: a base precedes its deltas in a pack, except for rare
        ``REF_DELTA`` entries, whose trees come out smaller than they are.  These
        weights only balance work between processes.
        """
        counts = [1] * len(self.bases)
        for entry in range(len(self.bases) - 1, -1, -1):
            base = self.bases[entry]
            if base != _NO_BASE:
                counts[base] += counts[entry]
        return counts


def plan_pack(path: Path, index: PackIndex) -> PackPlan:
    """Read every entry header of the pack at ``path`` and build its delta forest."""
    positions = pack_order(path, index)
    offsets = [index.offsets[position] for position in positions]
    try:
        with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
            bases, kinds = _read_headers(data, offsets=offsets, index=index)
            size = len(data)
    except (OSError, ValueError, IndexError) as error:
        raise ScanError(f"cannot read {path.name}: {error}", reason="bad_pack") from None
    plan = PackPlan(
        path=path,
        size=size,
        index=index,
        offsets=offsets,
        positions=positions,
        bases=bases,
        kinds=kinds,
    )
    _resolve_kinds(plan)
    return plan


def pack_order(path: Path, index: PackIndex) -> list[int]:
    """Index positions in pack order: from the ``.rev`` file git writes, else by sorting."""
    reverse = path.with_suffix(".rev")
    count = len(index)
    try:
        raw = reverse.read_bytes()
    except OSError:
        raw = b""
    # "RIDX", version 1, hash function 1 (SHA-1), then a position per object.
    if raw[:12] == b"RIDX\0\0\0\1\0\0\0\1" and len(raw) >= 12 + 4 * count:
        return big_endian("I", raw[12 : 12 + 4 * count]).tolist()
    return sorted(range(count), key=index.offsets.__getitem__)


def _read_headers(data, *, offsets: list[int], index: PackIndex) -> tuple[list[int], list[int]]:
    """Each entry's delta base (an entry number, or -1) and type (0 for a delta, for now)."""
    # One loop over hundreds of thousands of entries: kept flat, as it runs before any
    # worker can start.
    entry_at = {offset: entry for entry, offset in enumerate(offsets)}
    bases = [_NO_BASE] * len(offsets)
    kinds = [0] * len(offsets)
    for entry, offset in enumerate(offsets):
        byte = data[offset]
        kind = (byte >> 4) & 7
        if kind in TYPE_NAMES:
            kinds[entry] = kind
            continue
        position = offset + 1
        while byte & 0x80:  # the size: the worker reads it again when it inflates
            byte = data[position]
            position += 1
        if kind == OFS_DELTA:
            byte = data[position]
            distance = byte & 0x7F
            while byte & 0x80:
                position += 1
                byte = data[position]
                distance = ((distance + 1) << 7) | (byte & 0x7F)
            base = entry_at.get(offset - distance, _NO_BASE)
        elif kind == REF_DELTA:
            base_offset = index.offset_of(bytes(data[position : position + SHA1_SIZE]))
            base = _NO_BASE if base_offset is None else entry_at.get(base_offset, _NO_BASE)
        else:
            raise ValueError(f"entry at offset {offset} has no valid type")
        if base == _NO_BASE:
            # Git cannot read such a delta either: it resolves bases within one pack.
            raise ValueError(f"the delta at offset {offset} has its base outside the pack")
        bases[entry] = base
    return bases, kinds


def _resolve_kinds(plan: PackPlan) -> None:
    """Give each delta its chain's type, then list the roots worth reading."""
    kinds, bases = plan.kinds, plan.bases
    for entry, kind in enumerate(kinds):
        if kind == 0:
            # Usually the base came earlier and is resolved; a REF_DELTA may point ahead.
            kinds[entry] = kinds[bases[entry]] or _chain_kind(kinds, bases, entry)
    plan.roots = [
        entry
        for entry, base in enumerate(bases)
        if base == _NO_BASE and kinds[entry] in SEARCHED_KINDS
    ]


def _chain_kind(kinds: list[int], bases: list[int], entry: int) -> int:
    """The type at the end of ``entry``'s delta chain."""
    steps = 0
    while kinds[entry] == 0:
        entry = bases[entry]
        steps += 1
        if steps > len(kinds):
            raise ScanError("a delta chain in a pack loops", reason="bad_pack")
    return kinds[entry]
