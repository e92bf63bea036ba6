"""Keyward's own signing keys: the one that signs, and the public keys it publishes.

Every Keyward JWT carries a ``kid`` header naming its key, so a gateway that
verifies offline (``/.well-known/jwks.json``) and Keyward itself both pick the
key by ``kid`` — and the *algorithm* from that key, never from the header.

Where the keys live:

* ``KEYWARD_JWT_PRIVATE_KEY_FILE`` (ES256 or RS256) signs when set;
  ``KEYWARD_JWT_PREVIOUS_KEY_FILES`` lists keys it replaced, published and
  accepted until the operator removes them (after the longest JWT lifetime).
* Otherwise, in the embedded mode, an ES256 key is created in
  ``<data dir>/jwt/signing.pem`` on first run (mode 0600; created under a
  temporary name then hard-linked into place, so concurrent processes agree on
  one key).  :func:`rotate` retires it: its public key stays in
  ``<data dir>/jwt/retired/`` and is published until every JWT it could have
  signed has expired.
* Otherwise (production without a key file) the ES256 key is derived from the
  pepper, so every web process, worker and host signs with the same key without
  writing anything; rotating it needs a key file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keystore.config import Settings
from keystore.errors import ConfigError

# A JWT lives at most this long (jwt_access.MAX_TTL_SECONDS), plus clock skew.
RETIRED_KEEP_SECONDS = 24 * 3600 + 300
# Other processes notice a rotation within this many seconds.
RELOAD_SECONDS = 30
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True, slots=True)
class PublicKey:
    kid: str
    key: object
    algorithm: str

    def jwk(self) -> dict:
        return {**_public_numbers(self.key), "kid": self.kid, "use": "sig", "alg": self.algorithm}


@dataclass(frozen=True, slots=True)
class Keyring:
    signing_key: object
    current: PublicKey
    previous: tuple[PublicKey, ...]

    def find(self, kid) -> PublicKey | None:
        for key in (self.current, *self.previous):
            if key.kid == kid:
                return key
        return None

    def jwks(self) -> dict:
        return {"keys": [key.jwk() for key in (self.current, *self.previous)]}


def algorithm_of(key) -> str:
    """The only algorithm a key may verify with (raises ConfigError for other keys)."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
    elif isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey) and key.key_size >= 2048:
        return "RS256"
    raise ConfigError("a JWT signing key must be a P-256 EC or a 2048+ bit RSA key")


def thumbprint(public) -> str:
    """RFC 7638 JWK thumbprint: the ``kid`` of a key, the same wherever it is computed."""
    members = _public_numbers(public)
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":")).encode()
    return _b64(hashlib.sha256(canonical).digest())


def public_key(key) -> PublicKey:
    public = key.public_key() if hasattr(key, "public_key") else key
    algorithm = algorithm_of(public)  # first: only a supported key has a thumbprint
    return PublicKey(kid=thumbprint(public), key=public, algorithm=algorithm)


_cache: dict[tuple, tuple[float, int | None, Keyring]] = {}
_lock = threading.Lock()


def keyring(settings: Settings, *, now: float | None = None, kid=None) -> Keyring:
    """The keyring for these settings, re-read from disk at most every RELOAD_SECONDS.

    Asked for a ``kid`` it does not know, it looks at once whether the signing key file
    changed (one ``stat``): another process's rotation is then seen on its first JWT.
    """
    now = time.time() if now is None else now
    slot = (settings.jwt_private_key_file, settings.jwt_previous_key_files, str(settings.data_dir))
    with _lock:
        cached = _cache.get(slot)
    if cached and now - cached[0] < RELOAD_SECONDS:
        _, stamp, ring = cached
        if kid is None or ring.find(kid) is not None or _stamp(settings) == stamp:
            return ring
    stamp = _stamp(settings)
    ring = _load(settings, now)
    with _lock:
        _cache[slot] = (now, stamp, ring)
    return ring


def _stamp(settings: Settings) -> int | None:
    """When the signing key file last changed (None: no file, e.g. a derived key)."""
    if settings.jwt_private_key_file:
        path = Path(settings.jwt_private_key_file)
    elif settings.mode == "production":
        return None
    else:
        path = _key_dir(settings) / "signing.pem"
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def forget() -> None:
    """Drop the cached keyrings (after a rotation in this process)."""
    with _lock:
        _cache.clear()


