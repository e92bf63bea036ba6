"""Errors of partner alert verification (GitHub and GitLab secret-scanning alerts).

Status codes, chosen so the sender knows whose side the fault is on:

- :class:`SignatureError` is **401**: the request did not prove it comes from the
  partner (headers missing, signature undecodable, key unknown, signature wrong).
  A 401 rather than a 400 because the body is never looked at: the failure is
  one of authentication, not of the payload.
- :class:`KeyFetchError` is **503**: we could not obtain the partner's public
  keys (network, rate limit, bad document, cache down).  The fault is ours or
  the key server's, and both GitHub and GitLab redeliver on such an answer.

Messages never contain the request body, the signature or any token.
"""

from __future__ import annotations

from keystore.errors import KeywardError

MISSING_HEADERS = "missing_headers"
MALFORMED_SIGNATURE = "malformed_signature"
UNKNOWN_KEY = "unknown_key"
BAD_SIGNATURE = "bad_signature"
KEY_FETCH_FAILED = "key_fetch_failed"

REASONS = (MISSING_HEADERS, MALFORMED_SIGNATURE, UNKNOWN_KEY, BAD_SIGNATURE, KEY_FETCH_FAILED)


class SignatureError(KeywardError):
    """The alert's signature could not be accepted; ``reason`` says why."""

    error = "invalid_signature"
    status = 401


class KeyFetchError(SignatureError):
    """The partner's public keys are unavailable: retryable, so a 5xx."""

    error = "unavailable"
    status = 503

    def __init__(self, message: str, *, reason: str = KEY_FETCH_FAILED):
        super().__init__(message, reason=reason)
