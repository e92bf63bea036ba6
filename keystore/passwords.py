"""Password hashing for people who sign in (console admins, portal users).

scrypt from the standard library: memory-hard, so guessing on GPUs is costly.
The stored form names its version and parameters, so they can be raised later
without invalidating older hashes: ``scrypt$1$<n>$<r>$<p>$<salt b64>$<hash b64>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from keystore.errors import ValidationError

VERSION = "1"
# 2**15 * 8 * 128 bytes = 32 MiB of memory per hash: OWASP's scrypt floor, ~50 ms here.
N, R, P = 2**15, 8, 1
MAX_MEMORY = 64 * 1024 * 1024
MIN_LENGTH, MAX_LENGTH = 12, 256
# Compared against when the account is unknown, so both paths cost one scrypt.
_DUMMY_SALT = b"keyward-no-such-account"


def check_strength(password) -> str:
    """Refuse passwords too short to resist guessing, or too long to hash cheaply."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValidationError(
            f"password must be {MIN_LENGTH} to {MAX_LENGTH} characters",
            field="password",
            reason="weak_password",
        )
    return password


def hash_password(password: str) -> str:
    """The versioned encoding of a new salted scrypt hash."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt=salt, n=N, r=R, p=P)
    return "$".join(("scrypt", VERSION, str(N), str(R), str(P), _b64(salt), _b64(digest)))


def verify_password(password: str, encoded: str | None) -> bool:
    """True when the password matches; constant-time, and as slow for a missing hash."""
    try:
        scheme, version, n, r, p, salt, expected = (encoded or "").split("$")
        if (scheme, version) != ("scrypt", VERSION):
            raise ValueError(scheme)
        params = {"n": int(n), "r": int(r), "p": int(p)}
        salt_bytes, expected_bytes = _unb64(salt), _unb64(expected)
    except ValueError:
        _scrypt(password, salt=_DUMMY_SALT, n=N, r=R, p=P)
        return False
    return hmac.compare_digest(_scrypt(password, salt=salt_bytes, **params), expected_bytes)


def _scrypt(password: str, *, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=32
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except Exception as exc:  # binascii.Error is a ValueError subclass, but be explicit
        raise ValueError("bad base64") from exc


def matching(person, password: str):
    """``person`` if the password is theirs, else None; as slow when ``person`` is None."""
    stored = person.password_hash if person is not None else None
    return person if verify_password(password, stored) else None
