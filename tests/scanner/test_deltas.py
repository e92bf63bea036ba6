"""The delta search (``scanner._deltas``) finds exactly what a full search of the target finds.

Deltas are written here by hand, so tokens and bare prefixes land exactly where a
git delta could put them: inside copies, inside inserts, across a copy/insert or
copy/copy boundary, at the very start and end of a blob, and along chains of deltas
whose prefix offsets are carried from base to base.
"""

from __future__ import annotations

import random

import pytest
from dulwich._pack import apply_delta

from scanner import packread
from scanner.matcher import TokenMatcher
from tests.scanner.conftest import decoy, make_token

# Installed with a C compiler (as in CI) the scanner must use it: see the fixture.
pytestmark = pytest.mark.usefixtures("compiled_deltas")


def test_the_scanner_uses_the_compiled_delta_search(compiled_deltas):
    assert packread._deltas is compiled_deltas


def encode_size(size: int) -> bytes:
    out = bytearray()
    while True:
        byte, size = size & 0x7F, size >> 7
        out.append(byte | (0x80 if size else 0))
        if not size:
            return bytes(out)


def encode_delta(base_size: int, ops: list) -> bytes:
    """Git's delta format: ``("copy", offset, size)`` and ``("insert", data)`` instructions."""
    out = bytearray(encode_size(base_size))
    target_size = sum(op[2] if op[0] == "copy" else len(op[1]) for op in ops)
    out += encode_size(target_size)
    for op in ops:
        if op[0] == "insert":
            for start in range(0, len(op[1]), 127):
                piece = op[1][start : start + 127]
                out += bytes([len(piece)]) + piece
            continue
        _, offset, size = op
        command, fields = 0x80, bytearray()
        for i in range(4):
            if (offset >> (8 * i)) & 0xFF:
                command |= 1 << i
                fields.append((offset >> (8 * i)) & 0xFF)
        for i in range(3):
            if size != 0x10000 and (size >> (8 * i)) & 0xFF:
                command |= 0x10 << i
                fields.append((size >> (8 * i)) & 0xFF)
        out += bytes([command]) + fields
    return bytes(out)


def resolve(base: bytes, ops: list, matcher: TokenMatcher, base_offsets=None):
    offsets = matcher.needle_offsets(base) if base_offsets is None else base_offsets
    return packread._deltas.resolve(base, encode_delta(len(base), ops), matcher.needles, offsets)


def assert_like_a_full_search(base: bytes, ops: list, matcher: TokenMatcher, base_offsets=None):
    """Resolve; the target must be dulwich's and the offsets those of a full search."""
    target, offsets = resolve(base, ops, matcher, base_offsets)
    assert target == b"".join(apply_delta(base, encode_delta(len(base), ops)))
    assert offsets == matcher.needle_offsets(target)
    assert list(matcher.matches_at(target, offsets)) == list(matcher.matches(target))
    return target, offsets


def test_a_token_inside_a_copy_is_carried_to_its_new_offset():
    token = make_token()
    base = f"head\nKEY = {token}\ntail\n".encode()
    at = base.index(b"kw_")
    target, offsets = assert_like_a_full_search(
        base, [("insert", b"new first line\n"), ("copy", 0, len(base))], TokenMatcher()
    )
    assert offsets == [at + 15]
    assert [token for _, token in TokenMatcher().matches_at(target, offsets)] == [token]


def test_a_token_split_across_a_copy_and_an_insert_is_found():
    token = make_token().encode()
    base = b"KEY = " + token[:20] + b"\nrest of the file\n"
    # The copy brings "KEY = kw_..." up to the cut; the insert finishes the token.
    ops = [("copy", 0, 6 + 20), ("insert", token[20:] + b"\n")]
    target, offsets = assert_like_a_full_search(base, ops, TokenMatcher())
    assert target == b"KEY = " + token + b"\n"
    assert offsets == [6]


def test_a_prefix_split_across_two_copies_is_found():
    base = b"xx k......w_prod_" + b"A" * 36
    # "k" from one copy, "w_prod_..." from another part of the base.
    ops = [("copy", 0, 4), ("copy", 10, len(base) - 10)]
    _, offsets = assert_like_a_full_search(base, ops, TokenMatcher())
    assert offsets == [3]


def test_a_copy_that_cuts_a_base_token_short_loses_it():
    token = make_token().encode()
    base = b"KEY=" + token + b"\n"
    ops = [("copy", 0, 4 + 10), ("insert", b"!")]  # "KEY=kw_prod_x" then "!"
    target, offsets = assert_like_a_full_search(base, ops, TokenMatcher())
    assert list(TokenMatcher().matches_at(target, offsets)) == []


