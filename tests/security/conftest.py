"""The attacks run against the same app, client and world as the web tests, on both databases."""

from tests.web.conftest import admin, admin_token, app, client
from tests.worlds import issue, world

__all__ = ["admin", "admin_token", "app", "client", "issue", "world"]
