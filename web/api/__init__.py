"""The admin API under ``/api/v1``: thin views over the keystore services."""

from flask import Blueprint, g, jsonify

from keystore.privileges import Caller, caller_for_client
from web.openapi import build_document, operation

api = Blueprint("api", __name__, url_prefix="/api/v1")


def actor() -> str:
    return g.actor


def caller(session) -> Caller:
    """The calling client's privileges, for the services' containment rule."""
    return caller_for_client(session, g.outcome.decision.client_id)


@api.get("/openapi.json")
@operation("This document", responses={200: None}, tag="meta")
def openapi_document():
    from flask import current_app

    return jsonify(build_document(current_app))


# Route modules register themselves on ``api`` when imported.
from web.api import (  # noqa: E402
    catalogue,
    clients,
    collections,
    incidents,
    issuers,
    jwt_keys,
    keys,
    policies,
    records,
    repositories,
    roles,
    webhooks,
)

__all__ = [
    "api",
    "catalogue",
    "clients",
    "collections",
    "incidents",
    "issuers",
    "jwt_keys",
    "keys",
    "policies",
    "records",
    "repositories",
    "roles",
    "webhooks",
]
