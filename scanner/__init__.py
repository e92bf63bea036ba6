"""Keyward's leak scanner: find Keyward tokens in bytes, files, trees and git history.

Imports no Flask and no Celery.  The service layer calls :func:`scan_repository`
(with the :class:`ScanState` of the previous run for an incremental scan) and
reads :class:`Finding` objects: hint, SHA-256, fingerprint and place; the token
itself is only on the object, in memory, for the HMAC digest.
"""

from scanner.baseline import load_baseline, new_findings, write_baseline
from scanner.errors import ScanError
from scanner.findings import Finding
from scanner.history import HistoryScan, ScanStats, scan_repository
from scanner.matcher import DEFAULT_PREFIXES, TokenMatcher
from scanner.remote import mirror
from scanner.staged import scan_staged
from scanner.state import ScanState, load_state, save_state
from scanner.tree import scan_bytes, scan_file, scan_tree

__all__ = [
    "DEFAULT_PREFIXES",
    "Finding",
    "HistoryScan",
    "ScanError",
    "ScanState",
    "ScanStats",
    "TokenMatcher",
    "load_baseline",
    "load_state",
    "mirror",
    "new_findings",
    "save_state",
    "scan_bytes",
    "scan_file",
    "scan_repository",
    "scan_staged",
    "scan_tree",
    "write_baseline",
]
