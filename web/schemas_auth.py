"""JSON Schemas of the authentication methods: OAuth tokens, JWKS, client keys, issuers."""

from __future__ import annotations

from web.schemas import BOOL, DATETIME, INT, STR, STR_LIST, obj

NULL_STR = {"type": ["string", "null"]}
JWK = {
    "type": "object",
    "required": ["kty", "kid", "alg", "use"],
    "properties": {"kty": {"enum": ["EC", "RSA"]}, "kid": STR, "alg": STR, "use": STR},
}

AUTH_SCHEMAS = {
    "OAuthTokenInput": obj(
        ["grant_type"],
        grant_type={"enum": ["client_credentials"]},
        client_id=STR,
        client_secret=STR,
        scope=STR,
    ),
    "OAuthToken": obj(
        ["access_token", "token_type", "expires_in", "scope"],
        access_token=STR,
        token_type={"enum": ["Bearer"]},
        expires_in=INT,
        scope=STR,
    ),
    "OAuthError": obj(
        ["error", "error_description"],
        error={
            "enum": [
                "invalid_request",
                "invalid_client",
                "invalid_grant",
                "unauthorized_client",
                "unsupported_grant_type",
                "invalid_scope",
                "slow_down",
            ]
        },
        error_description=STR,
        reason=STR,
        message=STR,
    ),
    "Jwks": obj(["keys"], keys={"type": "array", "items": JWK}),
    "OpenIdConfiguration": obj(
        [
            "issuer",
            "jwks_uri",
            "token_endpoint",
            "grant_types_supported",
            "id_token_signing_alg_values_supported",
        ],
        issuer=STR,
        jwks_uri=STR,
        token_endpoint=STR,
        grant_types_supported=STR_LIST,
        id_token_signing_alg_values_supported=STR_LIST,
    ),
    "ClientJwtKey": obj(
        ["id", "client_id", "algorithm", "kid", "fingerprint", "created_at"],
        id=INT,
        client_id=INT,
        algorithm={"enum": ["ES256", "RS256", "HS256"]},
        kid=STR,
        fingerprint=STR,
        created_by=STR,
        created_at=DATETIME,
    ),
    "ClientJwtKeyInput": obj(
        ["algorithm"],
        algorithm={"enum": ["ES256", "RS256", "HS256"]},
        public_key={"description": "PEM text or a JWK object (ES256/RS256); none for HS256"},
    ),
    "ClientJwtKeyCreated": {
        "allOf": [
            {"$ref": "#/components/schemas/ClientJwtKey"},
            obj(["secret"], secret=NULL_STR),
        ]
    },
    "TrustedIssuer": obj(
        ["id", "name", "issuer", "jwks_url", "audience", "client_claim", "clients", "enabled"],
        id=INT,
        name=STR,
        issuer=STR,
        jwks_url=STR,
        audience=STR,
        client_claim=STR,
        clients=STR_LIST,
        enabled=BOOL,
        created_by=STR,
        created_at=DATETIME,
    ),
    "TrustedIssuerPatch": obj(["enabled"], enabled=BOOL),
    "TrustedIssuerInput": obj(
        ["name", "issuer", "jwks_url", "audience", "clients"],
        name=STR,
        issuer=STR,
        jwks_url=STR,
        audience=STR,
        client_claim=STR,
        clients=STR_LIST,
    ),
}
