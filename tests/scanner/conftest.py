"""Fixtures: valid and decoy tokens, and real git repositories built in tmp dirs."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from keystore import tokens
from scanner.cli import scan
from tests.gitrepos import Repo, git_identity  # noqa: F401 - autouse fixture, used by being here


def reason_of(result) -> str:
    """The ``reason`` of ``keyward scan --json``'s error: one JSON object, the last stderr line."""
    return json.loads(result.stderr.strip().splitlines()[-1])["reason"]


def make_token(prefix: str = "kw", env: str = "prod") -> str:
    return tokens.generate(prefix, env)


def decoy(token: str) -> str:
    """Same shape, wrong checksum: must never be reported."""
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.fixture
def repo(tmp_path) -> Repo:
    return Repo(tmp_path / "repo")


@pytest.fixture
def run_cli():
    """Invoke ``keyward scan`` in-process; returns click's Result (exit_code, output)."""

    def invoke(*args: str, stdin: bytes | None = None):
        return CliRunner().invoke(scan, list(args), input=stdin, catch_exceptions=False)

    return invoke


@pytest.fixture
def compiled_deltas():
    """The compiled delta search: CI builds it (and must); a venv made before it was added
    lacks it until ``pip install -e .`` runs again, so there the test is skipped."""
    from scanner import packread
    from tests.conftest import service_missing

    if packread._deltas is None:
        service_missing("scanner._deltas", ImportError("not built: run pip install -e . again"))
    return packread._deltas
