"""Baselines: the findings a team has already handled (revoked keys, test fixtures).

A baseline stores fingerprints, hints and paths, never tokens, so it can be
committed next to the code.  A finding whose fingerprint is in the baseline is
not reported again.
"""

from __future__ import annotations

import json
from pathlib import Path

from scanner.errors import ScanError
from scanner.findings import Finding

BASELINE_VERSION = 1


def write_baseline(path: Path, findings: list[Finding]) -> None:
    """Record every finding's fingerprint, sorted and de-duplicated."""
    entries = {f.fingerprint: {"hint": f.hint, "path": f.path} for f in findings}
    records = [{"fingerprint": key, **entries[key]} for key in sorted(entries)]
    document = {"version": BASELINE_VERSION, "findings": records}
    try:
        path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as error:
        raise ScanError(
            f"cannot write {path}: {error.strerror}", reason="unwritable_path"
        ) from None


def load_baseline(path: Path) -> frozenset[str]:
    """The fingerprints recorded in a baseline file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        records = document["findings"]
        return frozenset(str(record["fingerprint"]) for record in records)
    except OSError as error:
        raise ScanError(f"cannot read {path}: {error.strerror}", reason="bad_baseline") from None
    except (ValueError, KeyError, TypeError):
        raise ScanError(f"not a Keyward baseline file: {path}", reason="bad_baseline") from None


def new_findings(findings: list[Finding], baseline: frozenset[str]) -> list[Finding]:
    """The findings the baseline does not already account for."""
    return [finding for finding in findings if finding.fingerprint not in baseline]
