"""What a repository scan has already seen: the ref tips, saved as JSON between runs.

A later scan reads only ``rev-list --objects <new tips> --not <old tips>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import ScanError
from scanner.gitcmd import run_git

STATE_VERSION = 1


@dataclass(frozen=True)
class ScanState:
    """The tips (ref name to object id) a scan covered."""

    refs: dict[str, str] = field(default_factory=dict)

    def tips(self) -> list[str]:
        """The distinct object ids, sorted (for a stable rev-list input)."""
        return sorted(set(self.refs.values()))

    def to_json(self) -> str:
        """The versioned JSON document saved between runs."""
        return json.dumps({"version": STATE_VERSION, "refs": self.refs}, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ScanState:
        """Parse a saved state; a ScanError with reason ``bad_state`` if it is not one."""
        try:
            data = json.loads(text)
            refs = data["refs"]
        except (ValueError, KeyError, TypeError) as error:
            raise ScanError("the scan state file is not valid", reason="bad_state") from error
        if data.get("version") != STATE_VERSION or not isinstance(refs, dict):
            raise ScanError("the scan state file has an unknown version", reason="bad_state")
        return cls(refs={str(name): str(tip) for name, tip in refs.items()})


def load_state(path: Path) -> ScanState | None:
    """The saved state, or None when the file does not exist yet (first scan)."""
    try:
        return ScanState.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ScanError(f"cannot read {path}: {error.strerror}", reason="unreadable_path") from None


def save_state(path: Path, state: ScanState) -> None:
    """Write the state atomically (a crash leaves the old file, never half a file)."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(state.to_json() + "\n", encoding="utf-8")
    partial.replace(path)


def current_state(repo: Path | str) -> ScanState:
    """Every ref and HEAD of the repository as it is now."""
    output = run_git(repo, ["for-each-ref", "--format=%(objectname) %(refname)"])
    refs = dict(reversed(line.split(" ", 1)) for line in output.decode().splitlines())
    head = run_git(repo, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], ok_codes=(0, 1))
    if head.strip():
        refs["HEAD"] = head.decode().strip()
    return ScanState(refs=refs)


def present_tips(repo: Path | str, tips: list[str]) -> list[str]:
    """The old tips still in the object store (a force-push and gc can remove one)."""
    if not tips:
        return []
    output = run_git(
        repo, ["cat-file", "--batch-check=%(objectname)"], stdin=("\n".join(tips) + "\n").encode()
    )
    return [line for line in output.decode().splitlines() if not line.endswith(" missing")]
