"""The Flask application factory."""

from __future__ import annotations

from flask import Flask, request

from keystore import jwks, key_age
from keystore.config import Settings
from keystore.db import retrying_read
from keystore.structured_logs import configure
from web import browser_session, guards
from web.api import api
from web.console import console
from web.errors import register_error_handlers
from web.exposure import check_exposure
from web.gateway import gateway
from web.headers import install_outcome_headers
from web.leaks import leaks
from web.logs import install_request_logging
from web.oauth import oauth
from web.ops import ops
from web.portal import portal
from web.runtime import Runtime
from web.wellknown import wellknown


class KeywardFlask(Flask):
    def dispatch_request(self):
        # A read that met a connection broken by a database restart runs once more, so
        # the first request after the restart succeeds (writes never run twice).
        if request.method in ("GET", "HEAD"):
            return retrying_read(super().dispatch_request)
        return super().dispatch_request()


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app; settings come from the environment when not given."""
    settings = settings or Settings.from_env()
    configure(settings.log_level, settings.log_format)
    check_exposure(settings)
    app = KeywardFlask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    # Fail at start-up on an unreadable signing key; the embedded mode creates its own here.
    jwks.keyring(settings)
    app.extensions["keyward"] = Runtime.build(settings)
    browser_session.configure(app, settings)
    # The key tables of the console and the portal show when a key expires by age.
    app.jinja_env.globals["key_age_of"] = key_age.of_key
    register_error_handlers(app)
    install_request_logging(app)  # first: a request the guards refuse has its id too
    guards.install(app)  # before the routes: it bounds their <int:...> ids
    install_outcome_headers(app)
    for blueprint in (api, gateway, leaks, ops, console, portal, oauth, wellknown):
        app.register_blueprint(blueprint)
    return app
