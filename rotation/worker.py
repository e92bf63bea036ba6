"""Entry module for Celery processes:

celery -A rotation.worker worker --loglevel INFO
celery -A rotation.worker beat --loglevel INFO
"""

from keystore.config import Settings
from keystore.redaction import install_scrubbing
from rotation.celery_app import make_celery

# Before Celery sets up its logging: every record of the worker passes the scrubber.
install_scrubbing()
celery = make_celery(Settings.from_env())
