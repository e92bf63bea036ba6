"""SARIF 2.1.0 output that GitHub code scanning accepts.

One rule (``keyward-token``); each result has a physical location (artifact URI,
start line and column), a message with the hint, and ``partialFingerprints`` so
code scanning tracks a finding across runs.  Commit-message findings have no file:
they point at a pseudo artifact and carry the commit as a logical location.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from scanner.findings import COMMIT_MESSAGE, RULE_ID, TAG_MESSAGE, Finding

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


def render_sarif(findings: list[Finding]) -> str:
    """The SARIF log as indented JSON."""
    return json.dumps(sarif_log(findings), indent=2, ensure_ascii=False) + "\n"


def sarif_log(findings: list[Finding]) -> dict:
    """The SARIF log as a dict: one run, one rule, one result per finding."""
    run = {
        "tool": {"driver": {"name": TOOL_NAME, "version": TOOL_VERSION, "rules": [RULE]}},
        "columnKind": "unicodeCodePoints",
        "results": [sarif_result(finding) for finding in findings],
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def sarif_result(finding: Finding) -> dict:
    """One result: rule, level, message, location, fingerprint and properties."""
    location = {
        "physicalLocation": {
            "artifactLocation": {"uri": artifact_uri(finding)},
            "region": {"startLine": finding.line, "startColumn": finding.column},
        }
    }
    if finding.kind in (COMMIT_MESSAGE, TAG_MESSAGE):
        location["logicalLocations"] = [{"name": finding.commit or finding.object_id}]
    properties = {"kind": finding.kind, "hint": finding.hint, "sha256": finding.sha256}
    if finding.commit:
        properties["commit"] = finding.commit
    return {
        "ruleId": RULE_ID,
        "ruleIndex": 0,
        "level": "error",
        "message": {"text": f"Keyward API token {finding.hint} ({finding.kind})."},
        "locations": [location],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": properties,
    }


def artifact_uri(finding: Finding) -> str:
    """The file as a relative, percent-encoded URI; a pseudo path for messages."""
    if finding.path:
        return quote(finding.path.lstrip("/"))
    return f"{finding.kind}/{finding.commit or finding.object_id or 'unknown'}"
