"""The scanner's one error class: a short ``reason`` code and a one-line message.

Messages name paths, revisions and hints, never a token.
"""

from __future__ import annotations

from keystore.errors import KeywardError


class ScanError(KeywardError):
    """A scan could not run: bad input, a failed git command, an unreadable file."""

    error = "scan_failed"
    status = 500
