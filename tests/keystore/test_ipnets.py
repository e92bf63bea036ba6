"""Address rules as people write them: comma lists and dash ranges, normalised to minimal CIDRs."""

import ipaddress

import pytest

from keystore import ipnets
from keystore.errors import ValidationError


def norm(rules):
    return ipnets.normalise_rules(rules, field="allowed_ips")


def test_a_dash_range_becomes_the_minimal_cidr_blocks_covering_exactly_it():
    assert norm("10.0.0.1-10.0.0.9") == ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/30", "10.0.0.8/31"]
    assert norm("10.0.0.0 - 10.0.0.255") == ["10.0.0.0/24"]
    assert norm("2001:db8::1-2001:db8::3") == ["2001:db8::1/128", "2001:db8::2/127"]


def test_comma_separated_strings_and_lists_of_them_are_merged_and_sorted():
    given = ["192.168.0.0/25, 192.168.0.128/25", "2001:db8::/33,2001:db8:8000::/33", "10.1.2.3"]
    assert norm(given) == ["10.1.2.3/32", "192.168.0.0/24", "2001:db8::/32"]
    assert norm("10.0.0.0/8, 10.1.0.0/16,10.0.0.7,,\n") == ["10.0.0.0/8"]
    assert norm([]) == norm(None) == norm("") == []


def test_what_is_stored_matches_exactly_the_addresses_the_input_named():
    stored = tuple(norm("10.0.0.250-10.0.1.5, ::ffff:192.0.2.0/120"))
    inside = ["10.0.0.250", "10.0.1.0", "10.0.1.5", "192.0.2.77", "::ffff:192.0.2.1"]
    outside = ["10.0.0.249", "10.0.1.6", "192.0.3.0"]
    assert all(ipnets.matches(ipnets.parse_address(a), stored) for a in inside)
    assert not any(ipnets.matches(ipnets.parse_address(a), stored) for a in outside)
    assert "192.0.2.0/24" in stored  # an IPv4-mapped block is written as IPv4


def test_huge_ranges_are_fine_and_stay_small():
    assert norm("0.0.0.0-255.255.255.255") == ["0.0.0.0/0"]
    whole = norm("::1-ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe")
    assert 200 < len(whole) <= 254
    first, last = ipaddress.ip_network(whole[0]), ipaddress.ip_network(whole[-1])
    assert str(first.network_address) == "::1"
    assert str(last.broadcast_address).endswith("fffe")


@pytest.mark.parametrize(
    ("rules", "named", "problem"),
    [
        ("10.0.0.9-10.0.0.1", "10.0.0.9-10.0.0.1", "reversed"),
        ("10.0.0.1-2001:db8::1", "10.0.0.1-2001:db8::1", "mixes IPv4 and IPv6"),
        ("10.0.0.1, bogus", "bogus", "is not an IP address"),
        (["10.0.0.1", "10.0.0.0/33"], "10.0.0.0/33", "is not an IP address"),
        ("10.0.0.1-", "10.0.0.1-", "is not a range"),
        ("10.0.0.1-10.0.0.2-10.0.0.3", "10.0.0.1-10.0.0.2-10.0.0.3", "is not a range"),
        ("10.0.0.\x001", "10.0.0.\\x001", "is not an IP address"),
        ("１０.0.0.1", "１０.0.0.1", "is not an IP address"),
        ("x" * 5000, "xxxxxxxx", "is not an IP address"),
    ],
)
def test_hostile_entries_are_refused_naming_the_entry(rules, named, problem):
    with pytest.raises(ValidationError) as info:
        norm(rules)
    assert info.value.field == "allowed_ips"
    assert info.value.message.startswith("allowed_ips: ")
    assert named in info.value.message
    assert problem in info.value.message
    assert len(info.value.message) < 200


@pytest.mark.parametrize("rules", [7, {"a": 1}, [1, 2], [None], b"10.0.0.1"])
def test_what_is_not_text_is_refused(rules):
    with pytest.raises(ValidationError):
        norm(rules)


def test_the_number_of_entries_and_of_blocks_is_bounded():
    with pytest.raises(ValidationError, match="more than 256 entries"):
        norm(",".join(f"10.0.{i // 256}.{i % 256}" for i in range(300)))
    scattered = ",".join(f"{i}.0.0.1-{i}.255.255.254" for i in range(1, 21))
    with pytest.raises(ValidationError, match="CIDR blocks, more than 512"):
        norm(scattered)


def test_allowed_lists_intersect_and_blocked_lists_unite():
    def refusal(address, allowed=(), blocked=()):
        parsed = None if address is None else ipnets.parse_address(address)
        return ipnets.refusal(parsed, allowed=allowed, blocked=blocked)

    wide, narrow, elsewhere = ["10.0.0.0/8"], ["10.1.0.0/16"], ["192.168.0.0/16"]
    assert refusal("10.1.2.3", allowed=[wide, narrow]) is None
    assert refusal("10.2.0.1", allowed=[wide, narrow]) == "ip_not_allowed"
    assert refusal("10.2.0.1", allowed=[wide, []]) is None  # an empty list restricts nothing
    # Disjoint allow lists intersect to nothing: nobody is allowed, never everybody.
    assert refusal("10.1.2.3", allowed=[wide, elsewhere]) == "ip_not_allowed"
    assert refusal("192.168.1.1", allowed=[wide, elsewhere]) == "ip_not_allowed"
    assert refusal("10.1.2.3", allowed=[wide], blocked=[[], ["10.1.2.0/24"]]) == "ip_blocked"
    assert refusal(None, blocked=[["10.9.0.0/16"]]) == "ip_not_allowed"
    assert refusal(None) is None
