"""The ``keyward`` command's entry point (see :mod:`web.cli` for what it loads)."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        # Before prometheus_client is imported: it picks where values live at import time.
        from web.multiproc import fresh_directory

        fresh_directory()
    from web.cli import main as keyward

    keyward()
