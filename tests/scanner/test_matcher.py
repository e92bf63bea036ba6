import pytest

from scanner.errors import ScanError
from scanner.matcher import TokenMatcher, line_and_column
from tests.scanner.conftest import decoy, make_token


def found(data: bytes, matcher=None) -> list[str]:
    return [token for _, token in (matcher or TokenMatcher()).matches(data)]


def test_finds_a_valid_token_and_its_offset():
    token = make_token()
    data = f"key = '{token}'\n".encode()
    assert list(TokenMatcher().matches(data)) == [(7, token)]


def test_a_bad_checksum_is_never_a_match():
    token = make_token()
    assert found(f"{decoy(token)} {token[:-1]}".encode()) == []


@pytest.mark.parametrize(
    ("before", "after"), [("x", ""), ("_", ""), ("9", ""), ("", "Z"), ("", "0")]
)
def test_a_token_glued_to_other_characters_is_not_a_candidate(before, after):
    token = make_token()
    assert found(f"{before}{token}{after}".encode()) == []


@pytest.mark.parametrize("separator", ["\n", " ", '"', "=", "-", ".", "/"])
def test_punctuation_around_a_token_is_fine(separator):
    token = make_token()
    assert found(f"{separator}{token}{separator}".encode()) == [token]


@pytest.mark.parametrize("env", ["dev", "test", "a", "a1b2c3d4"])
def test_any_environment_tag(env):
    token = make_token(env=env)
    assert found(token.encode()) == [token]


def test_prefixes_are_configurable():
    ours, theirs = make_token("acme"), make_token("kw")
    data = f"{ours}\n{theirs}".encode()
    assert found(data, TokenMatcher(["acme"])) == [ours]
    assert found(data, TokenMatcher(["acme", "kw"])) == [ours, theirs]


@pytest.mark.parametrize("prefix", ["K", "k", "1kw", "kw_", "toolongprefix1"])
def test_an_invalid_prefix_is_refused_with_a_reason(prefix):
    with pytest.raises(ScanError) as caught:
        TokenMatcher([prefix])
    assert caught.value.reason == "bad_prefix"


def test_matches_respects_start_and_end_within_a_larger_buffer():
    token = make_token()
    data = bytearray(f"{token}\n{token}\n".encode())
    assert [offset for offset, _ in TokenMatcher().matches(data, len(token) + 1)] == [45]
    assert list(TokenMatcher().matches(data, 0, len(token) - 1)) == []


def test_first_hint_is_a_cheap_prefilter():
    matcher = TokenMatcher()
    assert matcher.first_hint(b"nothing here") == -1
    assert matcher.first_hint(b"abc kw_x", 0, 8) == 4


def test_line_and_column_count_characters_from_one():
    data = "é\nab kw".encode()
    assert line_and_column(data, data.index(b"kw")) == (2, 4)
    assert line_and_column("éé kw".encode(), len("éé ".encode())) == (1, 4)
