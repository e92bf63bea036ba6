"""The one page that may show a token: never cached, never logged."""

from __future__ import annotations

from flask import make_response, render_template


def token_page(template: str, *, issued: dict, back: str, status: int = 200):
    """Render the one-time token dialog with ``Cache-Control: no-store``."""
    response = make_response(render_template(template, issued=issued, back=back), status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def no_store(result):
    """Mark a view's result uncacheable (for pages carrying a one-time link)."""
    response = make_response(result)
    response.headers["Cache-Control"] = "no-store"
    return response
