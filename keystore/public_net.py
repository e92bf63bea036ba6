"""Is an address on the public internet, and what does a name resolve to (in bounded time)?

Shared by everything that makes Keyward connect to a URL someone gave it (watched
repositories, outgoing webhooks, key documents): the guard against SSRF.
"""

from __future__ import annotations

import ipaddress
import socket
import threading

_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def is_public(address: str) -> bool:
    """True for a globally routable unicast address (and any IPv4 one it embeds)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if not _global_unicast(ip):
        return False
    return all(_global_unicast(inner) for inner in _embedded_ipv4(ip))


def may_be_public(host: str) -> bool:
    """Before DNS: a host name passes unless it is a local one; an IP literal must be public.

    The addresses a name resolves to are checked again at every connection.
    """
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return host != "localhost" and not host.endswith((".localhost", ".local", ".internal"))
    return is_public(bare)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _global_unicast(ip) -> bool:
    flags = (
        ip.is_private,
        ip.is_loopback,
        ip.is_link_local,
        ip.is_multicast,
        ip.is_reserved,
        ip.is_unspecified,
        getattr(ip, "is_site_local", False),
    )
    return ip.is_global and not any(flags)


def _embedded_ipv4(ip) -> list:
    # 6to4, Teredo, IPv4-mapped and NAT64 addresses carry an IPv4 address that decides.
    if ip.version == 4:
        return []
    inner = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if any(ip in network for network in _NAT64):
        inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return [address for address in inner if address is not None]


def lookup(host: str, port: int | None, *, timeout: float) -> list[str] | None:
    """The addresses ``host`` resolves to ([] when it does not); None when that took too long.

    getaddrinfo has no timeout of its own, so it runs in a daemon thread we stop waiting for.
    """
    found: list[str] = []
    done = threading.Event()

    def work() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            found.extend(dict.fromkeys(str(info[4][0]) for info in infos))
        except (OSError, UnicodeError):
            pass
        finally:
            done.set()

    threading.Thread(target=work, daemon=True, name="keyward-resolve").start()
    if not done.wait(timeout):
        return None
    return found
