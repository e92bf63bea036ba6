"""Read a pack's ``.idx`` (version 2): which objects the pack holds and where.

Git's format (``Documentation/gitformat-pack.txt``): a magic and version, a
256-entry fan-out table, the sorted object ids, their CRC-32s, their 4-byte
offsets (a set top bit points into a table of 8-byte offsets for packs over
2 GiB), then checksums.  Read with ``array`` in bulk, not one entry at a time:
an index lists hundreds of thousands of objects.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ScanError

MAGIC = b"\xfftOc"
SHA1_SIZE = 20
_HEADER = 8
_FANOUT = 256 * 4
_LARGE = 0x80000000


class UnsupportedStore(Exception):
    """The object store has a layout the direct reader leaves to git (say, an idx v1)."""


@dataclass(frozen=True)
class PackIndex:
    """The object ids of one pack, sorted, and the pack offset of each."""

    names: bytes
    offsets: list[int]

    def __len__(self) -> int:
        return len(self.offsets)

    def object_id(self, position: int) -> str:
        """The hex id of the object at ``position`` in id order."""
        return self.names[position * SHA1_SIZE : (position + 1) * SHA1_SIZE].hex()

    def offset_of(self, object_id: bytes) -> int | None:
        """The pack offset of the binary ``object_id``, or None when this pack lacks it."""
        low, high = 0, len(self.offsets)
        while low < high:
            middle = (low + high) // 2
            found = self.names[middle * SHA1_SIZE : (middle + 1) * SHA1_SIZE]
            if found == object_id:
                return self.offsets[middle]
            if found < object_id:
                low = middle + 1
            else:
                high = middle
        return None


def read_index(path: Path) -> PackIndex:
    """Parse the version 2 index at ``path``; UnsupportedStore for any other version."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ScanError(f"cannot read {path.name}: {error.strerror}", reason="bad_pack") from None
    if data[:4] != MAGIC or data[4:8] != b"\x00\x00\x00\x02":
        raise UnsupportedStore(f"{path.name} is not a version 2 pack index")
    count = int.from_bytes(data[_HEADER + _FANOUT - 4 : _HEADER + _FANOUT], "big")
    names_at = _HEADER + _FANOUT
    offsets_at = names_at + count * (SHA1_SIZE + 4)
    large_at = offsets_at + count * 4
    if len(data) < large_at + 2 * SHA1_SIZE:
        raise ScanError(f"{path.name} is truncated", reason="bad_pack")
    small = big_endian("I", data[offsets_at:large_at])
    names = data[names_at : names_at + count * SHA1_SIZE]
    if not small or max(small) < _LARGE:
        return PackIndex(names=names, offsets=small.tolist())
    large = big_endian("Q", data[large_at : len(data) - 2 * SHA1_SIZE])
    try:
        offsets = [large[offset & ~_LARGE] if offset & _LARGE else offset for offset in small]
    except IndexError:
        raise ScanError(f"{path.name} is truncated", reason="bad_pack") from None
    return PackIndex(names=names, offsets=offsets)


def big_endian(code: str, raw: bytes) -> array:
    """Network-order integers as an array of native ones."""
    values = array(code, raw)
    if sys.byteorder == "little":
        values.byteswap()
    return values
