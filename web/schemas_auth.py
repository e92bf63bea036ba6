"""JSON Schemas of the authentication methods: OAuth tokens, JWKS, client keys, issuers."""

from __future__ import annotations

from web.inputs import body, text
from web.schemas import BOOL, DATETIME, INT, STR, STR_LIST, obj

URL_TEXT = r"^[!-~]+$"  # printable ASCII, no spaces: the service checks scheme, host, addresses

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
    "ClientJwtKeyInput": body(
        ["algorithm"],
        algorithm={"enum": ["ES256", "RS256", "HS256"]},
        public_key={
            "type": ["string", "object", "null"],
            "maxLength": 16384,
            "description": "PEM text or a JWK object (ES256/RS256); none for HS256",
        },
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
    "TrustedIssuerPatch": body(["enabled"], enabled=BOOL),
    "TrustedIssuerInput": body(
        ["name", "issuer", "jwks_url", "audience", "clients"],
        # The same rules as keystore.oidc's own checks, so the document and the service agree.
        name=text(100, "^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"),
        issuer=text(2000, URL_TEXT),
        jwks_url=text(2000, URL_TEXT),
        audience={**text(300, "^[ -~\u00a0-\uffff]+$"), "minLength": 1},
        client_claim=text(64, "^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$"),
        clients={"type": "array", "minItems": 1, "maxItems": 100, "items": text(100)},
    ),
}
