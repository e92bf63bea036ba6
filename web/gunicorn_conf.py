"""gunicorn settings for production: ``gunicorn -c python:web.gunicorn_conf 'web:create_app()'``.

Prometheus needs one directory shared by every worker (and the Celery worker, for
the leak-response metrics) so ``/metrics`` adds them up: ``PROMETHEUS_MULTIPROC_DIR``.
"""

import os

from prometheus_client import multiprocess

bind = os.environ.get("KEYWARD_BIND", "0.0.0.0:8080")
workers = int(os.environ.get("KEYWARD_WORKERS", "2"))
threads = int(os.environ.get("KEYWARD_THREADS", "8"))
worker_class = "gthread"
timeout = 60
# GitHub waits 30 s for an answer; anything slower than that is a bug, not a load.
graceful_timeout = 30
accesslog = None


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(worker.pid)
