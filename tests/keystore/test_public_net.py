"""The one SSRF guard: names resolved once, every address checked, the checked one connected to."""

from __future__ import annotations

import pytest
import responses

from keystore import public_net
from keystore.public_net import AddressRefused, resolve_public
from keystore.remote_jwks import fetch_keys
from tests.fakedns import dns

__all__ = ["dns"]

PUBLIC = "93.184.215.14"


@pytest.mark.parametrize(
    ("answers", "reason"),
    [
        ([PUBLIC, "10.0.0.1"], "not_public"),  # one private answer refuses the name
        (["127.0.0.1"], "not_public"),
        (["169.254.169.254"], "not_public"),
        ([], "unresolvable"),
    ],
)
def test_a_name_passes_only_if_every_address_is_public(dns, answers, reason):
    dns.answers["host.example"] = answers
    with pytest.raises(AddressRefused) as caught:
        resolve_public("host.example", 443, timeout=2)
    assert caught.value.reason == reason


def test_the_first_checked_address_is_the_one_to_connect_to(dns):
    dns.answers["host.example"] = [PUBLIC, "93.184.215.15"]
    assert resolve_public("host.example", 443, timeout=2) == PUBLIC


def test_loopback_passes_only_when_a_test_setting_allows_it(dns):
    dns.answers["localhost"] = ["127.0.0.1"]
    assert resolve_public("localhost", 80, timeout=2, allow_loopback=True) == "127.0.0.1"
    with pytest.raises(AddressRefused):
        resolve_public("localhost", 80, timeout=2)


def test_a_pinned_url_keeps_the_name_for_host_and_tls():
    target = public_net.pin("https://hooks.example.com:8443/a?b=1", "2001:db8::1")
    assert target.url == "https://[2001:db8::1]:8443/a?b=1"
    assert (target.host_header, target.server_name) == (
        "hooks.example.com:8443",
        "hooks.example.com",
    )


def test_jwks_documents_are_fetched_from_the_checked_address(dns, settings):
    dns.answers["idp.example"] = [PUBLIC]
    with responses.RequestsMock() as mock:
        mock.get(f"https://{PUBLIC}:443/jwks", json={"keys": []})
        assert fetch_keys("https://idp.example/jwks", settings) == {}
        assert mock.calls[0].request.headers["Host"] == "idp.example"
