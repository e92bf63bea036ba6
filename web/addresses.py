"""Which address a request came from, trusting forwarded headers only from known proxies."""

from __future__ import annotations

from flask import request

from keystore import ipnets
from keystore.config import Settings
from keystore.errors import ValidationError


def client_address(settings: Settings) -> str | None:
    """The remote address, or the nearest untrusted hop of the forwarded header."""
    remote = request.remote_addr
    trusted = tuple(settings.trusted_proxies)
    if not remote or not _is_trusted(remote, trusted):
        return remote
    forwarded = request.headers.get(settings.client_address_header, "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    # Walk from the nearest hop outwards; the first one we do not trust is the client.
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop
    return hops[0] if hops else remote


def _is_trusted(address: str, trusted: tuple[str, ...]) -> bool:
    try:
        return ipnets.matches(ipnets.parse_address(address), trusted)
    except ValidationError:
        return False