def _load(settings: Settings, now: float) -> Keyring:
    if settings.jwt_private_key_file:
        private = _read_private(Path(settings.jwt_private_key_file))
        previous = tuple(_read_any(Path(p)) for p in settings.jwt_previous_key_files)
    elif settings.mode == "production":
        private, previous = _derived_key(settings.pepper_bytes), ()
    else:
        private = _embedded_key(_key_dir(settings) / "signing.pem")
        previous = _retired(_key_dir(settings) / "retired", now)
    current = public_key(private)
    return Keyring(private, current, tuple(k for k in previous if k.kid != current.kid))


def _derived_key(pepper: bytes):
    """An ES256 key from the pepper (HKDF, its own label): the same in every process."""
    material = HKDF(
        algorithm=hashes.SHA256(), length=48, salt=None, info=b"keyward-jwt-es256-v1"
    ).derive(pepper)
    # 384 bits reduced modulo the group order: the bias is negligible (2**-128).
    scalar = int.from_bytes(material, "big") % (P256_ORDER - 1) + 1
    return ec.derive_private_key(scalar, ec.SECP256R1())


def _key_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "jwt"


def _embedded_key(path: Path):
    if not path.exists():
        _create_atomically(path, _new_pem())
    return _read_private(path)


def _new_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _create_atomically(path: Path, content: bytes, *, replace: bool = False) -> None:
    """Write a whole file under a temporary name, then link it into place.

    Without ``replace`` the link fails if another process got there first, and its
    key wins; readers never see a half-written file either way.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        if replace:
            os.replace(temporary, path)
            return
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def rotate(settings: Settings, *, now: float | None = None) -> tuple[str, str]:
    """Replace the embedded signing key; returns (retired kid, new kid).

    The old public key stays published until every JWT it signed has expired.
    A configured KEYWARD_JWT_PRIVATE_KEY_FILE is rotated by the operator instead.
    """
    if settings.jwt_private_key_file or settings.mode == "production":
        raise ConfigError(
            "rotate by installing a new key in KEYWARD_JWT_PRIVATE_KEY_FILE and listing the "
            "old one in KEYWARD_JWT_PREVIOUS_KEY_FILES"
        )
    now = time.time() if now is None else now
    directory = _key_dir(settings)
    old = public_key(_embedded_key(directory / "signing.pem"))
    until = int(now + RETIRED_KEEP_SECONDS)
    pem = old.key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _create_atomically(directory / "retired" / f"{old.kid}.{until}.pem", pem)
    _create_atomically(directory / "signing.pem", _new_pem(), replace=True)
    forget()
    return old.kid, public_key(_read_private(directory / "signing.pem")).kid


def _retired(directory: Path, now: float) -> tuple[PublicKey, ...]:
    keys = []
    for path in sorted(directory.glob("*.pem")) if directory.is_dir() else ():
        until = path.name.split(".")[-2]
        if not until.isdigit():
            continue
        if int(until) <= now:
            path.unlink(missing_ok=True)  # every token it signed has expired
            continue
        keys.append(_read_any(path))
    return tuple(keys)


def _read_private(path: Path):
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"the JWT signing key {path} cannot be read: {exc}") from None
    algorithm_of(key)
    return key


def _read_any(path: Path) -> PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"the JWT key {path} cannot be read: {exc}") from None
    try:
        return public_key(serialization.load_pem_public_key(data))
    except (ValueError, TypeError):
        return public_key(_read_private(path))


def _public_numbers(public) -> dict:
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        return {"crv": "P-256", "kty": "EC", "x": _int64(numbers.x, 32), "y": _int64(numbers.y, 32)}
    numbers = public.public_numbers()
    size = (numbers.n.bit_length() + 7) // 8
    return {"e": _int64(numbers.e, None), "kty": "RSA", "n": _int64(numbers.n, size)}


def _int64(value: int, size: int | None) -> str:
    size = size or max(1, (value.bit_length() + 7) // 8)
    return _b64(value.to_bytes(size, "big"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
