"""SARIF 2.1.0 output that GitHub code scanning accepts.

One rule (``keyward-token``).  Every file URI is relative to the repository's top level
(``uriBaseId`` ``%SRCROOT%``) whatever was scanned: a file given by absolute path, a
subdirectory, a history.  A token in a commit or tag message has no file: its location is a
logical one (the commit), never a made-up path.  ``partialFingerprints`` hash the token's
SHA-256 with that place, so a rescan, or a scan from another directory, matches the
same alert; ``versionControlProvenance`` names the repository, commit and branch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from scanner.findings import COMMIT_MESSAGE, RULE_ID, TAG_MESSAGE, Finding
from scanner.provenance import provenance

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
TOOL_NAME = "keyward"
TOOL_VERSION = "0.1.0"
FINGERPRINT_KEY = "keywardFingerprint/v1"

RULE = {
    "id": RULE_ID,
    "name": "KeywardApiToken",
    "shortDescription": {"text": "Keyward API token"},
    "fullDescription": {
        "text": "A Keyward API token with a valid checksum is committed to the repository."
    },
    "help": {
        "text": "Revoke or regenerate the key in Keyward, then remove the token from the code "
        "and its history.",
    },
    "defaultConfiguration": {"level": "error"},
    "properties": {"tags": ["security", "secret"], "security-severity": "9.0"},
}


SRCROOT = "%SRCROOT%"
PathMap = Callable[[str | None], str | None]


def render_sarif(
    findings: list[Finding], *, root: Path | None = None, repo_path: PathMap | None = None
) -> str:
    """The SARIF log as indented JSON."""
    log = sarif_log(findings, root=root, repo_path=repo_path or (lambda path: path))
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"


def sarif_log(findings: list[Finding], *, root: Path | None, repo_path: PathMap) -> dict:
    """The SARIF log as a dict: one run, one rule, one result per finding."""
    run = {
        "tool": {"driver": {"name": TOOL_NAME, "version": TOOL_VERSION, "rules": [RULE]}},
        "columnKind": "unicodeCodePoints",
        "results": [sarif_result(finding, repo_path(finding.path)) for finding in findings],
    }
    if root is not None:
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root.resolve().as_uri() + "/"}}
        origin = provenance(root)
        if origin is not None:
            run["versionControlProvenance"] = [vcs_entry(origin)]
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def vcs_entry(origin) -> dict:
    """A ``versionControlDetails`` object; revision and branch only when git knows them."""
    entry = {"repositoryUri": origin.repository_uri, "mappedTo": {"uriBaseId": SRCROOT}}
    if origin.revision:
        entry["revisionId"] = origin.revision
    if origin.branch:
        entry["branch"] = origin.branch
    return entry


def sarif_result(finding: Finding, path: str | None) -> dict:
    """One result: rule, level, message, location, fingerprint and properties."""
    properties = {"kind": finding.kind, "hint": finding.hint, "sha256": finding.sha256}
    if finding.commit:
        properties["commit"] = finding.commit
    if path is None:
        properties.update(line=finding.line, column=finding.column)
    return {
        "ruleId": RULE_ID,
        "ruleIndex": 0,
        "level": "error",
        "message": {"text": f"Keyward API token {finding.hint} ({finding.kind})."},
        "locations": [location(finding, path)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding, path)},
        "properties": properties,
    }


def location(finding: Finding, path: str | None) -> dict:
    """A file and region below %SRCROOT%, or the commit, tag or object as a logical location."""
    if path is not None:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": quote(path.lstrip("/")), "uriBaseId": SRCROOT},
                "region": {"startLine": finding.line, "startColumn": finding.column},
            }
        }
    name, kind = logical_place(finding)
    return {
        "logicalLocations": [{"name": name, "fullyQualifiedName": f"{kind}:{name}", "kind": kind}]
    }


def logical_place(finding: Finding) -> tuple[str, str]:
    """(name, kind) of a place that is not a file: a commit, a tag, an object, or stdin."""
    if finding.kind == COMMIT_MESSAGE:
        return finding.commit or finding.object_id or "unknown", "commit"
    if finding.kind == TAG_MESSAGE:
        return finding.object_id or finding.commit or "unknown", "tag"
    if finding.object_id:
        return finding.object_id, "object"
    return finding.path or "-", "stream"


def fingerprint(finding: Finding, path: str | None) -> str:
    """The finding's own fingerprint when the path is unchanged; else over the repo path."""
    if path == finding.path:
        return finding.fingerprint
    place = path if path is not None else ":".join(logical_place(finding))
    material = f"keyward-fp-v1\0{finding.sha256}\0{place}"
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
