"""gunicorn settings for production: ``gunicorn -c python:web.gunicorn_conf 'web:create_app()'``.

Prometheus needs one directory for the workers of this gunicorn so ``/metrics`` adds them
up: ``PROMETHEUS_MULTIPROC_DIR``, private to the container (a tmpfs in docker-compose; PIDs
repeat across containers).  ``keyward serve`` makes a fresh one per run by itself.
"""

import os

from web import multiproc
from web.cpus import default_workers
from web.gunicorn_logs import GunicornLogger

bind = os.environ.get("KEYWARD_BIND", "0.0.0.0:8080")
# Verification is short CPU work between two round trips: processes scale it, threads
# mostly queue on the GIL (bench/verify_load.py measured 2x1 well above 2x8 on 2 cores).
# The CPUs are the container's limit, not the host's cores.
workers = int(os.environ.get("KEYWARD_WORKERS") or default_workers())
threads = int(os.environ.get("KEYWARD_THREADS", "1"))
worker_class = "gthread"
timeout = 60
# GitHub waits 30 s for an answer; anything slower than that is a bug, not a load.
graceful_timeout = 30
accesslog = None
# gunicorn's own lines (error log, and the access log if you turn it on) are JSON too.
logger_class = GunicornLogger
child_exit = multiproc.child_exit
