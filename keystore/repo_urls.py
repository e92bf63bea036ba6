"""Which repository URLs Keyward may fetch: the guard against SSRF through watched repositories.

A watched repository is fetched by a worker inside the operator's network, so its URL
is checked twice: when it is registered (syntax, scheme, host allow-list, addresses)
and again right before every fetch, because DNS answers change.  The fetch then
connects to the very address that was checked (``scanner.remote`` pins it).

Only ``https://`` to the hosts in ``KEYWARD_REPO_HOSTS`` by default; ``ssh://`` when
``KEYWARD_REPO_ALLOW_SSH`` says so; ``file://`` and ``http(s)://`` to loopback only under
the test-only ``KEYWARD_REPO_ALLOW_LOCAL``.  Every address a name resolves to must be
public: one private answer among public ones refuses the whole name (DNS rebinding).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from keystore.errors import ValidationError
from keystore.public_net import AddressRefused, resolve_public

MAX_URL_LENGTH = 500
RESOLVE_TIMEOUT_SECONDS = 5.0
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_LABEL = re.compile(r"\A(?!-)[a-z0-9-]{1,63}(?<!-)\Z")
# The last label of a name is never numeric or hexadecimal: that rules out the decimal,
# octal and hex spellings of addresses (http://2130706433/, http://0x7f.1/).
_TOP_LABEL = re.compile(r"\A[a-z][a-z0-9-]*\Z")
_PORTS = {"https": 443, "http": 80, "ssh": 22}
# Why a host is refused (keystore.public_net) -> our reason code and message.
_REFUSALS = {
    "resolve_timeout": (
        "resolve_timeout",
        "could not fetch: resolving the host took over {timeout:g} s",
    ),
    "unresolvable": ("host_unresolvable", "could not fetch {url}: its host does not resolve"),
    "not_public": (
        "address_not_allowed",
        "could not fetch {url}: its host resolves to a non-public address",
    ),
}


class RepoUrlError(ValidationError):
    """A URL Keyward will not fetch; ``reason`` says why, the message never holds socket errors."""


@dataclass(frozen=True)
class RepoPolicy:
    hosts: frozenset[str]
    allow_ssh: bool = False
    allow_local: bool = False

    @classmethod
    def from_settings(cls, settings) -> RepoPolicy:
        return cls(
            hosts=frozenset(settings.repo_hosts),
            allow_ssh=settings.repo_allow_ssh,
            allow_local=settings.repo_allow_local,
        )

    def schemes(self) -> tuple[str, ...]:
        extra = ("ssh",) if self.allow_ssh else ()
        return ("https", *extra, *(("http", "file") if self.allow_local else ()))


@dataclass(frozen=True)
class RepoUrl:
    """A URL that passed the syntax and host checks; ``url`` is its canonical spelling."""

    url: str
    scheme: str
    host: str | None
    port: int | None

    @property
    def origin(self) -> str:
        """``scheme://host:port/``: the one place a repository's credentials may be sent."""
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}/"


@dataclass(frozen=True)
class Target:
    """Where a fetch may connect: the checked URL and the address it was checked at."""

    repo_url: RepoUrl
    address: str | None


def parse(url, policy: RepoPolicy) -> RepoUrl:
    """Check a URL's syntax, scheme and host against the policy, without touching the network."""
    if not isinstance(url, str) or not url.strip():
        raise _invalid("url must be a string such as https://github.com/owner/repo.git")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"url must be at most {MAX_URL_LENGTH} characters")
    if not url.isascii() or not url.isprintable() or " " in url:
        raise _invalid("url must be printable ASCII; write international names in punycode (xn--)")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _invalid("url is not a valid URL") from None
    if port == 0:
        raise _invalid("url has no valid port")
    scheme = parts.scheme.lower()
    if scheme not in policy.schemes():
        raise RepoUrlError(
            f"url scheme must be one of: {', '.join(policy.schemes())}",
            reason="scheme_not_allowed",
            field="url",
        )
    if parts.query or parts.fragment or "\\" in url:
        raise _invalid("url must not have a query, a fragment or backslashes")
    if scheme == "file":
        return _file_url(parts)
    _check_userinfo(parts, scheme)
    host = _host(parts.hostname or "", policy)
    if not parts.path.strip("/"):
        raise _invalid("url must name a repository path")
    port = port or _PORTS[scheme]
    user = f"{parts.username}@" if parts.username else ""
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if port == _PORTS[scheme] else f"{shown}:{port}"
    canonical = f"{scheme}://{user}{netloc}{parts.path}"
    return RepoUrl(url=canonical, scheme=scheme, host=host, port=port)


def resolve(repo_url: RepoUrl, policy: RepoPolicy, *, timeout: float = RESOLVE_TIMEOUT_SECONDS):
    """Resolve the host now and return a :class:`Target` if every address is allowed."""
    if repo_url.host is None:
        return Target(repo_url=repo_url, address=None)
    local_ok = policy.allow_local and repo_url.host in LOOPBACK_HOSTS
    try:
        address = resolve_public(
            repo_url.host, repo_url.port, timeout=timeout, allow_loopback=local_ok
        )
    except AddressRefused as exc:
        reason, why = _REFUSALS[exc.reason]
        message = why.format(timeout=timeout, url=repo_url.url)
        raise RepoUrlError(message, reason=reason, field="url") from None
    return Target(repo_url=repo_url, address=address)


def check(url, policy: RepoPolicy, *, timeout: float = RESOLVE_TIMEOUT_SECONDS) -> Target:
    """:func:`parse` then :func:`resolve`: what registration and every fetch both run."""
    return resolve(parse(url, policy), policy, timeout=timeout)


def _file_url(parts) -> RepoUrl:
    if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
        raise _invalid("a file URL must be file:///absolute/path")
    return RepoUrl(url=f"file://{parts.path}", scheme="file", host=None, port=None)


def _check_userinfo(parts, scheme: str) -> None:
    if "@" not in parts.netloc:
        return
    if scheme != "ssh" or parts.password is not None or not parts.username:
        raise RepoUrlError(
            "url must not carry credentials; name an environment variable in credentials_env",
            reason="userinfo_not_allowed",
            field="url",
        )
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", parts.username):
        raise _invalid("the ssh user name may hold letters, digits, '.', '_' and '-' only")


def _host(host: str, policy: RepoPolicy) -> str:
    host = host.lower().rstrip(".")
    if policy.allow_local and host in LOOPBACK_HOSTS:
        return host
    labels = host.split(".")
    if (
        len(host) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or not _TOP_LABEL.match(labels[-1])
    ):
        raise RepoUrlError(
            "url must name a host by its DNS name (no address literals)",
            reason="host_not_allowed",
            field="url",
        )
    if host not in policy.hosts:
        raise RepoUrlError(
            f"{host} is not an allowed repository host (KEYWARD_REPO_HOSTS)",
            reason="host_not_allowed",
            field="url",
        )
    return host


def _invalid(message: str) -> RepoUrlError:
    return RepoUrlError(message, reason="url_invalid", field="url")
