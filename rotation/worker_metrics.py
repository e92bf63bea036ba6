"""A Celery worker's own scrape target: ``KEYWARD_WORKER_METRICS_PORT``.

The leak response and the scans count their metrics in the worker's pool processes.  Each
container keeps its own ``PROMETHEUS_MULTIPROC_DIR`` (PIDs repeat across containers, so a
shared one mixes their files), so the web app's ``/metrics`` cannot show them: the worker's
main process serves the sum of its pool's files on this port instead.
"""

from __future__ import annotations

import os

from celery import signals

from keystore.config import Settings
from keystore.errors import ConfigError


def install(settings: Settings) -> None:
    port = settings.worker_metrics_port
    if port is None:
        return
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        raise ConfigError(
            "KEYWARD_WORKER_METRICS_PORT needs PROMETHEUS_MULTIPROC_DIR (the pool's processes "
            "write their metrics there)"
        )

    def serve(**_) -> None:
        from prometheus_client import CollectorRegistry, multiprocess, start_http_server

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        start_http_server(port, registry=registry)

    signals.worker_init.connect(serve, weak=False)
    signals.worker_process_shutdown.connect(_process_ended, weak=False)


def _process_ended(pid=None, **_) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid or os.getpid())
