"""Scan a remote repository by URL: a mirror clone kept in a cache directory.

The first scan clones ``--mirror`` (every ref, no work tree); later scans only
``fetch --prune``, so the transfer is what is new.  Combined with a saved
:class:`~scanner.state.ScanState`, the scan is incremental too.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

from scanner.errors import ScanError
from scanner.gitcmd import run_git

_URL = re.compile(r"\A(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)


def is_url(target: str) -> bool:
    """``scheme://...`` or scp-like ``user@host:path``."""
    return bool(_URL.match(target))


def default_cache_dir() -> Path:
    """``$KEYWARD_SCAN_CACHE``, else ``$XDG_CACHE_HOME/keyward/repos`` (``~/.cache``)."""
    explicit = os.environ.get("KEYWARD_SCAN_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "keyward" / "repos"


def cache_path(url: str, cache_dir: Path) -> Path:
    """One directory per URL: a readable stem and a hash that keeps URLs apart."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").rsplit("/", 1)[-1])[:40] or "repo"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return cache_dir / f"{stem}-{digest}.git"


def mirror(
    url: str, *, cache_dir: Path, branches: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> Path:
    """Clone ``url`` into the cache the first time, fetch what is new after; return the path.

    ``branches`` (patterns such as ``main`` or ``release/*``) limits the mirror to those
    branches; empty means every ref.  ``env`` reaches git (credentials via ``GIT_CONFIG_*``).
    """
    path = cache_path(url, cache_dir)
    if not (path / "HEAD").exists():
        _create(url, path, branches=branches, env=env)
    _set_refspecs(path, branches)
    try:
        run_git(path, ["fetch", "--prune", "--quiet", "origin"], env=env)
    except ScanError as error:
        raise ScanError(f"cannot fetch {url}: {error.message}", reason="clone_failed") from None
    return path


def _create(url: str, path: Path, *, branches: Sequence[str], env) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        run_git(None, ["init", "--bare", "--quiet", str(partial)], env=env)
        run_git(partial, ["remote", "add", "--mirror=fetch", "origin", "--", url], env=env)
        _set_refspecs(partial, branches)
        run_git(partial, ["fetch", "--quiet", "origin"], env=env)
    except ScanError as error:
        shutil.rmtree(partial, ignore_errors=True)
        raise ScanError(f"cannot clone {url}: {error.message}", reason="clone_failed") from None
    # Renamed into place only when complete: an interrupted clone is never taken for a mirror.
    partial.rename(path)


def _set_refspecs(path: Path, branches: Sequence[str]) -> None:
    specs = [f"+refs/heads/{b}:refs/heads/{b}" for b in branches] or ["+refs/*:refs/*"]
    run_git(path, ["config", "--unset-all", "remote.origin.fetch"], ok_codes=(0, 5))
    for spec in specs:
        run_git(path, ["config", "--add", "remote.origin.fetch", spec])
