"""Per-repository scan settings: ``.keyward.toml`` or ``[tool.keyward]`` in ``pyproject.toml``.

Keys (both files take the same ones)::

    skip-paths = ["tests/fixtures/**", "*.lock"]   # globs, relative to the config's directory
    baseline = ".keyward-baseline.json"            # relative to the config's directory
    extra-prefixes = ["acme"]                      # searched besides --prefix (default kw)

Precedence, key by key: the command line, then ``.keyward.toml``, then ``pyproject.toml``, then
the defaults.  Both files are looked for from the scanned directory upwards to the repository's
top level (the first directory holding ``.git``), the nearest of each kind winning, as ruff and
pytest find theirs.  Unknown keys and wrong types are errors, so a typo never silently scans
everything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ScanError

CONFIG_NAME = ".keyward.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("skip-paths", "baseline", "extra-prefixes")
MAX_CONFIG_BYTES = 1 << 20
# Globs come from the scanned tree: bounded, so a hostile one cannot make matching slow.
MAX_GLOBS = 1000
MAX_GLOB_LENGTH = 512
MAX_WILDCARDS = 32


@dataclass(frozen=True)
class ScanConfig:
    """Settings from the files; ``root`` is the directory globs and the baseline are relative to."""

    root: Path | None = None
    skip_paths: tuple[str, ...] = ()
    baseline: Path | None = None
    extra_prefixes: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


def discover(start: Path) -> ScanConfig:
    """Merge ``pyproject.toml``'s ``[tool.keyward]`` and ``.keyward.toml`` found above ``start``."""
    keyward_file = find_upwards(start, CONFIG_NAME)
    pyproject = find_upwards(start, PYPROJECT, section=True)
    layers = []
    if pyproject is not None:
        table = read_toml(pyproject).get("tool", {}).get("keyward")
        layers.append((pyproject, table))
    if keyward_file is not None:
        layers.append((keyward_file, read_toml(keyward_file)))
    return merge(layers)


def load_explicit(path: Path) -> ScanConfig:
    """The settings in one file given with ``--config`` (a ``.keyward.toml`` or a pyproject)."""
    document = read_toml(path)
    if path.name == PYPROJECT:
        document = document.get("tool", {}).get("keyward", {})
    return merge([(path, document)])


def find_upwards(start: Path, name: str, *, section: bool = False) -> Path | None:
    """The nearest ``name`` from ``start`` up to the repository's top level; None if none."""
    directory = start.resolve()
    while True:
        candidate = directory / name
        if trusted(candidate) and (not section or has_keyward_table(candidate)):
            return candidate
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


def trusted(path: Path) -> bool:
    """A regular file owned by the user running the scan (or root), as git's safe.directory.

    Outside a repository the search goes up to ``/``: a ``/tmp/.keyward.toml`` that another
    user dropped there must not decide what a scan of ``/tmp/build`` reports.
    """
    try:
        status = path.stat()
    except OSError:
        return False
    if not path.is_file():
        return False
    return not hasattr(os, "getuid") or status.st_uid in (os.getuid(), 0)


def has_keyward_table(path: Path) -> bool:
    """A pyproject.toml counts only when it has ``[tool.keyward]``.

    A broken pyproject.toml is someone else's problem unless it mentions our table.
    """
    try:
        return "keyward" in read_toml(path).get("tool", {})
    except ScanError:
        with path.open("rb") as handle:
            if b"tool.keyward" in handle.read(MAX_CONFIG_BYTES):
                raise
        return False


def read_toml(path: Path) -> dict:
    """The parsed file, or a ScanError naming it (``bad_config``)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ScanError(f"cannot read {path}: {error.strerror}", reason="bad_config") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ScanError(f"{path} is larger than 1 MiB", reason="bad_config")
    import tomllib  # only when a settings file exists: the hook starts faster without it

    try:
        return tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ScanError(f"{path} is not valid TOML: {error}", reason="bad_config") from None


def merge(layers: list[tuple[Path, object]]) -> ScanConfig:
    """Later layers win key by key; ``root`` is the nearest file's directory."""
    values: dict = {}
    sources = []
    root = None
    for path, table in layers:
        if table is None:
            continue
        values.update(validate(path, table))
        sources.append(str(path))
        root = path.parent
    baseline = values.get("baseline")
    return ScanConfig(
        root=root,
        skip_paths=tuple(values.get("skip-paths", ())),
        baseline=(values["baseline_dir"] / baseline) if baseline else None,
        extra_prefixes=tuple(values.get("extra-prefixes", ())),
        sources=tuple(sources),
    )


