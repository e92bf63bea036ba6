"""Allowed and blocked address rules: single addresses or CIDR ranges, IPv4 and IPv6."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from keystore.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def normalise_rules(rules, *, field: str) -> list[str]:
    """Validate rules and return their canonical text (``10.0.0.0/8``, ``2001:db8::/32``)."""
    if rules is None:
        return []
    if isinstance(rules, str) or not isinstance(rules, list | tuple):
        raise ValidationError(f"{field} must be a list of addresses or CIDR ranges", field=field)
    canonical = []
    for rule in rules:
        try:
            canonical.append(str(ipaddress.ip_network(str(rule).strip(), strict=False)))
        except ValueError:
            raise ValidationError(
                f"{field}: {rule!r} is not an IP address or CIDR range", field=field
            ) from None
    return sorted(set(canonical), key=canonical.index)


def parse_address(address: str) -> IPAddress:
    """Parse a client address; an IPv4-mapped IPv6 address counts as its IPv4 address."""
    try:
        parsed = ipaddress.ip_address(address.strip())
    except (ValueError, AttributeError):
        raise ValidationError(f"{address!r} is not an IP address", field="address") from None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed


@lru_cache(maxsize=4096)
def compiled(rules: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    # Rules are stored canonical, so the same tuple recurs on every request of a key.
    return tuple(ipaddress.ip_network(rule, strict=False) for rule in rules)


def matches(address: IPAddress, rules: tuple[str, ...]) -> bool:
    return any(address in network for network in compiled(rules))
