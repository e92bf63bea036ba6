"""gunicorn's own lines (its error log, and its access log if turned on) as JSON."""

from __future__ import annotations

import os

from gunicorn import glogging

from keystore.structured_logs import bind, configure, unbind


class GunicornLogger(glogging.Logger):
    """gunicorn's error and access lines through the root handler: JSON like the app's.

    The master has no settings object; it reads the two log settings as Settings does, and
    each worker's create_app configures logging again from its settings.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        configure(
            (os.environ.get("KEYWARD_LOG_LEVEL") or "INFO").upper(),
            os.environ.get("KEYWARD_LOG_FORMAT") or "json",
        )
        for log in (self.error_log, self.access_log):
            log.handlers.clear()
            log.propagate = True

    def access(self, resp, req, environ, request_time) -> None:
        # The app's request id (its X-Request-Id answer) names gunicorn's access line too.
        ids = [value for name, value in resp.headers if name.lower() == "x-request-id"]
        token = bind(request_id=ids[0]) if ids else None
        try:
            super().access(resp, req, environ, request_time)
        finally:
            if token is not None:
                unbind(token)
