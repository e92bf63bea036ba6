"""gunicorn settings for production: ``gunicorn -c python:web.gunicorn_conf 'web:create_app()'``.

Prometheus needs one directory shared by every worker (and the Celery worker, for
the leak-response metrics) so ``/metrics`` adds them up: ``PROMETHEUS_MULTIPROC_DIR``.
"""

import os

from prometheus_client import multiprocess

bind = os.environ.get("KEYWARD_BIND", "0.0.0.0:8080")
# Verification is short CPU work between two round trips: processes scale it, threads
# mostly queue on the GIL (bench/verify_load.py measured 2x1 well above 2x8 on 2 cores).
workers = int(os.environ.get("KEYWARD_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
threads = int(os.environ.get("KEYWARD_THREADS", "1"))
worker_class = "gthread"
timeout = 60
# GitHub waits 30 s for an answer; anything slower than that is a bug, not a load.
graceful_timeout = 30
accesslog = None


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
