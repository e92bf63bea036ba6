"""Bounds checked on raw JSON before it is trusted: nesting outside strings, storable text."""

from __future__ import annotations

import pytest

from keystore.json_bounds import nesting_problem, text_problem


@pytest.mark.parametrize(
    ("body", "limit", "within"),
    [
        (b"[]", 1, True),
        (b"[[]]", 1, False),
        (b'[{"a": [1, {"b": 2}]}]', 4, True),
        (b'[{"a": [1, {"b": 2}]}]', 3, False),
        (b'["[[[[", "{{{{"]', 1, True),
        (b'["\\"[[[["]', 1, True),
        (b'["\\\\"]', 1, True),
        (b'["unterminated [[[[', 1, False),
        (b"[}", 8, False),
    ],
)
def test_nesting_is_counted_outside_strings(body, limit, within):
    assert (nesting_problem(body, limit) is None) is within


@pytest.mark.parametrize(
    ("value", "limit", "problem"),
    [
        ("fine", None, None),
        ("a\x00b", None, "nul_byte"),
        ("\ud800", None, "lone_surrogate"),
        ("x" * 11, 10, "too_long"),
        ("x" * 10, 10, None),
    ],
)
def test_text_problems_are_named(value, limit, problem):
    assert text_problem(value, limit) == problem


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"[" * 5000, "too_deep"),
        (b"[" * 100 + b"]" * 100, "too_deep"),
        (b'[{"token": "x"', "unbalanced"),
        (b"[}", "unbalanced"),
        (b"[" * 8 + b"]" * 8, None),
    ],
)
def test_unclosed_depth_counts_as_depth(body, problem):
    assert nesting_problem(body, 8) == problem
