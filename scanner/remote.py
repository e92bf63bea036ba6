"""Scan a remote repository by URL: a mirror clone kept in a cache directory.

The first scan clones ``--mirror`` (every ref, no work tree); later scans only
``fetch --prune``, so the transfer is what is new.  Combined with a saved
:class:`~scanner.state.ScanState`, the scan is incremental too.

Every network operation runs under :class:`FetchOptions`: the protocols git may use,
a pinned address (git connects to the address the caller checked, not to what DNS
says a moment later), no redirects, no prompts, no system or global git config,
credentials sent to one origin only, and connect, low-speed and total time limits.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import ScanError
from scanner.gitcmd import run_git

log = logging.getLogger("keyward.scanner")
_URL = re.compile(r"\A(?:[a-z][a-z0-9+.-]*://|[\w.-]+@[\w.-]+:)", re.IGNORECASE)
LOCAL_GIT_SECONDS = 60.0
# What git's stderr says, mapped to a reason code; the text itself goes to the log only,
# so an API user never learns which ports or paths answered what.
_FAILURES = (
    ("transfer_stalled", ("operation too slow", "operation timed out", "timed out")),
    ("redirect_refused", ("redirect", "returned error: 30")),
    ("auth_failed", ("authentication failed", "could not read username", "returned error: 401")),
    ("auth_failed", ("returned error: 403", "permission denied")),
    ("not_found", ("not found", "returned error: 404", "does not appear to be a git repo")),
    ("host_unresolvable", ("could not resolve",)),
    ("connect_failed", ("failed to connect", "connection refused", "couldn't connect")),
    ("scheme_not_allowed", ("not allowed", "unsupported protocol")),
    ("tls_failed", ("ssl", "certificate", "tls")),
)


@dataclass(frozen=True)
class FetchOptions:
    """How a fetch may use the network.

    The defaults suit ``keyward scan URL`` run by a person on their own machine (any
    protocol git knows, their credential helpers stay off but their URL is theirs).
    A server passes a stricter set: ``protocols=("https",)`` and a ``pin``.
    """

    protocols: tuple[str, ...] = ("https", "ssh", "http", "git", "file")
    timeout_seconds: float = 600.0
    connect_seconds: float = 10.0
    low_speed_seconds: float = 30.0
    low_speed_bytes: int = 1000
    # (host, port, address): connect there, and only there, for that host.
    pin: tuple[str, int, str] | None = None
    # An access token sent as ``Authorization: Bearer`` to ``token_origin`` only.
    token: str | None = field(default=None, repr=False)
    token_origin: str | None = None
    # A person's own scan may use their git config and credential helpers; a server never.
    own_config: bool = False


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
    url: str,
    *,
    cache_dir: Path,
    branches: Sequence[str] = (),
    options: FetchOptions | None = None,
) -> Path:
    """Clone ``url`` into the cache the first time, fetch what is new after; return the path.

    ``branches`` (patterns such as ``main`` or ``release/*``) limits the mirror to those
    branches; empty means every ref.  One fetch per mirror at a time (a file lock).
    """
    options = options or FetchOptions()
    path = cache_path(url, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = (path.parent / f"{path.name}.lock").open("a")
    except OSError as exc:
        raise ScanError(
            f"the scan cache {cache_dir} is not writable ({type(exc).__name__})",
            reason="cache_unwritable",
        ) from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScanError(f"{url} is being fetched already", reason="busy") from None
        _probe(options)
        env = network_env(options)
        if not (path / "HEAD").exists():
            _create(url, path, branches=branches, options=options, env=env)
        _set_refspecs(path, branches)
        _fetch(url, path, options=options, env=env, args=["fetch", "--prune", "--quiet", "origin"])
    return path


def network_env(options: FetchOptions) -> dict[str, str]:
    """Environment for a git network command: nothing configured elsewhere gets a say."""
    config = {
        "http.followRedirects": "false",
        "http.lowSpeedLimit": str(options.low_speed_bytes),
        "http.lowSpeedTime": str(max(1, int(options.low_speed_seconds))),
        "fetch.recurseSubmodules": "false",
        "protocol.allow": "never",
    }
    env = {
        "GIT_ALLOW_PROTOCOL": ":".join(options.protocols),
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        "GIT_SSH_VARIANT": "ssh",
        "GIT_SSH_COMMAND": _ssh_command(options),
    }
    if not options.own_config:
        config["credential.helper"] = ""
        env |= {"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    if options.pin is not None:
        host, port, address = options.pin
        shown = f"[{address}]" if ":" in address else address
        config["http.curloptResolve"] = f"{host}:{port}:{shown}"
    if options.token is not None and options.token_origin is not None:
        header = f"Authorization: Bearer {options.token}"
        config[f"http.{options.token_origin}.extraHeader"] = header
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"], env[f"GIT_CONFIG_VALUE_{index}"] = key, value
    return env


def _ssh_command(options: FetchOptions) -> str:
    base = os.environ.get("GIT_SSH_COMMAND") or "ssh"
    parts = [
        base,
        "-o BatchMode=yes",
        f"-o ConnectTimeout={max(1, int(options.connect_seconds))}",
        "-o ServerAliveInterval=10",
        f"-o ServerAliveCountMax={max(1, int(options.low_speed_seconds // 10))}",
    ]
    if options.pin is not None:
        host, _, address = options.pin
        # Connect to the checked address; verify the host key under the real name.
        parts += [f"-o HostName={address}", f"-o HostKeyAlias={host}"]
    return " ".join(parts)


def _probe(options: FetchOptions) -> None:
    """Connect once to the pinned address with the connect limit (git has none for https)."""
    if options.pin is None:
        return
    _, port, address = options.pin
    try:
        with socket.create_connection((address, port), timeout=options.connect_seconds):
            pass
    except TimeoutError:
        raise ScanError("could not fetch (connect_timeout)", reason="connect_timeout") from None
    except OSError:
        raise ScanError("could not fetch (connect_failed)", reason="connect_failed") from None


def _create(url: str, path: Path, *, branches: Sequence[str], options, env) -> None:
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        run_git(
            None, ["init", "--bare", "--quiet", str(partial)], env=env, timeout=LOCAL_GIT_SECONDS
        )
        run_git(
            partial,
            ["remote", "add", "--mirror=fetch", "origin", "--", url],
            env=env,
            timeout=LOCAL_GIT_SECONDS,
        )
        _set_refspecs(partial, branches)
        _fetch(url, partial, options=options, env=env, args=["fetch", "--quiet", "origin"])
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    # Renamed into place only when complete: an interrupted clone is never taken for a mirror.
    partial.rename(path)


def _fetch(url: str, path: Path, *, options: FetchOptions, env, args: list[str]) -> None:
    try:
        run_git(path, args, env=env, timeout=options.timeout_seconds)
    except ScanError as error:
        said = getattr(error, "stderr", error.message)
        reason = "timeout" if error.reason == "timeout" else _classify(said)
        log.warning("fetching %s failed (%s): %s", url, reason, said.strip()[-2000:])
        raise ScanError(f"could not fetch {url} ({reason})", reason=reason) from None


def _classify(message: str) -> str:
    lowered = message.lower()
    for reason, needles in _FAILURES:
        if any(needle in lowered for needle in needles):
            return reason
    return "fetch_failed"


def _set_refspecs(path: Path, branches: Sequence[str]) -> None:
    specs = [f"+refs/heads/{b}:refs/heads/{b}" for b in branches] or ["+refs/*:refs/*"]
    run_git(
        path,
        ["config", "--unset-all", "remote.origin.fetch"],
        ok_codes=(0, 5),
        timeout=LOCAL_GIT_SECONDS,
    )
    for spec in specs:
        run_git(path, ["config", "--add", "remote.origin.fetch", spec], timeout=LOCAL_GIT_SECONDS)
