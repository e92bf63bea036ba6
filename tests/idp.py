"""A local OpenID Connect identity provider: its keys, its signed tokens, its JWKS on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa


class IdentityProvider:
    """Signs tokens with an RSA and an EC key and serves their JWKS; counts the fetches."""

    def __init__(self) -> None:
        self.keys = {
            "rsa-1": ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
            "ec-1": ("ES256", ec.generate_private_key(ec.SECP256R1())),
        }
        self.fetches = 0
        self.extra_jwks: list[dict] = []
        self.url = ""

    @property
    def issuer(self) -> str:
        return f"{self.url}/realm"

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/realm/jwks"

    def jwks(self) -> dict:
        entries = []
        for kid, (algorithm, private) in self.keys.items():
            jwk = json.loads(
                jwt.algorithms.get_default_algorithms()[algorithm].to_jwk(private.public_key())
            )
            entries.append({**jwk, "kid": kid, "alg": algorithm, "use": "sig"})
        return {"keys": entries + self.extra_jwks}

    def token(self, *, kid: str = "rsa-1", header_kid=None, audience="keyward", **claims) -> str:
        """A token signed with ``kid``'s key; ``header_kid`` names another key in its header."""
        algorithm, private = self.keys[kid]
        now = int(time.time())
        body = {"iss": self.issuer, "aud": audience, "sub": "acme", "iat": now, "exp": now + 300}
        body = {k: v for k, v in (body | claims).items() if v is not ...}
        return jwt.encode(body, private, algorithm=algorithm, headers={"kid": header_kid or kid})


def _handler(idp: IdentityProvider):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # http.server calls it by this name
            idp.fetches += 1
            body = json.dumps(idp.jwks()).encode()
            status = 200 if self.path == "/realm/jwks" else 404
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def idp():
    provider = IdentityProvider()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    provider.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield provider
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
