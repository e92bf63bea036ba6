"""Security tests reuse the web app (on each database), its admin, the console and the world."""

from tests.web.conftest import admin, admin_token, app, client
from tests.web.console.conftest import acme_user, ada, browser, console
from tests.worlds import issue, world

__all__ = [
    "acme_user",
    "ada",
    "admin",
    "admin_token",
    "app",
    "browser",
    "client",
    "console",
    "issue",
    "world",
]
