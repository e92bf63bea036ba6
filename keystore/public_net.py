"""The guard against SSRF: is an address public, what does a name resolve to (in bounded
time), and how to connect to exactly the address that was checked.

The one home of these checks for everything that makes Keyward connect to a URL someone
gave it: watched repositories (git is pinned to the address by ``scanner.remote``),
outgoing webhooks and identity providers' key sets (HTTP, pinned here).  A name is
resolved once, every address it has must pass, and the connection goes to the address
checked, so a DNS answer that changes in between (rebinding) cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from keystore.errors import ValidationError

# The one host the test-only loopback allowances open (webhook receivers, identity providers).
LOOPBACK_HOST = "127.0.0.1"
_PORTS = {"https": 443, "http": 80}

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


class AddressRefused(Exception):
    """A host Keyward will not connect to; ``reason`` is ``resolve_timeout``, ``unresolvable``
    or ``not_public``.  Callers word it for their users (never with the socket error)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve_public(host: str, port: int | None, *, timeout: float, allow_loopback=False) -> str:
    """The address to connect to: every address ``host`` resolves to must be public.

    One private answer among public ones refuses the whole name (DNS rebinding);
    ``allow_loopback`` also lets loopback addresses through (test-only settings).
    """
    addresses = lookup(host, port, timeout=timeout)
    if addresses is None:
        raise AddressRefused("resolve_timeout")
    if not addresses:
        raise AddressRefused("unresolvable")
    for address in addresses:
        if not (is_public(address) or (allow_loopback and is_loopback(address))):
            raise AddressRefused("not_public")
    return addresses[0]


def loopback_allowed(host: str, allowed: bool) -> bool:
    """Whether a test-only allowance (``allowed``) opens ``host``: only ``127.0.0.1`` ever."""
    return allowed and host == LOOPBACK_HOST


def check_url(url, *, field: str, max_length: int, allow_loopback: bool) -> str:
    """An https URL with a host and nothing that hides where it goes (no user info, fragment).

    Only an IP literal can be judged before DNS; the addresses a name resolves to are
    checked at every connection (:func:`resolve_public`).  ``http://127.0.0.1`` passes only
    with ``allow_loopback`` (a test-only setting).
    """
    if not isinstance(url, str) or not url or len(url) > max_length:
        raise _bad_url(field, f"{field} must be text of at most {max_length} characters")
    if not url.isascii() or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise _bad_url(field, f"{field} must be plain ASCII without spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad_url(field, f"{field} is not a valid URL") from None
    host = (parts.hostname or "").lower()
    if not host or "@" in parts.netloc or parts.fragment:
        raise _bad_url(field, f"{field} needs a host, and no user info or fragment")
    if loopback_allowed(host, allow_loopback):
        if parts.scheme not in ("http", "https"):
            raise _bad_url(field, f"{field} must start with https://")
        return url
    if parts.scheme != "https":
        raise _bad_url(field, f"{field} must start with https://", reason="scheme_not_allowed")
    if port == 0 or not may_be_public(host):
        raise _bad_url(
            field,
            f"{field} must not name a private, loopback or reserved address",
            reason="target_not_public",
        )
    return url


def _bad_url(field: str, message: str, *, reason: str = "invalid_url") -> ValidationError:
    return ValidationError(message, reason=reason, field=field)


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "").lower(), parts.port or _PORTS.get(parts.scheme, 443)


@dataclass(frozen=True)
class Target:
    """Where a request goes: the URL with its host replaced by the checked address."""

    url: str
    host_header: str
    server_name: str | None  # the TLS name to verify, for https


def pin(url: str, address: str) -> Target:
    """``url`` sent to ``address``; the name stays in the Host header and TLS SNI and is what
    the certificate is verified against."""
    parts = urlsplit(url)
    host, port = host_and_port(url)
    literal = f"[{address}]" if ":" in address else address
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path, parts.query, ""))
    host_header = host if parts.port in (None, _PORTS.get(parts.scheme)) else f"{host}:{port}"
    return Target(url=pinned, host_header=host_header, server_name=host)


def unpinned(url: str) -> Target:
    """``url`` as is: only for the loopback receiver the test-only settings allow."""
    return Target(url=url, host_header=urlsplit(url).netloc, server_name=None)


class _PinnedAdapter(HTTPAdapter):
    """Verifies TLS against the receiver's name while connecting to its checked address."""

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        name = getattr(request, "keyward_server_name", None)
        if name and host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = name
            pool_kwargs["assert_hostname"] = name
        return host_params, pool_kwargs


def pinned_session() -> requests.Session:
    """A session for pinned requests: no environment proxies or .netrc, TLS checked by name."""
    session = requests.Session()
    session.trust_env = False
    session.mount("https://", _PinnedAdapter())
    session.mount("http://", _PinnedAdapter())
    return session


def prepare(
    session: requests.Session, method: str, target: Target, *, headers: dict, data=None
) -> requests.PreparedRequest:
    """A request to ``target`` through ``session`` (made by :func:`pinned_session`)."""
    request = requests.Request(
        method, target.url, data=data, headers={**headers, "Host": target.host_header}
    )
    prepared = session.prepare_request(request)
    prepared.keyward_server_name = target.server_name
    return prepared
