"""The ``keyward`` command's entry point (see :mod:`web.cli` for what it loads)."""

from __future__ import annotations


def main() -> None:
    from web.cli import main as keyward

    keyward()
