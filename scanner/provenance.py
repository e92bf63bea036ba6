"""Where a scanned repository comes from: its public URL, commit and branch, for reports.

``origin``'s URL loses any user name or password (a CI checkout often embeds a token in
it) and an scp-like ``git@host:owner/repo`` becomes ``ssh://host/owner/repo``.  Every git
call has a time limit; a directory that is not a repository has no provenance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scanner.errors import ScanError
from scanner.gitcmd import run_git

GIT_TIMEOUT = 10.0
_SCP_LIKE = re.compile(r"\A(?:[^@/]+@)?([^:/]+):(?!//)(.+)\Z")


@dataclass(frozen=True)
class Provenance:
    repository_uri: str
    revision: str | None
    branch: str | None


def provenance(root: Path | None) -> Provenance | None:
    """The repository at ``root``'s remote (or its own file URI), HEAD and branch."""
    if root is None or not ((root / ".git").exists() or (root / "objects").is_dir()):
        return None
    remote = git_value(root, ["config", "--get", "remote.origin.url"])
    revision = git_value(root, ["rev-parse", "--verify", "-q", "HEAD"])
    branch = git_value(root, ["symbolic-ref", "-q", "--short", "HEAD"])
    uri = public_url(remote) if remote else None
    return Provenance(uri or root.resolve().as_uri(), revision, branch)


def git_value(root: Path, args: list[str]) -> str | None:
    """One line of git's output, or None when git says nothing or fails."""
    try:
        output = run_git(root, args, ok_codes=(0, 1), timeout=GIT_TIMEOUT)
    except ScanError:
        return None
    text = output.decode("utf-8", errors="replace").strip()
    return text or None


def public_url(url: str) -> str | None:
    """The URL without credentials; scp-like addresses as ``ssh://``; None if unusable."""
    if url.startswith("/"):
        return Path(url).as_uri()  # a remote that is a local path
    scp = _SCP_LIKE.match(url)
    if scp and "://" not in url:
        return f"ssh://{scp.group(1)}/{scp.group(2)}"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme == "file":
        return urlunsplit(("file", "", parts.path, "", ""))
    if not parts.scheme or not parts.hostname:
        return None
    host = parts.hostname + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
