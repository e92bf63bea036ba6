"""The ``keyward`` command's entry point: ``keyward scan`` starts without the web stack.

``keyward scan --staged`` runs as a pre-commit hook on every commit; loading the
store, Flask and Celery first (``web.cli``) would add over a second to each.  A plain
``pip install keyward`` (the hook's environment) has the scanner's dependencies only;
every other command needs the ``server`` extra, and says so instead of a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:2] == ["scan"]:
        from scanner.cli import main as scan

        scan(sys.argv[2:])
        return
    if sys.argv[1:2] == ["serve"]:
        # Before prometheus_client is imported: it picks where values live at import time.
        from web.multiproc import fresh_directory

        fresh_directory()
    try:
        from web.cli import main as full
    except ModuleNotFoundError as error:
        sys.stderr.write(
            f"keyward: the service needs the server extra ({error.name} is missing): "
            "pip install 'keyward[server]'; only 'keyward scan' works without it\n"
        )
        sys.exit(2)
    full()
