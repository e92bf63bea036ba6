"""The ``keyward`` command's entry point: ``keyward scan`` starts without the web stack.

``keyward scan --staged`` runs as a pre-commit hook on every commit; loading the
store, Flask and Celery first (``web.cli``) would add over a second to each.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["scan"]:
        from scanner.cli import main as scan

        scan(sys.argv[2:])
        return
    from web.cli import main as full

    full()
