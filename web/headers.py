"""Headers that follow from the gate's outcome: RateLimit-*, Retry-After, WWW-Authenticate."""

from __future__ import annotations

from flask import Flask, g


def install_outcome_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        outcome = g.get("outcome")
        if outcome is None:
            return response
        limit = outcome.limit
        if limit is not None and limit.limit is not None:
            response.headers["RateLimit-Limit"] = str(limit.limit)
            response.headers["RateLimit-Remaining"] = str(max(limit.remaining or 0, 0))
            response.headers["RateLimit-Reset"] = str(limit.reset_seconds or 0)
            if limit.policy:
                response.headers["RateLimit-Policy"] = limit.policy
        if outcome.status == 429 and limit is not None and limit.retry_after is not None:
            response.headers["Retry-After"] = str(limit.retry_after)
        if outcome.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="keyward"'
        return response
