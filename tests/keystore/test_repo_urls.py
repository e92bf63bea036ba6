"""The fetch policy of watched repositories: schemes, hosts, and the addresses names resolve to."""

from __future__ import annotations

import pytest

from keystore.public_net import is_public
from keystore.repo_urls import RepoPolicy, RepoUrlError, check, parse
from tests.fakedns import dns

__all__ = ["dns"]

DEFAULT = RepoPolicy(hosts=frozenset({"github.com", "gitlab.com", "bitbucket.org"}))
LOCAL = RepoPolicy(hosts=DEFAULT.hosts, allow_local=True)
SSH = RepoPolicy(hosts=DEFAULT.hosts, allow_ssh=True)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc", "scheme_not_allowed"),
        ("file:///srv/some/repo.git", "scheme_not_allowed"),
        ("http://127.0.0.1:6379/", "scheme_not_allowed"),
        ("http://github.com/o/r.git", "scheme_not_allowed"),
        ("git://github.com/o/r.git", "scheme_not_allowed"),
        ("ssh://git@github.com/o/r.git", "scheme_not_allowed"),
        ("git@github.com:o/r.git", "scheme_not_allowed"),
        ("ext::sh -c touch% /tmp/pwned", "url_invalid"),
        ("ext::sh%20-c%20id", "scheme_not_allowed"),
        ("https://127.0.0.1:8080/o/r.git", "host_not_allowed"),
        ("https://2130706433/o/r.git", "host_not_allowed"),
        ("https://0x7f.1/o/r.git", "host_not_allowed"),
        ("https://0177.0.0.1/o/r.git", "host_not_allowed"),
        ("https://[::1]/o/r.git", "host_not_allowed"),
        ("https://[::ffff:7f00:1]/o/r.git", "host_not_allowed"),
        ("https://evil.example/o/r.git", "host_not_allowed"),
        ("https://github.com.evil.example/o/r.git", "host_not_allowed"),
        ("https://localhost/o/r.git", "host_not_allowed"),
        ("https://user:pass@github.com/o/r.git", "userinfo_not_allowed"),
        ("https://github.com@evil.example/o/r.git", "userinfo_not_allowed"),
        ("https://token@github.com/o/r.git", "userinfo_not_allowed"),
        ("https://gïthub.com/o/r.git", "url_invalid"),
        ("https://github.com/o/r.git\x00", "url_invalid"),
        ("https://github.com/o/\ud800", "url_invalid"),
        ("https://github.com/o r.git", "url_invalid"),
        ("https://github.com/" + "a" * 600, "url_invalid"),
        ("https://github.com/", "url_invalid"),
        ("https://github.com/o/r.git?x=1", "url_invalid"),
        ("https://github.com:99999/o/r.git", "url_invalid"),
        ("https://github.com:0/o/r.git", "url_invalid"),
        ("https://github.com\\@evil.example/o", "url_invalid"),
        ("", "url_invalid"),
        (5, "url_invalid"),
        (["https://github.com/o/r"], "url_invalid"),
    ],
)
def test_urls_outside_the_policy_are_refused_before_any_lookup(url, reason):
    with pytest.raises(RepoUrlError) as caught:
        parse(url, DEFAULT)
    assert (caught.value.reason, caught.value.field, caught.value.status) == (reason, "url", 422)


def test_an_allowed_url_is_canonical(dns):
    target = check("  HTTPS://GitHub.COM.:443/Owner/Repo.git ", DEFAULT)
    assert target.repo_url.url == "https://github.com/Owner/Repo.git"
    assert (target.repo_url.host, target.repo_url.port, target.address) == (
        "github.com",
        443,
        "140.82.121.4",
    )
    assert target.repo_url.origin == "https://github.com:443/"


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["172.16.0.9"],
        ["192.168.1.1"],
        ["169.254.169.254"],
        ["100.64.0.1"],
        ["0.0.0.0"],  # noqa: S104 - an address a name may resolve to
        ["224.0.0.251"],
        ["240.0.0.1"],
        ["255.255.255.255"],
        ["::1"],
        ["::"],
        ["fd00::1"],
        ["fe80::1"],
        ["fec0::1"],
        ["ff02::1"],
        ["::ffff:127.0.0.1"],
        ["64:ff9b::a00:1"],
        ["2002:7f00:1::1"],
        ["140.82.121.4", "127.0.0.1"],
    ],
)
def test_a_name_resolving_to_any_non_public_address_is_refused(dns, answer):
    dns.answers["github.com"] = answer
    with pytest.raises(RepoUrlError) as caught:
        check("https://github.com/o/r.git", DEFAULT)
    assert caught.value.reason == "address_not_allowed"
    assert caught.value.message.startswith("could not fetch")
    assert not any(address in caught.value.message for address in answer)


def test_a_name_that_does_not_resolve_is_refused(dns):
    with pytest.raises(RepoUrlError) as caught:
        check("https://gitlab.com/o/r.git", DEFAULT)
    assert caught.value.reason == "host_unresolvable"


def test_ssh_needs_its_setting_and_never_a_password(dns):
    assert check("ssh://git@github.com/o/r.git", SSH).repo_url.url == (
        "ssh://git@github.com/o/r.git"
    )
    with pytest.raises(RepoUrlError) as caught:
        parse("ssh://git:secret@github.com/o/r.git", SSH)
    assert caught.value.reason == "userinfo_not_allowed"


def test_the_test_only_allowance_opens_loopback_and_files_only(dns, tmp_path):
    assert check(f"file://{tmp_path}", LOCAL).repo_url.url == f"file://{tmp_path}"
    assert check("http://127.0.0.1:9418/r.git", LOCAL).address == "127.0.0.1"
    dns.answers["github.com"] = ["127.0.0.1"]
    for url, reason in [
        ("https://github.com/o/r.git", "address_not_allowed"),  # only loopback *names*
        ("http://10.0.0.1/r.git", "host_not_allowed"),
        ("http://2130706433/r.git", "host_not_allowed"),
        ("file://server/share", "url_invalid"),
    ]:
        with pytest.raises(RepoUrlError) as caught:
            check(url, LOCAL)
        assert caught.value.reason == reason, url


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("140.82.121.4", True),
        ("2606:50c0:8000::154", True),
        ("8.8.8.8", True),
        ("127.0.0.2", False),
        ("::ffff:10.0.0.1", False),
        ("2001:db8::1", False),
        ("fe80::1%eth0", False),
    ],
)
def test_is_public(address, public):
    assert is_public(address) is public
