"""The pages that may show a token or secret: once, never cached, never logged, never in a URL.

Post/redirect/get with a one-time view: the form's transaction stashes the page's content
(keystore.services.one_time_views: sealed, bound to this browser session, a few minutes),
the browser is sent (303) to ``<blueprint>/shown/<view id>``, and that GET takes the content
out as it shows it.  Reloading the page, or going back to it, repeats nothing and shows
nothing: the action ran once, and the token is gone (410).
"""

from __future__ import annotations

import re

from flask import Blueprint, make_response, redirect, render_template, request, session, url_for

from keystore.services import one_time_views
from web.runtime import runtime

VIEW_ID = re.compile(r"[A-Za-z0-9_-]{32}")


def show_once(db, template: str, **context) -> str:
    """Stash ``template`` with ``context`` in the caller's transaction; returns its one address.

    ``context`` must be JSON: ids, names, URLs and the token itself (sealed while it waits).
    """
    content = {"template": template, "context": context}
    view_id = one_time_views.stash(db, runtime().settings, browser_id=session.sid, content=content)
    return url_for(f"{request.blueprint}.one_time_view", view_id=view_id)


def see_once(address: str):
    """The answer to the form's POST: go and see the one-time page (303: a GET, no resend)."""
    return redirect(address, code=303)


def add_one_time_view(blueprint: Blueprint, *, gone_template: str):
    """The blueprint's ``GET shown/<view id>``: the stashed page once, then 410 Gone.

    Returns the view, for the blueprint to declare who may reach it.
    """

    @blueprint.get("/shown/<view_id>")
    def one_time_view(view_id: str):
        content = None
        if VIEW_ID.fullmatch(view_id):
            with runtime().unit_of_work() as db:
                content = one_time_views.take(
                    db, runtime().settings, browser_id=session.sid, view_id=view_id
                )
        if content is None:
            return no_store((render_template(gone_template), 410))
        page = render_template(content["template"], **content["context"])
        return no_store(page)

    return one_time_view


def no_store(result):
    """Mark a view's result uncacheable (a one-time token, secret or link)."""
    response = make_response(result)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response
