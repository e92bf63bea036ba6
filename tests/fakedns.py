"""DNS at the edge: ``socket.getaddrinfo`` as Keyward's address checks see it."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from keystore import public_net

GITHUB_ADDRESS = "140.82.121.4"


class FakeDns:
    """``socket.getaddrinfo`` at the edge: names map to the addresses a test gives them."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}

    def __call__(self, host, port, *args, **kwargs):
        if host in self.answers:
            addresses = self.answers[host]
        else:
            try:  # address literals resolve to themselves
                addresses = [str(ipaddress.ip_address(host))]
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]


@pytest.fixture
def dns(monkeypatch) -> FakeDns:
    """github.com resolves to a public address; other names to nothing unless a test says."""
    fake = FakeDns()
    fake.answers["github.com"] = [GITHUB_ADDRESS]
    monkeypatch.setattr(public_net.socket, "getaddrinfo", fake)
    return fake
