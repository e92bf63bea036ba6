"""Keyward's HTTP face: the admin API, gateway verification, the leak webhooks.

Production: ``gunicorn 'web:create_app()'``; embedded: ``keyward serve``.
"""

from __future__ import annotations

__all__ = ["create_app"]


def __getattr__(name: str):
    # Loaded on first use, so that importing ``web.entry`` (``keyward scan`` in a
    # pre-commit hook) does not load Flask, SQLAlchemy and Celery: over a second.
    if name == "create_app":
        from web.app import create_app

        return create_app
    raise AttributeError(f"module 'web' has no attribute {name!r}")
