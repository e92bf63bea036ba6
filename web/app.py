"""The Flask application factory."""

from __future__ import annotations

from flask import Flask

from keystore.config import Settings
from web import browser_session, guards
from web.api import api
from web.console import console
from web.errors import register_error_handlers
from web.gateway import gateway
from web.headers import install_outcome_headers
from web.leaks import leaks
from web.logs import configure_logging, install_request_logging
from web.ops import ops
from web.portal import portal
from web.runtime import Runtime


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; settings come from the environment when not given."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level, settings.log_format)
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.extensions["keyward"] = Runtime.build(settings)
    browser_session.configure(app, settings)
    register_error_handlers(app)
    guards.install(app)  # before the routes: it bounds their <int:...> ids
    install_request_logging(app)
    install_outcome_headers(app)
    for blueprint in (api, gateway, leaks, ops, console, portal):
        app.register_blueprint(blueprint)
    return app
