"""Entry module for Celery processes (one worker per queue; see README "Deployment"):

celery -A rotation.worker worker --queues leaks --hostname leaks@%h --loglevel INFO
celery -A rotation.worker worker --queues scans --hostname scans@%h --loglevel INFO
celery -A rotation.worker beat --loglevel INFO
"""

from keystore.config import Settings
from rotation.celery_app import make_celery

celery = make_celery(Settings.from_env())
