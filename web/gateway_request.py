"""What a gateway tells ``/v1/auth`` about the request it holds: the credential and the request.

Each common gateway says it its own way:

- nginx ``auth_request``: ``X-Original-Method`` and ``X-Original-URI`` (set by its config);
- Traefik ForwardAuth: ``X-Forwarded-Method`` and ``X-Forwarded-Uri`` (set by Traefik itself;
  ``X-Forwarded-Host`` is not used: the catalogue has no host names);
- Envoy ``ext_authz`` (HTTP service): the original method, and the original path appended to
  ``/v1/auth``.

Only gateways may ask (``KEYWARD_GATEWAY_TOKEN``), so what they say is believed; a request that
carries two of these descriptions which disagree is refused rather than resolved, because one of
them then came from the client through a gateway that did not overwrite it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request

from keystore.config import Settings
from keystore.errors import KeywardError, ValidationError
from web.auth import bearer_credential


class AmbiguousRequest(KeywardError):
    status = 400
    error = "bad_request"


@dataclass(frozen=True)
class OriginalRequest:
    method: str
    uri: str

    @property
    def path(self) -> str:
        return self.uri.split("?", 1)[0].split("#", 1)[0] or "/"


def gateway_credential(settings: Settings) -> str | None:
    """The credential from ``Authorization: Bearer`` or the API-key header (one, not two)."""
    bearer = bearer_credential()
    keyed = _api_key(settings)
    if bearer and keyed and bearer != keyed:
        raise AmbiguousRequest(
            f"send one credential: Authorization and {settings.api_key_header} differ",
            reason="ambiguous_credential",
        )
    return bearer or keyed


def _api_key(settings: Settings) -> str | None:
    if not settings.api_key_header:
        return None
    return request.headers.get(settings.api_key_header, "").strip() or None


def original_request(suffix: str | None) -> OriginalRequest | None:
    """The gateway's description of the client's request; ``suffix`` is Envoy's appended path."""
    described = {
        candidate
        for candidate in (
            _described("X-Original-Method", "X-Original-URI"),
            _described("X-Forwarded-Method", "X-Forwarded-Uri"),
            _appended(suffix),
        )
        if candidate is not None
    }
    if len({(c.method, c.path) for c in described}) > 1:
        raise AmbiguousRequest(
            "the request is described twice, differently (X-Original-*, X-Forwarded-*, path)",
            reason="ambiguous_request",
        )
    return next(iter(described), None)


def _described(method_header: str, uri_header: str) -> OriginalRequest | None:
    uri = request.headers.get(uri_header)
    if not uri:
        return None
    return OriginalRequest(method=_method(request.headers.get(method_header) or "GET"), uri=uri)


def _appended(suffix: str | None) -> OriginalRequest | None:
    if suffix is None:
        return None
    query = request.query_string.decode("latin-1")
    uri = "/" + suffix + (f"?{query}" if query else "")
    return OriginalRequest(method=_method(request.method), uri=uri)


def _method(name: str) -> str:
    method = name.strip().upper()
    # HEAD asks what GET would answer; the catalogue declares GET.
    if method == "HEAD":
        return "GET"
    if not method.isalpha() or len(method) > 16:
        raise ValidationError("the original method is not an HTTP method", field="method")
    return method
