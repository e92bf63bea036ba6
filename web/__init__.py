"""Keyward's HTTP face: the admin API, gateway verification, the leak webhooks.

Production: ``gunicorn 'web:create_app()'``; embedded: ``keyward serve``.
"""

from web.app import create_app

__all__ = ["create_app"]
