"""Leak response: the Celery app, its tasks, and the emails they send."""
