"""Loose objects: one zlib file per object under ``objects/xx/``, read without git.

A loose object inflates to ``<type> <size>\\0<content>``.  Trees are skipped
(nothing to search); an unreadable or corrupt file is a scan error naming it.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path
from typing import NamedTuple

from scanner.batch import SEARCHED_TYPES
from scanner.errors import ScanError

_FAN_OUT = re.compile(r"[0-9a-f]{2}")
_REST = re.compile(r"[0-9a-f]{38}")


class LooseObject(NamedTuple):
    object_id: str
    kind: bytes
    content: bytes


def loose_paths(objects: Path) -> list[str]:
    """The paths of every loose object file under the ``objects`` directory."""
    found = []
    with os.scandir(objects) as directories:
        for directory in directories:
            if not _FAN_OUT.fullmatch(directory.name):
                continue
            with os.scandir(directory.path) as files:
                found += [entry.path for entry in files if _REST.fullmatch(entry.name)]
    return found


def read_loose(path: str) -> LooseObject | None:
    """The object in ``path``, or None for a tree; a ScanError if it is unreadable."""
    name = Path(path)
    object_id = name.parent.name + name.name
    try:
        raw = zlib.decompress(name.read_bytes())
    except FileNotFoundError:
        # Packed and pruned by a gc since the listing: like git's own listing, a scan that
        # races a repack can miss it; the next scan reads the new pack.
        return None
    except (OSError, zlib.error) as error:
        raise ScanError(
            f"cannot read loose object {object_id}: {error}", reason="bad_pack"
        ) from None
    header, _, content = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    if not size.isdigit() or int(size) != len(content):
        raise ScanError(f"loose object {object_id} is corrupt", reason="bad_pack")
    return LooseObject(object_id, kind, content) if kind in SEARCHED_TYPES else None
