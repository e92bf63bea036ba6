"""The Keyward token format, version 1 (see ``docs/token-format.md``).

    <prefix>_<env>_<random><checksum>

The checksum lets a scanner, a gateway or the decision function throw away a
typo, an example or a truncated copy without touching the database.  It is an
integrity check, not a secret: the secret is the 30 random characters.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import zlib
from dataclasses import dataclass

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
BODY_LENGTH = RANDOM_LENGTH + CHECKSUM_LENGTH
DIGEST_VERSION = 1

PREFIX_PATTERN = r"[a-z][a-z0-9]{1,9}"
ENV_TAG_PATTERN = r"[a-z][a-z0-9]{0,7}"
_PREFIX_RE = re.compile(rf"\A{PREFIX_PATTERN}\Z")
_ENV_TAG_RE = re.compile(rf"\A{ENV_TAG_PATTERN}\Z")
_BASE62_SET = frozenset(BASE62)


class TokenFormatError(ValueError):
    """A string is not a well-formed Keyward token.  Never carries the token itself."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"not a Keyward token: {reason}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ParsedToken:
    prefix: str
    env: str
    random: str
    checksum: str

    @property
    def hint(self) -> str:
        return make_hint(self.prefix, self.env, self.random + self.checksum)


def is_valid_prefix(prefix: str) -> bool:
    return bool(_PREFIX_RE.match(prefix))


def is_valid_env_tag(tag: str) -> bool:
    return bool(_ENV_TAG_RE.match(tag))


def base62_encode(number: int, width: int) -> str:
    """Encode ``number`` most significant digit first, left-padded with ``0``."""
    digits = []
    while number:
        number, rest = divmod(number, 62)
        digits.append(BASE62[rest])
    return "".join(reversed(digits)).rjust(width, "0")


def checksum(head: str) -> str:
    """CRC-32 of ``<prefix>_<env>_<random>`` in six base62 characters."""
    return base62_encode(zlib.crc32(head.encode("ascii")), CHECKSUM_LENGTH)


def generate(prefix: str, env: str) -> str:
    """Draw a new token.  The caller shows it once and stores only its digest."""
    if not is_valid_prefix(prefix):
        raise TokenFormatError("prefix")
    if not is_valid_env_tag(env):
        raise TokenFormatError("environment tag")
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    head = f"{prefix}_{env}_{random_part}"
    return head + checksum(head)


def parse(token: str, *, prefix: str | None = None) -> ParsedToken:
    """Split and validate a token; raise :class:`TokenFormatError` if it is not one.

    Pure string work: the decision function calls this before any database read.
    """
    if not isinstance(token, str) or not token.isascii():
        raise TokenFormatError("characters")
    token_prefix, sep1, rest = token.partition("_")
    env, sep2, body = rest.partition("_")
    if not (sep1 and sep2) or not is_valid_prefix(token_prefix) or not is_valid_env_tag(env):
        raise TokenFormatError("shape")
    if prefix is not None and token_prefix != prefix:
        raise TokenFormatError("prefix")
    if len(body) != BODY_LENGTH or not _BASE62_SET.issuperset(body):
        raise TokenFormatError("shape")
    random_part, check = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    if not hmac.compare_digest(checksum(f"{token_prefix}_{env}_{random_part}"), check):
        raise TokenFormatError("checksum")
    return ParsedToken(prefix=token_prefix, env=env, random=random_part, checksum=check)


def is_token(token: str, *, prefix: str | None = None) -> bool:
    try:
        parse(token, prefix=prefix)
    except TokenFormatError:
        return False
    return True


def make_hint(prefix: str, env: str, body: str) -> str:
    """What people see: ``kw_prod_Ab3d…x9Z1`` (first 4 random, last 4 characters)."""
    return f"{prefix}_{env}_{body[:4]}…{body[-4:]}"


def hint_of(token: str) -> str:
    return parse(token).hint


def digest(token: str, pepper: bytes) -> str:
    """The stored form: HMAC-SHA256 keyed with the server pepper, hex.

    A database dump alone cannot be used to test guesses, because the pepper
    lives in configuration, not in the database.
    """
    # UTF-8, not ASCII: leak reports may carry any text, and a token's bytes are the same.
    return hmac.new(pepper, token.encode("utf-8", "replace"), hashlib.sha256).hexdigest()


def github_token_hash(token: str) -> str:
    """GitHub's feedback ``token_hash``: plain SHA-256 hex, not the stored :func:`digest`."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def candidate_regex(prefix: str = PREFIX_PATTERN, env: str = ENV_TAG_PATTERN) -> str:
    """The matching rule as a regex source, for scanners and GitHub's partner registration.

    A candidate still needs :func:`parse` (the checksum) before it is a finding.
    """
    return rf"(?<![A-Za-z0-9_])({prefix})_({env})_([0-9A-Za-z]{{{BODY_LENGTH}}})(?![A-Za-z0-9])"
