"""A fake GitHub/GitLab on the signing side: real P-256 keys, real signatures, a faked key URL."""

from __future__ import annotations

import base64
import json

import pytest
import responses
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from rotation.partners import GITHUB, Partner

GITHUB_KEYS_URL = "https://api.github.com/meta/public_keys/secret_scanning"


class Signer:
    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        self.private = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_pem(self) -> str:
        return (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()

    def headers(self, body: bytes, partner: Partner = GITHUB) -> dict:
        return {
            **signature_headers(partner, self.identifier, self.sign(body)),
            "Content-Type": "application/json",
        }


def signature_headers(partner: Partner, identifier: str, signature: str) -> dict:
    """The two headers ``partner`` signs with, named as :mod:`rotation.partners` declares them."""
    return {partner.identifier_header: identifier, partner.signature_header: signature}


def key_document(*signers: Signer) -> dict:
    return {
        "public_keys": [
            {"key_identifier": s.identifier, "key": s.public_pem, "is_current": i == 0}
            for i, s in enumerate(signers)
        ]
    }


@pytest.fixture
def github():
    """A signer whose public key GitHub's (faked) key endpoint publishes."""
    signer = Signer("90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(GITHUB_KEYS_URL, json=key_document(signer))
        signer.mock = mocked
        yield signer


def alert(
    *tokens_: str,
    url: str = "https://github.com/o/r/blob/x/a.py",
    source: str = "content",
    kind: str = "keyward_api_token",
) -> bytes:
    return json.dumps(
        [{"token": t, "type": kind, "url": url, "source": source} for t in tokens_]
    ).encode()
