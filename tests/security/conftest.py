"""The security tests reuse the web tests' app, client and admin, and the operator's world."""

from tests.web.conftest import admin, admin_token, app, client
from tests.worlds import issue, world

__all__ = ["admin", "admin_token", "app", "client", "issue", "world"]
