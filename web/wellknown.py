"""Published facts for gateways and OpenID clients: Keyward's signing keys and endpoints."""

from __future__ import annotations

from flask import Blueprint, jsonify

from keystore import jwks
from keystore.jwt_access import issuer
from web.openapi import operation
from web.runtime import runtime

wellknown = Blueprint("wellknown", __name__, url_prefix="/.well-known")

# Gateways cache the keys; a rotation publishes the new key long before it is needed.
CACHE = {"Cache-Control": "public, max-age=300"}


@wellknown.get("/jwks.json")
@operation(
    "Keyward's JWT signing keys (RFC 7517), current and retired",
    responses={200: "Jwks"},
    tag="oauth",
)
def jwks_document():
    return jsonify(jwks.keyring(runtime().settings).jwks()), 200, CACHE


@wellknown.get("/openid-configuration")
@operation(
    "OpenID Provider metadata: issuer, jwks_uri, token_endpoint",
    responses={200: "OpenIdConfiguration"},
    tag="oauth",
)
def openid_configuration():
    settings = runtime().settings
    ring = jwks.keyring(settings)
    base = settings.public_url
    return (
        jsonify(
            {
                "issuer": issuer(settings),
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "token_endpoint": f"{base}/oauth/token",
                "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "response_types_supported": ["token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": sorted(
                    {ring.current.algorithm, *(k.algorithm for k in ring.previous)}
                ),
                "scopes_supported": [],
                "claims_supported": ["iss", "sub", "exp", "iat", "jti", "scope", "env"],
            }
        ),
        200,
        CACHE,
    )
