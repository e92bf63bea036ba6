"""The admin API under ``/api/v1``: thin views over the keystore services."""

from flask import Blueprint, g, jsonify

from web.openapi import build_document, operation

api = Blueprint("api", __name__, url_prefix="/api/v1")


def actor() -> str:
    return g.actor


@api.get("/openapi.json")
@operation("This document", responses={200: None}, tag="meta")
def openapi_document():
    from flask import current_app

    return jsonify(build_document(current_app))


# Route modules register themselves on ``api`` when imported.
from web.api import (  # noqa: E402
    catalogue,
    clients,
    incidents,
    issuers,
    jwt_keys,
    keys,
    records,
    repositories,
    roles,
    webhooks,
)

__all__ = [
    "api",
    "catalogue",
    "clients",
    "incidents",
    "issuers",
    "jwt_keys",
    "keys",
    "records",
    "repositories",
    "roles",
    "webhooks",
]
