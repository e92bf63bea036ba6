"""What a scan reports: a :class:`Finding` per token occurrence, never the token in output.

The token stays on the object (the service computes its HMAC digest in memory) but
is left out of ``repr``, equality and :meth:`Finding.to_dict`, so logs, JSON, SARIF
and baselines carry only the hint, the plain SHA-256 and the location.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from keystore import tokens

# Kinds of place a token was found in.
FILE = "file"
BLOB = "blob"
COMMIT_MESSAGE = "commit_message"
TAG_MESSAGE = "tag_message"
STAGED = "staged"
STDIN = "stdin"
UNREACHABLE = "unreachable"
ARCHIVE = "archive"  # a member of a zip, tar, wheel, image...: path is "outer!/inner"

RULE_ID = "keyward-token"


@dataclass(frozen=True, slots=True)
class Finding:
    """One valid token (checksum checked) at one place."""

    token: str = field(repr=False, compare=False)
    hint: str
    sha256: str
    kind: str
    path: str | None
    line: int
    column: int
    commit: str | None = None
    object_id: str | None = None

    @property
    def fingerprint(self) -> str:
        """Stable across line moves and commits: the same token in the same file."""
        material = f"keyward-fp-v1\0{self.sha256}\0{self.path or ''}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]

    def to_dict(self) -> dict:
        """The serialisable record: everything but the token."""
        return {
            "hint": self.hint,
            "sha256": self.sha256,
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "commit": self.commit,
            "object_id": self.object_id,
        }


def make_finding(token: str, *, kind: str, path: str | None, line: int, column: int, **where):
    """Build a finding from a token whose checksum has already been checked."""
    return Finding(
        token=token,
        hint=tokens.hint_of(token),
        sha256=tokens.github_token_hash(token),
        kind=kind,
        path=path,
        line=line,
        column=column,
        **where,
    )


def sort_key(finding: Finding) -> tuple:
    """Deterministic output order: by path, then line and column, then commit."""
    return (finding.path or "", finding.line, finding.column, finding.commit or "", finding.kind)
