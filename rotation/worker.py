"""Entry module for Celery processes (one worker per queue; see README "Deployment"):

celery -A rotation.worker worker --queues leaks --hostname leaks@%h --loglevel INFO
celery -A rotation.worker worker --queues scans --hostname scans@%h --loglevel INFO
celery -A rotation.worker beat --loglevel INFO
"""

from keystore.config import Settings
from keystore.redaction import install_scrubbing
from rotation import task_logs, worker_metrics
from rotation.celery_app import make_celery

# Before Celery sets up its logging: every record of the worker passes the scrubber.
install_scrubbing()
settings = Settings.from_env()
task_logs.install(settings)
worker_metrics.install(settings)
celery = make_celery(settings)