def validate(path: Path, table: object) -> dict:
    """Check keys and types; a baseline is resolved against its own file's directory."""
    if not isinstance(table, dict):
        raise ScanError(f"{path}: [tool.keyward] must be a table", reason="bad_config")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ScanError(f"{path}: unknown key {unknown[0]!r}", reason="bad_config")
    for key in ("skip-paths", "extra-prefixes"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ScanError(f"{path}: {key} must be a list of strings", reason="bad_config")
    check_globs(table.get("skip-paths", []), source=str(path))
    values = dict(table)
    if "baseline" in table:
        if not isinstance(table["baseline"], str) or not table["baseline"]:
            raise ScanError(f"{path}: baseline must be a path", reason="bad_config")
        values["baseline_dir"] = path.parent
    return values


def check_globs(patterns: list[str], *, source: str) -> None:
    """Refuse glob lists that are too long, or globs too long or with too many wildcards."""
    if len(patterns) > MAX_GLOBS:
        raise ScanError(f"{source}: more than {MAX_GLOBS} skip-paths", reason="bad_config")
    for pattern in patterns:
        wildcards = len(re.findall(r"\*+|\?", pattern))
        if len(pattern) > MAX_GLOB_LENGTH or wildcards > MAX_WILDCARDS or "\0" in pattern:
            raise ScanError(
                f"{source}: skip-paths glob too long or with more than {MAX_WILDCARDS} wildcards",
                reason="bad_config",
            )


class Glob:
    """A gitignore-like glob: ``*`` and ``?`` stay in one directory, a ``**`` segment crosses
    any number of them.  A pattern without ``/`` matches a name at any depth; one with
    ``/`` is anchored at the root.  A pattern that matches a directory covers everything
    below it.  ``[`` and other characters are literal.

    Matched segment by segment with a table, never by backtracking, so no glob (they come
    from the scanned tree) can make a long path slow: at worst pattern by path steps.
    """

    def __init__(self, pattern: str) -> None:
        anchored = "/" in pattern.rstrip("/")
        segments = [part for part in pattern.strip("/").split("/") if part]
        collapsed = [
            s for i, s in enumerate(segments) if not (s == "**" and segments[i - 1 : i] == ["**"])
        ]
        lead = [] if anchored or collapsed[:1] == ["**"] else ["**"]
        tail = [] if collapsed[-1:] == ["**"] else ["**"]
        self.segments = tuple(lead + collapsed + tail)

    def matches(self, path: str) -> bool:
        """True when ``path`` (``/``-separated) matches."""
        names = [part for part in path.split("/") if part]
        pattern = self.segments
        # ahead[j]: the pattern from segment i on matches names[j:]; filled from the end.
        ahead = [False] * len(names) + [True]
        for segment in reversed(pattern):
            row = [False] * (len(names) + 1)
            for j in range(len(names), -1, -1):
                if segment == "**":
                    row[j] = ahead[j] or (j < len(names) and row[j + 1])
                else:
                    row[j] = j < len(names) and ahead[j + 1] and segment_matches(segment, names[j])
            ahead = row
        return ahead[0]


def segment_matches(pattern: str, name: str) -> bool:
    """``*`` (any run) and ``?`` (one character) within one name; greedy with one restart point."""
    if "*" not in pattern and "?" not in pattern:
        return pattern == name
    p = n = 0
    star, mark = -1, 0
    while n < len(name):
        if p < len(pattern) and pattern[p] in ("?", name[n]) and pattern[p] != "*":
            p, n = p + 1, n + 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark, p = p, n, p + 1
        elif star >= 0:
            mark += 1
            p, n = star + 1, mark
        else:
            return False
    return all(char == "*" for char in pattern[p:])


class PathFilter:
    """Decides whether a repository-relative path is skipped by the configured globs."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._globs = [Glob(pattern) for pattern in patterns if pattern.strip("/")]

    def __bool__(self) -> bool:
        return bool(self._globs)

    def skips(self, path: str | None) -> bool:
        """True when ``path`` matches a glob; inside an archive (``outer!/inner``) the glob
        may match the whole path (``!/`` counts as ``/``) or the path inside any archive."""
        if not path:
            return False
        parts = path.split("!/")
        names = ["/".join(parts[index:]).lstrip("/") for index in range(len(parts))]
        return any(glob.matches(name) for glob in self._globs for name in names)
