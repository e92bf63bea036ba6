"""Human and JSON output of findings: hints, digests and places, never tokens."""

from __future__ import annotations

import json

from scanner.findings import COMMIT_MESSAGE, TAG_MESSAGE, UNREACHABLE, Finding

JSON_VERSION = 1


def render_text(findings: list[Finding]) -> str:
    """One line per finding and a closing count, as a person reads them in a terminal."""
    lines = [describe(finding) for finding in findings]
    count = len(findings)
    if count:
        lines.append(f"{count} Keyward token{'s' if count != 1 else ''} found")
    else:
        lines.append("no Keyward tokens found")
    return "\n".join(lines) + "\n"


def describe(finding: Finding) -> str:
    """``place: Keyward token <hint> (commit <id>)`` for one finding."""
    if finding.kind in (COMMIT_MESSAGE, TAG_MESSAGE, UNREACHABLE):
        owner = finding.commit or finding.object_id or "?"
        label = "object" if finding.kind == UNREACHABLE else finding.kind.replace("_", " ")
        place = f"{label} {owner[:12]}:{finding.line}:{finding.column}"
    else:
        place = f"{finding.path or '-'}:{finding.line}:{finding.column}"
    where = f" (commit {finding.commit[:12]})" if finding.commit and finding.path else ""
    return f"{place}: Keyward token {finding.hint}{where} [{finding.kind}]"


def render_json(findings: list[Finding], *, stats: dict | None = None) -> str:
    """A versioned JSON document: findings as :meth:`Finding.to_dict` and scan statistics."""
    document = {
        "version": JSON_VERSION,
        "findings": [finding.to_dict() for finding in findings],
        "stats": stats or {},
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def summary_line(stats: dict, findings: int, seconds: float) -> str:
    """``keyward scan: history, 1,204 objects, 48.1 MB in 0.52 s, 2 findings (...)``."""
    parts = [str(stats.get("mode", "scan"))]
    for key in ("objects", "files", "entries"):
        if key in stats:
            parts.append(f"{stats[key]:,} {key}")
    if "bytes" in stats:
        parts.append(human_bytes(stats["bytes"]))
    line = f"keyward scan: {', '.join(parts)} in {seconds:.2f} s, {findings:,} "
    line += "finding" if findings == 1 else "findings"
    dropped = [
        f"{stats[key]:,} {key.replace('_', ' ')}" for key in SUMMARY_COUNTS if stats.get(key)
    ]
    return line + (f" ({', '.join(dropped)})" if dropped else "")


SUMMARY_COUNTS = ("baselined", "skipped_by_path", "skipped")


def human_bytes(count: int) -> str:
    """Bytes in B, KB, MB or GB (powers of 1000, as rates are usually given)."""
    for unit in ("B", "KB", "MB"):
        if count < 1000:
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"
