"""Real git repositories for tests: a work tree with helpers, and a clean git identity."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


class Repo:
    """A git work tree with helpers to write, commit and branch."""

    def __init__(self, path: Path, *, object_format: str = "sha1") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", f"--object-format={object_format}")

    def git(self, *args: str, stdin: bytes | None = None) -> str:
        return self.git_bytes(*args, stdin=stdin).decode().strip()

    def git_bytes(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            ["git", "-C", str(self.path), *args],
            input=stdin,
            capture_output=True,
            check=True,
        )
        return done.stdout

    def write(self, name: str, content: str | bytes) -> None:
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)

    def commit(self, message: str = "change", **files: str | bytes) -> str:
        for name, content in files.items():
            self.write(name.replace("__", "/"), content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")

    def blob_id(self, rev: str, name: str) -> str:
        return self.git("rev-parse", f"{rev}:{name}")


@pytest.fixture(autouse=True)
def git_identity(monkeypatch, tmp_path_factory):
    """Commits need an author; the user's global config must not leak into tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "test@example.invalid")
    monkeypatch.setenv("KEYWARD_SCAN_CACHE", str(home / "cache"))
