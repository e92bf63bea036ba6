"""``/``: where a person who types the server's address is sent (the console's sign-in).

The first steps are said in one place, :func:`first_steps`, for ``keyward serve`` and for the
console's sign-in page while no admin can sign in yet.
"""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

landing = Blueprint("landing", __name__)

CREATE_ADMIN = (
    'keyward admin add "Your Name" you@example.com',
    "keyward admin password you@example.com",
)


@landing.get("/")
def root():
    """The console (its sign-in page for a visitor); the API is at /api/v1/openapi.json."""
    return redirect(url_for("console.home"))


def first_steps(console_url: str) -> list[str]:
    """How to create the first console admin and where to sign in."""
    return [
        "No console admin can sign in yet. On the server, create one:",
        *(f"  {command}" for command in CREATE_ADMIN),
        f"then sign in at {console_url}",
    ]
