"""Prometheus across gunicorn workers: a directory of per-process files that /metrics adds up.

prometheus_client chooses where values live when it is first imported, so ``keyward serve``
prepares its directory before anything imports it (``web.entry``).  Each run gets a fresh
one: files left by an earlier run, or by another container whose PIDs repeat ours, would be
added in.  This module imports nothing of prometheus_client at load time for that reason.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def fresh_directory(environ=os.environ) -> str | None:
    """Give this run its own directory unless the operator named one; removed when it ends."""
    if environ.get(ENV):
        return None
    path = tempfile.mkdtemp(prefix="keyward-metrics-")
    environ[ENV] = path
    owner = os.getpid()

    def remove() -> None:
        # Forked gunicorn workers inherit this handler: only the process that made it removes it.
        if os.getpid() == owner:
            shutil.rmtree(path, ignore_errors=True)

    atexit.register(remove)
    return path


def child_exit(server, worker) -> None:
    """gunicorn hook: a dead worker's live gauges stop counting (its counters stay summed)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
