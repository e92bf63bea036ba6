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

import re
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import ScanError

CONFIG_NAME = ".keyward.toml"
PYPROJECT = "pyproject.toml"
KEYS = ("skip-paths", "baseline", "extra-prefixes")
MAX_CONFIG_BYTES = 1 << 20


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
        if candidate.is_file() and (not section or has_keyward_table(candidate)):
            return candidate
        if (directory / ".git").exists() or directory.parent == directory:
            return None
        directory = directory.parent


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
    values = dict(table)
    if "baseline" in table:
        if not isinstance(table["baseline"], str) or not table["baseline"]:
            raise ScanError(f"{path}: baseline must be a path", reason="bad_config")
        values["baseline_dir"] = path.parent
    return values


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A gitignore-like glob: ``*`` and ``?`` stay in one directory, ``**`` crosses them.

    A pattern without ``/`` matches a name at any depth; one with ``/`` is anchored at
    the root.  A pattern that matches a directory covers everything below it.
    """
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    parts = []
    index = 0
    while index < len(body):
        if body.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif body.startswith("**", index):
            parts.append(".*")
            index += 2
        else:
            char = body[index]
            parts.append({"*": "[^/]*", "?": "[^/]"}.get(char, re.escape(char)))
            index += 1
    lead = "" if anchored else "(?:.*/)?"
    return re.compile(f"{lead}{''.join(parts)}(?:/.*)?", re.DOTALL)


class PathFilter:
    """Decides whether a repository-relative path is skipped by the configured globs."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._regexes = [glob_regex(pattern) for pattern in patterns if pattern.strip("/")]

    def __bool__(self) -> bool:
        return bool(self._regexes)

    def skips(self, path: str | None) -> bool:
        """True when ``path`` matches a glob; inside an archive (``outer!/inner``) the glob
        may match the whole path (``!/`` counts as ``/``) or the path inside any archive."""
        if not path:
            return False
        parts = path.split("!/")
        names = ["/".join(parts[index:]).lstrip("/") for index in range(len(parts))]
        return any(regex.fullmatch(name) for regex in self._regexes for name in names)
