import re
import zlib

import pytest

from keystore import tokens


def test_generated_token_has_the_documented_shape():
    token = tokens.generate("kw", "prod")
    assert len(token) == 44
    assert re.fullmatch(r"kw_prod_[0-9A-Za-z]{36}", token)
    parsed = tokens.parse(token)
    assert (parsed.prefix, parsed.env) == ("kw", "prod")


def test_checksum_is_crc32_in_base62_padded_to_six():
    head = "kw_prod_" + "A" * 30
    value = zlib.crc32(head.encode())
    digits = ""
    while value:
        value, rest = divmod(value, 62)
        digits = tokens.BASE62[rest] + digits
    assert tokens.checksum(head) == digits.rjust(6, "0")
    assert tokens.base62_encode(0, 6) == "000000"
    assert tokens.base62_encode(61, 2) == "0z"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"), "checksum"),
        (lambda t: t[:10] + ("a" if t[10] != "a" else "b") + t[11:], "checksum"),
        (lambda t: t[:-1], "shape"),
        (lambda t: t + "x", "shape"),
        (lambda t: t.replace("kw_", "KW_", 1), "shape"),
        (lambda t: t[:-2] + "-_", "shape"),
        (lambda t: t[:-1] + "é", "characters"),
        (lambda t: "", "shape"),
    ],
)
def test_parse_rejects_damaged_tokens(mutate, reason):
    token = tokens.generate("kw", "dev")
    with pytest.raises(tokens.TokenFormatError) as info:
        tokens.parse(mutate(token))
    assert info.value.reason == reason
    assert token not in str(info.value)


def test_parse_can_insist_on_the_prefix():
    token = tokens.generate("acme", "test")
    assert tokens.parse(token, prefix="acme").prefix == "acme"
    with pytest.raises(tokens.TokenFormatError):
        tokens.parse(token, prefix="kw")


def test_hint_shows_prefix_env_and_eight_characters_only():
    token = tokens.generate("kw", "prod")
    hint = tokens.hint_of(token)
    assert hint == f"kw_prod_{token[8:12]}…{token[-4:]}"


def test_digest_is_keyed_and_differs_from_github_hash():
    token = tokens.generate("kw", "prod")
    a = tokens.digest(token, b"p" * 32)
    b = tokens.digest(token, b"q" * 32)
    assert a != b
    assert len(a) == 64
    assert tokens.github_token_hash(token) not in (a, b)


def test_candidate_regex_finds_only_delimited_candidates():
    token = tokens.generate("kw", "prod")
    rx = re.compile(tokens.candidate_regex("kw"))
    assert rx.search(f'key = "{token}"').group(0) == token
    assert rx.search(f"x{token}") is None
    assert rx.search(f"_{token}") is None
    assert rx.search(f"{token}a") is None
    assert rx.search(f"{token}_") is not None


@pytest.mark.parametrize("prefix", ["k", "Kw", "1kw", "kw_", "abcdefghijk"])
def test_generate_refuses_bad_prefixes(prefix):
    with pytest.raises(tokens.TokenFormatError):
        tokens.generate(prefix, "dev")