@pytest.mark.parametrize("where", ["start", "end", "whole"])
def test_tokens_at_the_very_start_and_end_of_a_blob(where):
    token = make_token().encode()
    body = b"\n".join(b"line %d" % n for n in range(200))
    base = {"start": token + b"\n" + body, "end": body + b"\n" + token, "whole": token}[where]
    for ops in (
        [("copy", 0, len(base))],
        [("copy", 0, len(base) // 2), ("copy", len(base) // 2, len(base) - len(base) // 2)],
        [("insert", base[:1]), ("copy", 1, len(base) - 1)],
        [("copy", 0, len(base) - 1), ("insert", base[-1:])],
    ):
        assert_like_a_full_search(base, ops, TokenMatcher())


def test_an_empty_target_and_an_empty_base():
    assert resolve(b"abc", [], TokenMatcher()) == (b"", [])
    assert resolve(b"", [("insert", b"kw_x")], TokenMatcher()) == (b"kw_x", [0])


def test_a_copy_of_the_largest_size_field_means_64_kib():
    base = b"kw_" + bytes(0x10000)
    assert_like_a_full_search(base, [("copy", 0, 0x10000), ("insert", b"kw_")], TokenMatcher())


def random_blob(rng: random.Random, tokens: list[bytes]) -> bytes:
    """Text with valid tokens, decoys and bare prefixes, some at the very edges."""
    pieces = []
    for _ in range(rng.randrange(1, 40)):
        choice = rng.random()
        if choice < 0.2:
            pieces.append(rng.choice(tokens))
        elif choice < 0.3:
            pieces.append(rng.choice([b"kw_", b"kw", b"w_", b"_", b"acme_", b"ac"]))
        else:
            alphabet = b"kw_ab\n =AZ09acme"
            pieces.append(bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 90))))
    return b"".join(pieces)


def random_ops(rng: random.Random, base: bytes, tokens: list[bytes]) -> list:
    """Copies of random base ranges (cut anywhere, tokens included) and inserts."""
    ops = []
    for _ in range(rng.randrange(0, 12)):
        if base and rng.random() < 0.6:
            start = rng.randrange(len(base))
            ops.append(("copy", start, rng.randrange(1, len(base) - start + 1)))
        else:
            ops.append(("insert", random_blob(rng, tokens)[: rng.randrange(1, 300)]))
    return ops


@pytest.mark.parametrize(
    "prefixes",
    [("kw",), ("kw", "acme"), ("kw", "kwx")],
    ids=["one prefix", "prefixes with other first bytes", "prefixes sharing a first byte"],
)
def test_random_delta_chains_agree_with_a_full_search(prefixes):
    matcher = TokenMatcher(prefixes)
    tokens = [make_token(prefix).encode() for prefix in prefixes]
    tokens += [decoy(token.decode()).encode() for token in tokens]
    rng = random.Random(f"delta chains {prefixes}")
    checked = carried = 0
    for _ in range(150):
        content = random_blob(rng, tokens)
        offsets = matcher.needle_offsets(content)
        # A chain: each target is the next delta's base, its offsets carried, never re-searched.
        for _ in range(rng.randrange(1, 8)):
            ops = random_ops(rng, content, tokens)
            content, offsets = assert_like_a_full_search(content, ops, matcher, offsets)
            checked += 1
            carried += bool(offsets)
    assert checked > 500
    assert carried > 100


@pytest.mark.parametrize(
    ("delta", "why"),
    [
        (encode_size(4) + encode_size(1) + b"\x01x", "the base size is wrong"),
        (encode_size(3) + encode_size(9) + b"\x91\x00\x09", "a copy past the base's end"),
        (encode_size(3) + encode_size(5) + b"\x05ab", "a literal past the delta's end"),
        (encode_size(3) + encode_size(2) + b"\x00", "the reserved instruction 0"),
        (encode_size(3) + encode_size(5) + b"\x02ab", "fewer bytes than the target size"),
        (encode_size(3) + encode_size(1) + b"\x02ab", "more bytes than the target size"),
        (encode_size(3) + b"\x80", "a truncated size"),
        (encode_size(3) + encode_size(3) + b"\x91", "a truncated copy"),
    ],
)
def test_a_delta_that_does_not_apply_is_a_value_error(delta, why):
    with pytest.raises(ValueError, match="does not apply"):
        packread._deltas.resolve(b"abc", delta, (b"kw_",), [])


@pytest.mark.parametrize(
    ("needles", "offsets"),
    [((), []), ((b"",), []), ((b"kw_",), [3, 1]), ((b"kw_",), ["x"])],
    ids=["no needle", "an empty needle", "offsets not ascending", "offsets not integers"],
)
def test_bad_arguments_are_refused(needles, offsets):
    with pytest.raises((ValueError, TypeError)):
        packread._deltas.resolve(b"abcd", encode_delta(4, [("copy", 0, 4)]), needles, offsets)


def test_a_hundred_prefixes_are_searched_as_one():
    matcher = TokenMatcher([f"p{number:02d}" for number in range(100)])
    token = make_token("p42").encode()
    base = b"x = 1\n" * 50
    ops = [("copy", 0, 96), ("insert", b"KEY=" + token + b"\n"), ("copy", 96, 204)]
    target, offsets = assert_like_a_full_search(base, ops, matcher)
    assert [found for _, found in matcher.matches_at(target, offsets)] == [token.decode()]
