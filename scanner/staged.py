"""Scan what is staged for the next commit: the lines the commit would add.

Only added lines count, so a file that already held a (baselined or revoked)
token does not block every later commit that touches it.  ``--text`` makes git
show binary files as lines too: a token in a binary file is still a leak.
"""

from __future__ import annotations

import re
from pathlib import Path

from scanner.findings import STAGED, Finding, make_finding, sort_key
from scanner.gitcmd import run_git
from scanner.matcher import TokenMatcher, line_and_column

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
_DIFF_ARGS = [
    "diff",
    "--cached",
    "--no-color",
    "--no-ext-diff",
    "--no-renames",
    "--text",
    "--unified=0",
    "--diff-filter=ACMRT",
]


def scan_staged(repo: Path | str, *, matcher: TokenMatcher) -> list[Finding]:
    """Findings in the lines that ``git diff --cached`` adds, with their new line numbers."""
    diff = run_git(repo, _DIFF_ARGS)
    findings = []
    for path, line_number, text in added_lines(diff):
        for offset, token in matcher.matches(text):
            _, column = line_and_column(text, offset)
            findings.append(
                make_finding(token, kind=STAGED, path=path, line=line_number, column=column)
            )
    return sorted(findings, key=sort_key)


def added_lines(diff: bytes):
    """Yield ``(path, line number, line bytes)`` for every added line of a unified diff."""
    path = None
    line_number = 0
    for line in diff.split(b"\n"):
        if line.startswith(b"+++ "):
            path = _new_path(line[4:])
        elif line.startswith(b"@@"):
            hunk = _HUNK.match(line)
            line_number = int(hunk.group(1)) if hunk else 0
        elif line.startswith(b"+") and path is not None:
            yield path, line_number, line[1:]
            line_number += 1


def _new_path(name: bytes) -> str | None:
    """``b/dir/file`` to ``dir/file``; git quotes names with special characters."""
    text = name.decode("utf-8", errors="replace").rstrip("\t")
    if text.startswith('"') and text.endswith('"'):
        text = text[1:-1].encode("latin-1", errors="replace").decode("unicode_escape")
    if text == "/dev/null":
        return None
    return text[2:] if text.startswith("b/") else text
