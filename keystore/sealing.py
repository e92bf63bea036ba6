"""Sealing a token that must be shown once later (a leak's replacement token).

AES-256-GCM with a key derived from the pepper; the associated data binds a
sealed blob to its owner (e.g. ``incident:42``), so blobs cannot be swapped.
The blob is deleted when the token is picked up.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keystore.errors import StateError

VERSION = b"s1"
NONCE_BYTES = 12


def _key(pepper: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"keyward-seal-v1").derive(
        pepper
    )


def seal(secret: str, *, pepper: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(pepper)).encrypt(nonce, secret.encode(), context.encode())
    return VERSION + nonce + sealed


def unseal(blob: bytes, *, pepper: bytes, context: str) -> str:
    if not blob.startswith(VERSION):
        raise StateError("sealed value has an unknown format", reason="seal_format")
    nonce, sealed = blob[2 : 2 + NONCE_BYTES], blob[2 + NONCE_BYTES :]
    try:
        return AESGCM(_key(pepper)).decrypt(nonce, sealed, context.encode()).decode()
    except InvalidTag:
        raise StateError("sealed value cannot be opened", reason="seal_invalid") from None
