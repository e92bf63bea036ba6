"""Entry module for Celery processes:

celery -A rotation.worker worker --loglevel INFO
celery -A rotation.worker beat --loglevel INFO
"""

from keystore.config import Settings
from rotation.celery_app import make_celery

celery = make_celery(Settings.from_env())
