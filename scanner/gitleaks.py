"""``--format gitleaks``: the JSON array gitleaks writes with ``--report-format json --redact``.

The same keys in the same order, so a pipeline built for gitleaks (DefectDojo's importer,
jq scripts, dashboards) ingests Keyward's findings.  ``Secret`` is always ``REDACTED`` and
``Match`` the token's hint: no report carries the token.  Commit fields (author, e-mail,
date, message) come from one ``git log --no-walk`` over the commits with findings.
``Fingerprint`` is gitleaks' ``commit:file:rule:line`` (``file:rule:line`` without a commit).
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from keystore import tokens
from scanner.errors import ScanError
from scanner.findings import COMMIT_MESSAGE, RULE_ID, TAG_MESSAGE, Finding
from scanner.gitcmd import run_git

REDACTED = "REDACTED"
DESCRIPTION = "Keyward API token"
GIT_TIMEOUT = 30.0
_FIELD = "\x1f"
_RECORD = "\x1e"
# Anything shaped like a token, checksum or not, any prefix: a subject can hold a token.
_TOKEN_SHAPE = re.compile(tokens.candidate_regex())


def render_gitleaks(
    findings: list[Finding],
    *,
    root: Path | None = None,
    repo_path: Callable[[str | None], str | None] | None = None,
) -> str:
    """The report: a JSON array, one object per finding (``[]`` when clean)."""
    to_path = repo_path or (lambda path: path)
    commits = commit_details(root, {f.commit for f in findings if f.commit})
    records = [record(f, to_path(f.path), commits.get(f.commit or "")) for f in findings]
    return json.dumps(records, indent=1, ensure_ascii=False) + "\n"


def record(finding: Finding, path: str | None, commit: dict | None) -> dict:
    """One gitleaks finding; a message finding's File is empty, as in gitleaks."""
    commit = commit or {}
    in_message = finding.kind in (COMMIT_MESSAGE, TAG_MESSAGE)
    file = "" if in_message else (path if path is not None else finding.path or "")
    end_column = finding.column + len(finding.token) - 1
    place = f"{file}:{RULE_ID}:{finding.line}"
    return {
        "Description": DESCRIPTION,
        "StartLine": finding.line,
        "EndLine": finding.line,
        "StartColumn": finding.column,
        "EndColumn": end_column,
        "Match": finding.hint,
        "Secret": REDACTED,
        "File": file,
        "SymlinkFile": "",
        "Commit": finding.commit or "",
        "Entropy": round(entropy(finding.token), 6),
        "Author": commit.get("author", ""),
        "Email": commit.get("email", ""),
        "Date": commit.get("date", ""),
        "Message": commit.get("message", ""),
        "Tags": [finding.kind],
        "RuleID": RULE_ID,
        "Fingerprint": f"{finding.commit}:{place}" if finding.commit else place,
    }


def entropy(text: str) -> float:
    """Shannon entropy in bits per character (gitleaks' ``Entropy``)."""
    if not text:
        return 0.0
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def commit_details(root: Path | None, commits: set[str]) -> dict[str, dict]:
    """Author, e-mail, ISO date (UTC, as gitleaks) and subject of each commit; {} if unknown."""
    if root is None or not commits:
        return {}
    fields = _FIELD.join(("%H", "%an", "%ae", "%ad", "%s")) + _RECORD
    try:
        output = run_git(
            root,
            [
                "log",
                "--no-walk=unsorted",
                f"--format={fields}",
                "--date=iso-strict-local",
                "--stdin",
            ],
            stdin="\n".join(sorted(commits)).encode("ascii") + b"\n",
            env={"TZ": "UTC"},
            timeout=GIT_TIMEOUT,
        )
    except ScanError:
        return {}
    details = {}
    for chunk in output.decode("utf-8", errors="replace").split(_RECORD):
        parts = chunk.strip("\n").split(_FIELD)
        if len(parts) == 5:
            sha, author, email, date, subject = parts
            details[sha] = {
                "author": author,
                "email": email,
                "date": utc(date),
                "message": redact(subject),
            }
    return details


def utc(date: str) -> str:
    """``2024-05-01T10:00:00+00:00`` as gitleaks writes it: ``2024-05-01T10:00:00Z``."""
    return date[:-6] + "Z" if date.endswith("+00:00") else date


def redact(text: str) -> str:
    """``text`` with every token-shaped word replaced by ``REDACTED``."""
    return _TOKEN_SHAPE.sub(REDACTED, text)
