"""One-time pages: what a form produced once (a new token, a secret) kept for a single view.

After a form issues a token, the browser is redirected (post/redirect/get) to a page that
shows it; reloading that page must neither repeat the action nor show the token again.  The
page's content waits here: sealed (AES-GCM, key from the pepper), found only by the keyed
digest of a random view id *and* the browser session that made it, for a few minutes, and
deleted by the one read that shows it.  Nothing of it reaches a URL or a log in the clear.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from keystore import sealing
from keystore.config import Settings
from keystore.errors import StateError
from keystore.models import OneTimeView, utcnow

TTL = timedelta(minutes=5)  # long enough for the redirect, short enough to forget


def stash(session: Session, settings: Settings, *, browser_id: str, content: dict, now=None) -> str:
    """Keep ``content`` for one view by this browser session; returns the view's id."""
    now = now or utcnow()
    session.execute(delete(OneTimeView).where(OneTimeView.expires_at <= now))
    view_id = secrets.token_urlsafe(24)
    digest = _digest(settings, browser_id, view_id)
    sealed = sealing.seal(json.dumps(content), pepper=settings.pepper_bytes, context=digest)
    session.add(OneTimeView(view_digest=digest, sealed=sealed, expires_at=now + TTL))
    return view_id


def take(
    session: Session, settings: Settings, *, browser_id: str, view_id: str, now=None
) -> dict | None:
    """The content, once: ``None`` if it was shown already, expired, or is another browser's."""
    digest = _digest(settings, browser_id, view_id)
    row = session.scalar(select(OneTimeView).where(OneTimeView.view_digest == digest))
    if row is None:
        return None
    # Only the request whose delete removes the row may show it (two reloads at once).
    gone = session.execute(delete(OneTimeView).where(OneTimeView.id == row.id))
    if gone.rowcount != 1 or row.expires_at <= (now or utcnow()):
        return None
    try:
        opened = sealing.unseal(row.sealed, pepper=settings.pepper_bytes, context=digest)
    except StateError:  # another pepper: nothing to show
        return None
    return json.loads(opened)


def _digest(settings: Settings, browser_id: str, view_id: str) -> str:
    key = hmac.new(settings.pepper_bytes, b"keyward/one-time-view", hashlib.sha256).digest()
    message = f"{browser_id}\x00{view_id}".encode("utf-8", "surrogatepass")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
