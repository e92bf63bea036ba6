"""Address rules as people write them: addresses, CIDR ranges and dash ranges, IPv4 and IPv6.

A rule list may be a list of strings or one string; each string may hold several
entries separated by commas or newlines (``"10.0.0.1-10.0.0.9, 192.168.0.0/24"``).
A dash range ``first-last`` (both ends included, one address family) becomes the
smallest set of CIDR blocks covering exactly it.  The whole list is stored
normalised: overlapping and adjacent blocks merged, IPv4 before IPv6, each in
address order, an IPv4-mapped IPv6 block written as IPv4 (the decision compares
mapped addresses as IPv4).  So it is shown back exactly as it is enforced.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from keystore.errors import ValidationError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Bounds that keep a list cheap to store and to match on every request.  A huge dash
# range is fine (an IPv6 one is at most 254 blocks); thousands of entries are not.
MAX_ENTRIES = 256
MAX_NETWORKS = 512
MAX_ENTRY_CHARS = 100
_SEPARATORS = re.compile(r"[,\n\r]")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


def normalise_rules(rules, *, field: str) -> list[str]:
    """Validate rules and return their minimal canonical CIDR text; a 422 names a bad entry."""
    try:
        return [str(network) for network in parse_rules(rules)]
    except ValidationError as exc:
        raise ValidationError(f"{field}: {exc.message}", field=field, reason=exc.reason) from None


def parse_rules(rules) -> list[IPNetwork]:
    """The minimal sorted networks of a rule list (a string, or a list of strings)."""
    if rules is None:
        return []
    networks = [parse_entry(entry) for entry in _entries(rules)]
    collapsed = [
        *ipaddress.collapse_addresses(n for block in networks for n in block if n.version == 4),
        *ipaddress.collapse_addresses(n for block in networks for n in block if n.version == 6),
    ]
    if len(collapsed) > MAX_NETWORKS:
        raise ValidationError(
            f"the rules come to {len(collapsed)} CIDR blocks, more than {MAX_NETWORKS}; "
            "use wider ranges",
            reason="too_many",
        )
    return collapsed


def check_entries(value: str) -> None:
    """Raise ValidationError naming the first bad entry of one string (for input schemas)."""
    for entry in _entries(value):
        parse_entry(entry)


def _entries(rules) -> list[str]:
    if isinstance(rules, str):
        rules = [rules]
    if not isinstance(rules, list | tuple):
        raise ValidationError("must be a list of addresses or ranges, or one string of them")
    entries = []
    for item in rules:
        if not isinstance(item, str):
            raise ValidationError(f"{item!r} is not text (an address or range)")
        entries += [part.strip() for part in _SEPARATORS.split(item) if part.strip()]
        if len(entries) > MAX_ENTRIES:
            raise ValidationError(f"more than {MAX_ENTRIES} entries", reason="too_many")
    return entries


def parse_entry(entry: str) -> list[IPNetwork]:
    """One address, CIDR range or dash range, as CIDR blocks."""
    if len(entry) > MAX_ENTRY_CHARS or not entry.isprintable() or not entry.isascii():
        raise _bad(entry, "is not an IP address, CIDR range or first-last range")
    if "-" in entry:
        return _dash_range(entry)
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise _bad(entry, "is not an IP address, CIDR range or first-last range") from None
    return [_unmapped(network)]


def _dash_range(entry: str) -> list[IPNetwork]:
    first_text, _, last_text = (part.strip() for part in entry.partition("-"))
    try:
        first = parse_address(first_text)
        last = parse_address(last_text)
    except ValidationError:
        raise _bad(entry, "is not a range of two IP addresses (first-last)") from None
    if first.version != last.version:
        raise _bad(entry, "mixes IPv4 and IPv6")
    if first > last:
        raise _bad(entry, "is reversed: its first address comes after its last")
    return list(ipaddress.summarize_address_range(first, last))


def _unmapped(network: IPNetwork) -> IPNetwork:
    # ::ffff:10.0.0.0/104 is written as 10.0.0.0/8: addresses are compared as IPv4.
    if network.version == 6 and network.subnet_of(_MAPPED):
        base = network.network_address.ipv4_mapped
        return ipaddress.IPv4Network(f"{base}/{network.prefixlen - 96}")
    return network


def _bad(entry: str, problem: str) -> ValidationError:
    shown = entry if len(entry) <= 60 else entry[:57] + "..."
    return ValidationError(f"{shown!r} {problem}", reason="bad_format")


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


def refusal(address: IPAddress | None, *, allowed, blocked) -> str | None:
    """Why an address is refused by several rule lists at once, or None.

    ``allowed`` and ``blocked`` are sequences of stored lists (a key's own, its
    policy's, its client's policy's).  The address must be in *every* non-empty
    allowed list (their intersection: an empty intersection allows nobody) and in
    *no* blocked list (their union); blocked wins.  No address with any rule: refused.
    """
    allowed = [tuple(rules) for rules in allowed if rules]
    blocked = [tuple(rules) for rules in blocked if rules]
    if not (allowed or blocked):
        return None
    if address is None:
        return "ip_not_allowed"
    if any(matches(address, rules) for rules in blocked):
        return "ip_blocked"
    if not all(matches(address, rules) for rules in allowed):
        return "ip_not_allowed"
    return None
